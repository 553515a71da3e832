"""The learned exit rule: shipped weights load once and give probabilities."""

from __future__ import annotations

import pytest

from policies.convergence.features import FEATURE_NAMES
from policies.convergence.rule import ExitRule, Tree, default_rule


def test_shipped_rule_loads_once_and_scores_in_unit_interval() -> None:
    rule = default_rule()
    assert rule is default_rule()
    assert rule.names == FEATURE_NAMES and 0.5 <= rule.threshold <= 1.0
    p = rule.probability([0.0] * len(FEATURE_NAMES))
    assert 0.0 < p < 1.0


def test_rule_round_trips_and_refuses_other_feature_sets() -> None:
    rule = default_rule()
    assert ExitRule.from_dict(rule.to_dict()) == rule
    data = rule.to_dict()
    data["names"] = data["names"][:-1]
    with pytest.raises(ValueError, match="refit"):
        ExitRule.from_dict(data)


def test_weights_move_the_probability_their_way() -> None:
    n = len(FEATURE_NAMES)
    rule = ExitRule(FEATURE_NAMES, (0.0,) * n, (1.0,) * n, (1.0,) + (0.0,) * (n - 1), 0.0, 0.9)
    assert rule.probability([3.0] + [0.0] * (n - 1)) > 0.9 > rule.probability([0.0] * n)
    assert ExitRule.never().probability([5.0] * n) < ExitRule.never().threshold


def test_trees_add_to_the_log_odds_and_round_trip() -> None:
    n = len(FEATURE_NAMES)
    # One split on feature 0: x0 <= 0.5 -> -2, else +2.
    tree = Tree((0, -1, -1), (0.5, 0.0, 0.0), (1, -1, -1), (2, -1, -1), (0.0, -2.0, 2.0))
    rule = ExitRule(FEATURE_NAMES, (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0, 0.5, trees=(tree,))
    assert rule.probability([1.0] + [0.0] * (n - 1)) > 0.85
    assert rule.probability([0.0] * n) < 0.15
    assert ExitRule.from_dict(rule.to_dict()) == rule
    bad = Tree((n, -1, -1), (0.5, 0.0, 0.0), (1, -1, -1), (2, -1, -1), (0.0, -2.0, 2.0))
    with pytest.raises(ValueError, match="features"):
        ExitRule(FEATURE_NAMES, (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0, 0.5, trees=(bad,))


def test_model_thresholds_fall_back_to_the_shared_one() -> None:
    n = len(FEATURE_NAMES)
    rule = ExitRule(
        FEATURE_NAMES, (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0, 0.9, model_thresholds=(("m", 0.8),)
    )
    assert rule.threshold_for("m") == 0.8 and rule.threshold_for("other") == 0.9
    assert ExitRule.from_dict(rule.to_dict()) == rule


def test_scoring_a_checkpoints_rows_at_once_gives_the_same_numbers_bit_for_bit() -> None:
    # The watcher scores every option of a checkpoint in one call; decisions, calibration and
    # fitting all read `probability`, so the batch must agree exactly, not approximately.
    import random

    rng = random.Random(7)
    n = len(FEATURE_NAMES)
    rows = [[rng.choice((0.0, 1.0, rng.uniform(-1, 12))) for _ in range(n)] for _ in range(300)]
    for rule in (default_rule(), ExitRule.never()):
        for size in (1, 2, 8):
            for start in range(0, len(rows), size):
                batch = rows[start : start + size]
                assert rule.probabilities(batch) == [rule.probability(r) for r in batch]
    assert default_rule().probabilities([]) == []
