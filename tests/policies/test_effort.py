"""The client's explicit effort against the profile's: keep, cap, override."""

from __future__ import annotations

import pytest

from policies.effort import EFFORT_LEVELS, client_effort, effort_level, resolve_effort

THINK = {"thinking": {"type": "enabled", "budget_tokens": 8000}}
QWEN_OFF = {"extra_body": {"chat_template_kwargs": {"enable_thinking": False}}}


def level(name: str) -> int:
    return EFFORT_LEVELS.index(name)


def test_client_effort_finds_every_dialect_and_nothing_else() -> None:
    body = {
        "model": "m",
        "temperature": 0.2,
        "reasoning_effort": "low",
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "chat_template_kwargs": {"enable_thinking": True, "other": 1},
        "reasoning": {"effort": "high"},
    }
    assert client_effort(body) == {
        "reasoning_effort": "low",
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "chat_template_kwargs": {"enable_thinking": True},
        "reasoning": {"effort": "high"},
    }
    assert client_effort({"chat_template_kwargs": {"other": 1}}) == {}


@pytest.mark.parametrize(
    ("controls", "expected"),
    [
        ({"reasoning_effort": "medium"}, "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": 4096}}, "high"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1500}}, "low"),
        ({"thinking": {"type": "disabled"}}, "none"),
        ({"chat_template_kwargs": {"enable_thinking": False}}, "none"),
        ({"chat_template_kwargs": {"enable_thinking": True}}, "high"),
        ({"reasoning": {"max_tokens": 2048}}, "medium"),
        ({"reasoning_effort": "high", "thinking": {"type": "disabled"}}, "none"),
    ],
)
def test_levels_share_one_scale(controls: dict[str, object], expected: str) -> None:
    assert effort_level(controls) == level(expected)


def test_override_sends_the_profile_controls() -> None:
    out = resolve_effort("override", {"reasoning_effort": "low"}, THINK)
    assert out.honoured == "profile" and out.sent == THINK
    assert out.record() == {
        "mode": "override",
        "client": {"reasoning_effort": "low"},
        "honoured": "profile",
        "sent": THINK,
    }


def test_keep_sends_the_client_controls() -> None:
    out = resolve_effort("keep", {"reasoning_effort": "high"}, QWEN_OFF)
    assert out.honoured == "client" and out.sent == {"reasoning_effort": "high"}


def test_cap_takes_the_lower_of_the_two() -> None:
    lower = resolve_effort("cap", {"reasoning_effort": "low"}, THINK)
    assert lower.honoured == "client" and lower.sent == {"reasoning_effort": "low"}
    higher = resolve_effort("cap", {"reasoning_effort": "max"}, QWEN_OFF)
    assert higher.honoured == "profile"
    assert higher.sent == {"chat_template_kwargs": {"enable_thinking": False}}


def test_nothing_asked_is_nothing_recorded() -> None:
    out = resolve_effort("keep", {}, THINK)
    assert out.honoured == "profile" and out.record() is None
    with pytest.raises(ValueError, match="effort mode"):
        resolve_effort("sometimes", {}, {})
