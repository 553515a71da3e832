"""A client's explicit reasoning effort against the routed profile's: keep, cap or override.

Clients say how hard a model should think in several ways: `reasoning_effort` (OpenAI),
`thinking: {type, budget_tokens}` (Anthropic), `chat_template_kwargs.enable_thinking` (Qwen3 on
vLLM/SGLang) and `reasoning: {effort | max_tokens}` (OpenRouter). Profiles carry their own in
`params`. `resolve_effort` decides which controls go upstream:

- `override` (the default): the routed profile's controls; the client's are dropped.
- `keep`: the client's controls; the profile's that say the same thing are dropped.
- `cap`: whichever of the two asks for less thinking, compared on one ordinal scale.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "EffortMode",
    "EFFORT_MODES",
    "EFFORT_LEVELS",
    "EFFORT_KEYS",
    "EffortResolution",
    "client_effort",
    "effort_level",
    "resolve_effort",
]

EffortMode = Literal["override", "keep", "cap"]
EFFORT_MODES: tuple[str, ...] = ("override", "keep", "cap")
# OpenAI's reasoning_effort values, least to most thinking.
EFFORT_LEVELS: tuple[str, ...] = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
# Top-level request keys that carry an effort control.
EFFORT_KEYS: tuple[str, ...] = ("reasoning_effort", "thinking", "chat_template_kwargs", "reasoning")
# Thinking budgets litellm maps reasoning_effort onto (its DEFAULT_REASONING_EFFORT_*_BUDGET):
# a budget reaches the level whose default it meets.
_BUDGETS: tuple[tuple[int, str], ...] = (
    (16384, "max"),
    (8192, "xhigh"),
    (4096, "high"),
    (2048, "medium"),
    (1024, "low"),
    (1, "minimal"),
)


def _budget_level(tokens: Any) -> int | None:
    if isinstance(tokens, bool) or not isinstance(tokens, int | float):
        return None
    for floor, name in _BUDGETS:
        if tokens >= floor:
            return EFFORT_LEVELS.index(name)
    return 0


def client_effort(body: Mapping[str, Any]) -> dict[str, Any]:
    """The effort controls a request body carries (only the keys that say something)."""
    found: dict[str, Any] = {}
    for key in ("reasoning_effort", "thinking", "reasoning"):
        if body.get(key) is not None:
            found[key] = body[key]
    kwargs = body.get("chat_template_kwargs")
    if isinstance(kwargs, Mapping) and "enable_thinking" in kwargs:
        found["chat_template_kwargs"] = {"enable_thinking": kwargs["enable_thinking"]}
    return found


def _controls(params: Mapping[str, Any]) -> dict[str, Any]:
    # A profile's controls may sit under extra_body (litellm's passthrough for vLLM).
    found = client_effort(params)
    extra = params.get("extra_body")
    if isinstance(extra, Mapping):
        found = {**client_effort(extra), **found}
    return found


def effort_level(controls: Mapping[str, Any]) -> int | None:
    """The least thinking any of these controls allows, as an index into EFFORT_LEVELS."""
    levels: list[int] = []
    effort = controls.get("reasoning_effort")
    if isinstance(effort, str) and effort in EFFORT_LEVELS:
        levels.append(EFFORT_LEVELS.index(effort))
    thinking = controls.get("thinking")
    if isinstance(thinking, Mapping):
        if thinking.get("type") == "disabled":
            levels.append(0)
        elif "budget_tokens" in thinking:
            level = _budget_level(thinking["budget_tokens"])
            if level is not None:
                levels.append(level)
        elif thinking.get("type") in ("enabled", "adaptive"):
            levels.append(EFFORT_LEVELS.index("high"))
    kwargs = controls.get("chat_template_kwargs")
    if isinstance(kwargs, Mapping) and isinstance(kwargs.get("enable_thinking"), bool):
        levels.append(EFFORT_LEVELS.index("high") if kwargs["enable_thinking"] else 0)
    reasoning = controls.get("reasoning")
    if isinstance(reasoning, Mapping):
        if reasoning.get("enabled") is False:
            levels.append(0)
        elif reasoning.get("effort") in EFFORT_LEVELS:
            levels.append(EFFORT_LEVELS.index(reasoning["effort"]))
        elif "max_tokens" in reasoning:
            level = _budget_level(reasoning["max_tokens"])
            if level is not None:
                levels.append(level)
    return min(levels) if levels else None


@dataclass(frozen=True)
class EffortResolution:
    """What goes upstream: the body's effort controls, and which side they came from."""

    mode: str
    client: dict[str, Any]
    profile: dict[str, Any]
    honoured: Literal["client", "profile", "none"]
    sent: dict[str, Any] = field(default_factory=dict)

    def record(self) -> dict[str, Any] | None:
        """The ledger's view (None when the client asked for nothing)."""
        if not self.client:
            return None
        return {
            "mode": self.mode,
            "client": self.client,
            "honoured": self.honoured,
            "sent": self.sent,
        }


def resolve_effort(
    mode: str, client: Mapping[str, Any], profile_params: Mapping[str, Any]
) -> EffortResolution:
    """Decide whose effort controls go upstream for this request."""
    if mode not in EFFORT_MODES:
        raise ValueError(f"effort mode must be one of {', '.join(EFFORT_MODES)}")
    mine, theirs = dict(client), _controls(profile_params)
    honoured: Literal["client", "profile", "none"] = "profile" if theirs else "none"
    if mine and mode == "keep":
        honoured = "client"
    elif mine and mode == "cap":
        wanted, routed = effort_level(mine), effort_level(theirs)
        # A profile with no control of its own has nothing to lower: the client's cap is sent.
        if wanted is not None and (routed is None or wanted < routed):
            honoured = "client"
    sent = mine if honoured == "client" else theirs
    return EffortResolution(mode, mine, theirs, honoured, dict(sent))
