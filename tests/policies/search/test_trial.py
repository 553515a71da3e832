from __future__ import annotations

import numpy as np

from policies.search.stopping import TOKEN_CONFIDENCE, Confidence
from policies.search.trial import StopRule, Trial, prepare, replay, run_rule


def _trial(answers: list[str | None], gold: str = "42", **extra: object) -> Trial:
    return prepare("t", answers, [100] * len(answers), gold, **extra)


def test_prepare_groups_equivalent_answers_and_marks_the_right_one() -> None:
    t = _trial(["42", "42.0", "7", None])
    assert t.keys.tolist() == [0, 0, 1, -1]
    assert t.correct.tolist() == [True, False, False]  # the trailing False is "no answer"


def test_two_agreeing_samples_stop_an_easy_search() -> None:
    t = _trial(["42"] * 16)
    assert run_rule(t, np.arange(16), StopRule(confidence=None)) == (0, 2)


def test_a_split_search_runs_to_its_cap() -> None:
    t = _trial(["1", "2"] * 8)
    key, n = run_rule(t, np.arange(16), StopRule(max_samples=10, confidence=None))
    assert n == 10 and key == 0


def test_one_long_sample_of_two_is_not_enough() -> None:
    # The same two agreeing answers, but the second is ten times the typical length.
    t = prepare("t", ["42"] * 4, [100, 1000, 100, 100], "42", typical_tokens=100.0)
    _, with_lengths = run_rule(t, np.arange(4), StopRule(confidence=TOKEN_CONFIDENCE))
    _, plain = run_rule(t, np.arange(4), StopRule(confidence=None))
    assert (plain, with_lengths) == (2, 3)


def test_best_of_n_returns_the_highest_scored_sample() -> None:
    scores = np.asarray([0.1, 0.2, 5.0, 0.3])
    t = _trial(["7", "7", "42", "7"], scores=scores)
    judge = Confidence(intercept=0.0, slope=1.0, curve=0.0, base_logit=1.0)
    rule = StopRule(threshold=2.0, max_samples=4, verifier=judge)
    assert run_rule(t, np.arange(4), rule)[0] == 0  # the majority: "7"
    assert run_rule(t, np.arange(4), StopRule(threshold=2.0, answer="best_of_n"))[0] == 1
    # The verifier weighs "42" at 3 (the cap) against 0.6 for the three "7"s.
    assert (
        run_rule(t, np.arange(4), StopRule(2.0, 4, verifier=judge, answer="weighted_vote"))[0] == 1
    )


def test_replay_shows_every_strategy_the_same_orders() -> None:
    trials = [_trial(["42", "7"] * 4), _trial(["42"] * 8)]

    def first(t: Trial, order: np.ndarray) -> tuple[int, int]:
        return int(t.keys[order[0]]), 1

    def last(t: Trial, order: np.ndarray) -> tuple[int, int]:
        return int(t.keys[order[-1]]), 8

    out = replay(trials, {"first": first, "last": last, "first again": first}, orders=40, seed=3)
    assert out["first"].per_trial == out["first again"].per_trial
    assert out["first"].per_trial[1] == 1.0 and out["last"].samples == 8.0
    assert out["first"].tokens == 100.0
    assert 0.0 < out["first"].accuracy < 1.0
