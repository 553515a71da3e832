"""The exploration share's pure choices: which requests, which alternative, which label."""

from __future__ import annotations

from policies.routing.exploration import (
    PairLabel,
    choose_alternative,
    exploration_draws,
    label_pair,
)


def test_draws_are_fixed_by_request_id_and_seed() -> None:
    assert exploration_draws("abc") == exploration_draws("abc")
    assert exploration_draws("abc") != exploration_draws("abd")
    assert exploration_draws("abc", seed=1) != exploration_draws("abc", seed=0)


def test_the_share_of_requests_explored_matches_the_setting() -> None:
    ids = [f"req-{i}" for i in range(20_000)]
    explored = [
        choose_alternative(0.02, exploration_draws(i), "direct", ["direct", "think"]) for i in ids
    ]
    share = sum(e is not None for e in explored) / len(ids)
    assert 0.017 < share < 0.023
    assert {e for e in explored if e is not None} == {"think"}


def test_share_zero_never_and_one_always_explores() -> None:
    for i in range(200):
        draws = exploration_draws(f"r{i}")
        assert choose_alternative(0.0, draws, "a", ["a", "b"]) is None
        assert choose_alternative(1.0, draws, "a", ["a", "b"]) == "b"


def test_the_alternative_is_another_profile_drawn_uniformly() -> None:
    names = ["think", "direct", "cot"]
    picks = [choose_alternative(1.0, exploration_draws(f"r{i}"), "cot", names) for i in range(3000)]
    assert set(picks) == {"direct", "think"}
    assert 0.45 < picks.count("direct") / len(picks) < 0.55
    assert choose_alternative(1.0, (0.0, 0.5), "only", ["only"]) is None


def test_agreeing_answers_label_both_good_without_a_judge() -> None:
    assert label_pair("\\frac{1}{2}", "0.5") == PairLabel(True, True, "agreement", True)


def test_disagreement_goes_to_the_judge_or_stays_unlabelled() -> None:
    assert label_pair("72", "70") == PairLabel(None, None, None, False)
    assert label_pair("72", "70", 9.0, 2.0) == PairLabel(True, False, "judge", False)
    assert label_pair(None, "70", 4.0, 6.0, judge_pass=5.0) == PairLabel(False, True, "judge", None)
    assert label_pair(None, None) == PairLabel(None, None, None, None)
