"""The learned exit rule: shipped weights load once and give probabilities."""

from __future__ import annotations

import pytest

from router.exit_features import FEATURE_NAMES
from router.exit_rule import ExitRule, default_rule


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
