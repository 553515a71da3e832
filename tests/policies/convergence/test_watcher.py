"""The convergence watcher: exits on a settled answer, never on doubt, never too early.

Most tests pin the streak rule's mechanics; the learned rule has its own at the end.
"""

from __future__ import annotations

import pytest

from policies.convergence.thinking import estimate_tokens
from policies.convergence.watcher import (
    REMAINING_PER_TOKEN,
    ConvergenceWatcher,
    ExitDecision,
    WatcherParams,
    estimated_tokens_saved,
    final_answer_text,
)

FILLER = "I add the numbers step by step and keep track of every partial sum carefully. "


def _stream(watcher: ConvergenceWatcher, text: str, size: int = 3) -> ExitDecision | None:
    """Feed text in small deltas (cutting words and numbers); return the first exit."""
    for start in range(0, len(text), size):
        decision = watcher.feed(text[start : start + size])
        if decision is not None:
            return decision
    return None


def _settled(answer: str = "540", repeats: int = 12) -> str:
    return (FILLER * 4) + f"So the answer is {answer}. " + (FILLER * repeats)


PARAMS = WatcherParams(rule="streak", k=2, interval_tokens=20, min_tokens=40, hesitation_window=20)


def test_exits_once_the_same_answer_holds_over_k_checkpoints() -> None:
    watcher = ConvergenceWatcher(PARAMS)
    decision = _stream(watcher, _settled())
    assert decision is not None
    assert decision.answer == "540"
    assert decision.checkpoint >= PARAMS.k
    assert decision.tokens_at_exit >= PARAMS.min_tokens
    assert watcher.decision == decision
    # Exit comes before the end: the rest of the stream is what is saved.
    assert decision.chars_at_exit < len(_settled())
    assert watcher.feed("more text") is None  # one decision only


def test_no_exit_without_a_stated_answer() -> None:
    watcher = ConvergenceWatcher(PARAMS)
    assert _stream(watcher, FILLER * 20) is None
    assert watcher.checkpoints > 5


def test_changing_answer_resets_agreement() -> None:
    text = (
        FILLER * 3
        + "So the answer is 12. "
        + FILLER[:60]
        + "So the answer is 13. "
        + FILLER[:60]
        + "So the answer is 14. "
        + FILLER[:60]
    )
    params = WatcherParams(
        rule="streak", k=3, interval_tokens=15, min_tokens=0, hesitation_window=0
    )
    assert _stream(ConvergenceWatcher(params), text) is None


def test_hesitation_after_the_answer_blocks_exit() -> None:
    doubt = "Wait, but maybe I misread the question, hmm, let me check the numbers again. "
    text = FILLER * 3 + "So the answer is 540. " + doubt * 15
    params = WatcherParams(
        rule="streak", k=2, interval_tokens=20, min_tokens=0, hesitation_window=30
    )
    assert _stream(ConvergenceWatcher(params), text) is None
    # With no hesitation window the same stream exits: the markers are what held it back.
    relaxed = WatcherParams(
        rule="streak", k=2, interval_tokens=20, min_tokens=0, hesitation_window=0
    )
    assert _stream(ConvergenceWatcher(relaxed), text) is not None


def test_doubt_resolved_by_restating_the_answer_does_not_block() -> None:
    step = "Wait, let me check: 9 times 60 is 540. So the answer is 540. "
    text = FILLER * 3 + step * 10
    params = WatcherParams(
        rule="streak", k=2, interval_tokens=20, min_tokens=0, hesitation_window=10
    )
    decision = _stream(ConvergenceWatcher(params), text, size=1)
    assert decision is not None and decision.answer == "540"


def test_never_exits_before_min_tokens() -> None:
    text = _settled(repeats=30)
    params = WatcherParams(
        rule="streak", k=2, interval_tokens=10, min_tokens=300, hesitation_window=0
    )
    decision = _stream(ConvergenceWatcher(params), text)
    assert decision is not None
    assert decision.tokens_at_exit >= 300
    early = _stream(
        ConvergenceWatcher(WatcherParams(rule="streak", k=2, interval_tokens=10, min_tokens=0)),
        text,
    )
    assert early is not None and early.tokens_at_exit < decision.tokens_at_exit


def test_answer_split_across_deltas_is_read_whole() -> None:
    # "54" then "0": a checkpoint between the two deltas must not take 54 as the answer.
    watcher = ConvergenceWatcher(WatcherParams(rule="streak", k=1, interval_tokens=1, min_tokens=0))
    assert watcher.feed(FILLER + "So the answer is 54") is None
    decision = watcher.feed("0. ")
    assert decision is not None and decision.answer == "540"


def test_boxed_answer_is_a_candidate_only_once_closed() -> None:
    watcher = ConvergenceWatcher(WatcherParams(rule="streak", k=1, interval_tokens=1, min_tokens=0))
    assert watcher.feed(FILLER + "Final: \\boxed{\\frac{1}") is None
    decision = watcher.feed("{2}} done")
    assert decision is not None and decision.answer == "\\frac{1}{2}"


def test_intermediate_equations_do_not_displace_a_stated_answer() -> None:
    text = FILLER * 2 + "So the answer is 42. Checking: 6 * 7 = 42. Also 2 + 3 = 5.\n" + FILLER * 6
    decision = _stream(ConvergenceWatcher(PARAMS), text)
    assert decision is not None and decision.answer == "42"


def test_caller_token_counts_drive_checkpoints() -> None:
    watcher = ConvergenceWatcher(
        WatcherParams(rule="streak", k=1, interval_tokens=100, min_tokens=0)
    )
    assert watcher.feed("So the answer is 7. ", tokens=50) is None
    assert watcher.checkpoints == 0
    assert watcher.feed("Fine.", tokens=50) is not None
    assert watcher.tokens == 100


def test_watcher_estimates_tokens_as_deltas_arrive() -> None:
    watcher = ConvergenceWatcher(WatcherParams(interval_tokens=10_000))
    for piece in ("hel", "lo wor", "ld 12", "3"):
        watcher.feed(piece)
    assert watcher.tokens == estimate_tokens("hello world 123")


def test_params_from_config() -> None:
    params = WatcherParams.from_config(
        {"enabled": True, "k": "3", "interval": 64, "min_tokens": 10, "markers": ["wait"]}
    )
    assert (params.k, params.interval_tokens, params.min_tokens) == (3, 64, 10)
    assert params.markers == ("wait",)
    assert WatcherParams.from_config(params.to_config()) == params
    assert WatcherParams.from_config(None) == WatcherParams()
    with pytest.raises(ValueError, match="unknown convergence setting"):
        WatcherParams.from_config({"patience": 3})
    with pytest.raises(ValueError):
        WatcherParams(rule="streak", k=0)
    with pytest.raises(ValueError):
        WatcherParams(kinds=("guess",))


def test_final_answer_text_boxes_the_candidate() -> None:
    decision = ExitDecision(answer="540", tokens_at_exit=10, checkpoint=2, reason="")
    assert final_answer_text(decision) == "The answer is $\\boxed{540}$."
    assert "\\boxed{\\frac{1}{2}}" in final_answer_text("\\frac{1}{2}")


def test_estimated_tokens_saved_prefers_the_expected_length() -> None:
    decision = ExitDecision(answer="1", tokens_at_exit=1000, checkpoint=3, reason="")
    assert estimated_tokens_saved(decision, expected_tokens=1800) == 800
    ratio = round(1000 * REMAINING_PER_TOKEN)
    assert estimated_tokens_saved(decision, expected_tokens=900) == ratio  # already past it
    assert estimated_tokens_saved(decision) == ratio


# The learned rule (the default): the shipped weights judge each stated value at every checkpoint.

CHECKED = (
    "Janet's ducks lay 16 eggs. She eats 3 and bakes with 4, so 16 - 3 - 4 = 9 eggs are left. "
    "She sells each egg for $2, so she makes 9 * 2 = $18.\nSo she makes $18 every day.\n\n"
    "Let me check again. 3 + 4 = 7, and 16 - 7 = 9. 9 * 2 = 18. Yes, that is correct. "
    "So the answer is 18.\n\nLet me verify once more: 16 - 3 = 13, 13 - 4 = 9, 9 * 2 = 18. "
    "Correct. So the answer is 18.\n\n" + FILLER * 20
)


def test_learned_rule_is_the_default_and_exits_on_a_checked_answer() -> None:
    assert WatcherParams().rule == "learned"
    watcher = ConvergenceWatcher(WatcherParams())
    decision = _stream(watcher, CHECKED)
    assert decision is not None and decision.answer == "18"
    assert decision.chars_at_exit < len(CHECKED)
    assert "confidence" in decision.reason


def test_learned_rule_does_not_exit_on_steps_or_without_an_answer() -> None:
    steps = "".join(f"Step {i}: {i} + {i} = {2 * i}. Hmm, wait, not sure yet. " for i in range(40))
    assert _stream(ConvergenceWatcher(WatcherParams()), steps) is None
    assert _stream(ConvergenceWatcher(WatcherParams()), FILLER * 20) is None


def test_learned_rule_threshold_from_config() -> None:
    params = WatcherParams.from_config({"rule": "learned", "confidence": "0.999999"})
    assert params.confidence == pytest.approx(0.999999)
    assert WatcherParams.from_config(params.to_config()) == params
    assert _stream(ConvergenceWatcher(params), CHECKED) is None  # nothing is that sure
    with pytest.raises(ValueError):
        WatcherParams(rule="vibes")
    with pytest.raises(ValueError):
        WatcherParams(confidence=1.5)


def test_a_stream_going_round_in_circles_is_stopped_when_configured() -> None:
    from policies.convergence.loops import LoopDetector

    circle = (
        "The question does not say how many apples were in the basket at the start. "
        "Without that number the total cannot be computed from what is given. "
        "Maybe the count was meant to be in the problem statement somewhere. "
    )
    text = FILLER * 5 + circle * 40
    params = WatcherParams(loop_action="abstain", loop_window=10, loop_min_tokens=100)
    decision = _stream(ConvergenceWatcher(params), text, size=7)
    assert decision is not None and decision.loop and "circles" in decision.reason
    assert decision.chars_at_exit < len(text) / 2
    # Off by default; fresh text never loops; a shadow watcher never stops.
    assert _stream(ConvergenceWatcher(WatcherParams()), text, size=7) is None
    assert _stream(ConvergenceWatcher(params, shadow=True), text, size=7) is None
    fresh = " ".join(
        f"Step {i}: I add {i} apples to the basket and count again." for i in range(300)
    )
    assert not LoopDetector(window=10, min_tokens=0).update(fresh, 10_000)
    with pytest.raises(ValueError):
        WatcherParams(loop_action="sometimes")
    assert WatcherParams.from_config({"loop_action": "answer", "loop_share": 0.3}).loop_share == 0.3
