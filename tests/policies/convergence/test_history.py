"""The history score: its features follow the leader, its weights shift the rule's log-odds, and
a watcher certifies and exits on it only when calibrated."""

from __future__ import annotations

import math

import pytest

from policies.convergence.features import FEATURE_NAMES
from policies.convergence.history import (
    HISTORY_NAMES,
    HistoryScore,
    StreamHistory,
    default_history,
    log_odds,
)
from policies.convergence.watcher import ConvergenceWatcher, WatcherParams

RULE = [0.0] * len(FEATURE_NAMES)
SETTLING = (
    "Twelve boxes of fifteen cookies make 180 cookies; 108 are sold, so 72 are left. "
    + "Let me double-check: 180 minus 108 is 72. Yes, that checks out. So the answer is 72.\n\n"
    * 12
)


def _feed(watcher: ConvergenceWatcher, text: str) -> None:
    for start in range(0, len(text), 7):
        watcher.feed(text[start : start + 7])


def test_features_follow_the_leader() -> None:
    history = StreamHistory(HistoryScore.neutral())
    first = dict(zip(HISTORY_NAMES, history.features(0.95, None, "72", 100, RULE), strict=True))
    assert first["log_led"] == pytest.approx(math.log(2)) and first["log_changes"] == 0.0
    assert first["runner_up"] == -10.0 and first["led_share"] == 0.0
    history.features(0.5, 0.2, "72", 200, RULE)
    values = dict(zip(HISTORY_NAMES, history.features(0.99, 0.3, "72", 400, RULE), strict=True))
    assert values["log_led"] == pytest.approx(math.log(4))
    assert values["log_led_high"] == pytest.approx(math.log(2))  # 0.5 broke the high run
    assert values["recent_min"] == pytest.approx(log_odds(0.5))
    assert values["recent_mean"] == pytest.approx(
        (log_odds(0.95) + log_odds(0.5) + log_odds(0.99)) / 3
    )
    assert values["led_share"] == pytest.approx(300 / 400)
    assert values["runner_up"] == pytest.approx(log_odds(0.3))
    assert values["log_tokens"] == pytest.approx(math.log(400))
    changed = dict(zip(HISTORY_NAMES, history.features(0.9, 0.8, "60", 500, RULE), strict=True))
    assert changed["log_changes"] == pytest.approx(math.log(2))
    assert changed["log_led"] == pytest.approx(math.log(2)) and changed["led_share"] == 0.0


def test_weights_shift_the_rules_log_odds() -> None:
    assert HistoryScore.neutral().probability(log_odds(0.8), [1.0] * len(HISTORY_NAMES)) == (
        pytest.approx(0.8)
    )
    n = len(HISTORY_NAMES)
    weights = (0.5,) + (0.0,) * (n - 1)
    score = HistoryScore((1.0,) * n, (2.0,) * n, weights, -0.25)
    features = [5.0] + [0.0] * (n - 1)
    expected = 1 / (1 + math.exp(-(log_odds(0.8) - 0.25 + 0.5 * (5.0 - 1.0) / 2.0)))
    assert score.probability(log_odds(0.8), features) == pytest.approx(expected)


def test_shipped_weights_load_and_refuse_another_feature_set() -> None:
    shipped = default_history()
    assert shipped.names == HISTORY_NAMES and any(shipped.weights)
    assert HistoryScore.from_dict(shipped.to_dict()) == shipped
    with pytest.raises(ValueError, match="refit"):
        HistoryScore.from_dict({**shipped.to_dict(), "names": list(HISTORY_NAMES[:-1])})


def test_a_calibrated_watcher_scores_by_history_a_fixed_one_by_the_rule() -> None:
    rule = ConvergenceWatcher(WatcherParams(score="rule"), shadow=True)
    history = ConvergenceWatcher(WatcherParams(), shadow=True)
    neutral = ConvergenceWatcher(WatcherParams(), shadow=True, exit_history=HistoryScore.neutral())
    for watcher in (rule, history, neutral):
        _feed(watcher, SETTLING)
    assert rule.trail and rule.trail == neutral.trail  # a zero correction is the rule itself
    assert [s for s, _, _ in history.trail] != [s for s, _, _ in rule.trail]
    # A fixed confidence reads the rule's probability whatever the score.
    fixed, fixed_rule = (
        ConvergenceWatcher(WatcherParams(confidence=0.9)),
        ConvergenceWatcher(WatcherParams(score="rule", confidence=0.9)),
    )
    for watcher in (fixed, fixed_rule):
        _feed(watcher, SETTLING)
    assert fixed.decision is not None and fixed.decision == fixed_rule.decision


def test_the_score_names_its_calibration_key() -> None:
    assert WatcherParams().calibration_family("math") == "math/history"
    assert WatcherParams(score="rule").calibration_family("math") == "math"
    assert WatcherParams(rule="streak").calibration_family("math") == "math"
    assert WatcherParams.from_config({"score": "rule"}).score == "rule"
    with pytest.raises(ValueError, match="score"):
        WatcherParams(score="vibes")
