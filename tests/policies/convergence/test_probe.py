"""Probe mode's pure decisions: when to probe, what to send, how to read and judge the answers."""

from __future__ import annotations

import pytest

from policies.convergence.probe import (
    DEFAULT_SUFFIX,
    ProbeParams,
    ProbeTracker,
    chatml_prompt,
    probe_k,
    probe_score,
    read_probe,
)

MESSAGES = [("user", "What is 6 * 7?")]
WORDS = "Let me multiply six by seven step by step carefully now. "  # 10 pieces, ~10 tokens


def _tracker(**params: object) -> ProbeTracker:
    return ProbeTracker(ProbeParams(**params), chatml_prompt(MESSAGES, think_open="<think>\n"))  # type: ignore[arg-type]


def test_chatml_prompt_is_the_chat_as_the_model_saw_it() -> None:
    text = chatml_prompt(MESSAGES, system="You are helpful.", think_open="<think>\n")
    assert text == (
        "<|im_start|>system\nYou are helpful.<|im_end|>\n"
        "<|im_start|>user\nWhat is 6 * 7?<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n"
    )
    with_system = [("system", "Be brief."), *MESSAGES]
    assert "You are helpful." not in chatml_prompt(with_system, system="You are helpful.")


@pytest.mark.parametrize(
    ("completion", "answer", "hesitant"),
    [
        ("42}\n\nThe product is 42.", "42", False),
        ("\\frac{1}{2}} more text", "\\frac{1}{2}", False),
        ("42} Wait, let me recheck.", "42", True),
        ("42", None, False),  # the box was never closed: no answer
        ("hmm, I am not sure", None, True),
        ("}", None, False),
    ],
)
def test_read_probe(completion: str, answer: str | None, hesitant: bool) -> None:
    got, normalized, doubt = read_probe(completion, DEFAULT_SUFFIX)
    assert got == answer
    assert doubt is hesitant
    assert (normalized is None) is (answer is None)


def test_read_probe_without_an_opened_box_takes_the_stated_answer() -> None:
    got, normalized, _ = read_probe("So the answer is 12.", "\n\nFinal answer:")
    assert got == "12" and normalized == "12"


def test_probes_are_due_every_interval_after_the_minimum_one_at_a_time() -> None:
    tracker = _tracker(k=2, interval_tokens=20, min_tokens=30)
    tracker.feed(WORDS * 2)
    assert tracker.tokens < 30 and not tracker.due()
    tracker.feed(WORDS)
    assert tracker.due()
    first = tracker.start()
    assert first.prompt.endswith("<think>\n" + WORDS * 3 + DEFAULT_SUFFIX)
    assert first.prompt.startswith("<|im_start|>user\n")
    tracker.feed(WORDS * 5)
    assert not tracker.due()  # one probe in flight at a time
    assert tracker.finish("42}", completion_tokens=3, prompt_tokens=50) is None
    assert tracker.due()  # the interval has passed meanwhile
    second = tracker.start()
    assert second.tokens_at > first.tokens_at and second.index == 1
    assert not tracker.due()
    tracker.cancel()
    tracker.feed(WORDS)
    assert not tracker.due()  # the cancelled probe moved the schedule on all the same
    tracker.feed(WORDS * 2)
    assert tracker.due()


def _run(tracker: ProbeTracker, completions: list[str]) -> list[bool]:
    exits = []
    for completion in completions:
        tracker.feed(WORDS * 3)
        assert tracker.due()
        tracker.start()
        exits.append(tracker.finish(completion, completion_tokens=4, prompt_tokens=100) is not None)
    return exits


def test_exit_on_k_agreeing_calm_probes() -> None:
    tracker = _tracker(k=3, interval_tokens=20, min_tokens=0)
    assert _run(tracker, ["41}", "42}", "42}", "42}"]) == [False, False, False, True]
    decision = tracker.decision
    assert decision is not None and decision.answer == "42" and decision.checkpoint == 4
    assert decision.tokens_at_exit == tracker.tokens
    assert tracker.probe_tokens == 16 and tracker.probe_prompt_tokens == 400
    assert not tracker.due()  # decided: no more probes


def test_a_hesitant_or_empty_probe_breaks_the_streak() -> None:
    tracker = _tracker(k=2, interval_tokens=20, min_tokens=0)
    assert _run(tracker, ["42}", "42} but wait", "42}", "no box", "42}", "42}"]) == [
        False,
        False,
        False,
        False,
        False,
        True,
    ]


def test_a_shadow_tracker_never_exits_and_keeps_its_best_scores() -> None:
    tracker = ProbeTracker(ProbeParams(k=2, interval_tokens=20, min_tokens=0), "", shadow=True)
    assert _run(tracker, ["41}", "42}", "42}", "42} hmm", "42}", "42}", "42}"]) == [False] * 7
    assert tracker.decision is None
    # New bests only: 41 once (0.5), 42 twice (0.75); after the doubt, 42 three times (0.875).
    assert [(score, answer) for score, answer, _ in tracker.trail] == [
        (0.5, "41"),
        (0.75, "42"),
        (0.875, "42"),
    ]
    assert [t for _, _, t in tracker.trail] == sorted(t for _, _, t in tracker.trail)
    assert probe_score(3) == 0.875 and probe_k(0.875) == 3 and probe_k(0.88) == 4


def test_equivalent_answers_agree_through_the_normaliser() -> None:
    tracker = _tracker(k=2, interval_tokens=20, min_tokens=0)
    assert _run(tracker, ["0.5}", "\\frac{1}{2}}"]) == [False, True]


def test_params_are_checked() -> None:
    with pytest.raises(ValueError):
        ProbeParams(k=0)
    with pytest.raises(ValueError):
        ProbeParams(interval_tokens=0)
