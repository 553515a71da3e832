"""The history score: the exit rule's probability, sharpened by how the stream has held its answer.

At each checkpoint the learned rule (`policies.convergence.rule`) scores the leading candidate;
this adds to its log-odds a logistic correction over the stream so far: how many checkpoints the
candidate has led, how often the lead changed, its recent log-odds (lowest and mean of the last
six), the runner-up's, the share of the thinking since it first led, the length so far, and the
rule's answer-marker and verification features of the leader. Fitted on training-split traces by
`bench/fit_exit_history.py`; its weights ship as `exit_history.json`. It is what calibration
certifies a threshold on; pure and incremental (a few dozen float operations per checkpoint).
"""

from __future__ import annotations

import json
import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

from policies.convergence.features import FEATURE_NAMES
from policies.convergence.rule import squash, standardised_sum

__all__ = ["HISTORY_FILE", "HISTORY_NAMES", "HistoryScore", "StreamHistory", "default_history"]

# The rule's own features of the leader that the correction also reads.
_RULE_FEATURES = (
    "explicit",
    "any_explicit",
    "final_heading",
    "confirmed",
    "log_verify_after",
    "log_verify",
    "survived_check",
)
HISTORY_NAMES: tuple[str, ...] = (
    "log_led",  # log(1 + checkpoints in a row the candidate has led)
    "log_changes",  # log(1 + times the lead changed candidate)
    "log_led_high",  # log(1 + checkpoints in a row it has led at probability >= 0.9)
    "recent_min",  # lowest log-odds of the last six checkpoints it led
    "recent_mean",  # their mean
    "led_share",  # share of the thinking since it first led
    "runner_up",  # the runner-up candidate's log-odds (-10 when there is none)
    "log_tokens",  # log(tokens so far)
    *_RULE_FEATURES,
)
_RULE_INDEX = tuple(FEATURE_NAMES.index(name) for name in _RULE_FEATURES)
_RECENT = 6
_HIGH = 0.9
_FLOOR = -10.0


def log_odds(probability: float) -> float:
    """log(p / (1 - p)), p kept within 1e-9 of 0 and 1."""
    p = min(max(probability, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class HistoryScore:
    """Standardise the history features, weigh them, add to the rule's log-odds, squash."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    names: tuple[str, ...] = HISTORY_NAMES

    def __post_init__(self) -> None:
        if self.names != HISTORY_NAMES:
            raise ValueError("history weights do not match the history features; refit them")
        if not len(self.mean) == len(self.scale) == len(self.weights) == len(self.names):
            raise ValueError("history vectors differ in length")

    @classmethod
    def neutral(cls) -> HistoryScore:
        """A correction of zero: the rule's probability unchanged (for collecting features)."""
        n = len(HISTORY_NAMES)
        return cls((0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0)

    def probability(self, rule_log_odds: float, features: Sequence[float]) -> float:
        """P(the leader is the answer the full stream gives), from the rule's log-odds."""
        z = rule_log_odds + self.bias
        return squash(standardised_sum(z, features, self.mean, self.scale, self.weights))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryScore:
        """From `to_dict`'s form; fitting notes are ignored."""
        return cls(
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            weights=tuple(float(v) for v in data["weights"]),
            bias=float(data["bias"]),
            names=tuple(data["names"]),
        )

    def to_dict(self) -> dict[str, Any]:
        """As plain lists and numbers."""
        return {
            "names": list(self.names),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
        }


@dataclass
class StreamHistory:
    """One stream's leader history; `update` at each scored checkpoint returns its score."""

    score: HistoryScore
    led: int = 0
    led_high: int = 0
    changes: int = 0
    leader: str | None = None
    first_led: dict[str, int] = field(default_factory=dict)
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=_RECENT))
    last: tuple[float, tuple[float, ...]] = (0.0, ())  # (rule log-odds, features) of the latest

    def features(
        self,
        probability: float,
        runner_up: float | None,
        leader: str,
        tokens: int,
        rule_features: Sequence[float],
    ) -> tuple[float, ...]:
        """Advance the history by one checkpoint led by `leader`; its feature vector."""
        if leader != self.leader:
            self.changes += self.leader is not None
            self.led = self.led_high = 0
            self.recent.clear()
            self.leader = leader
        self.led += 1
        self.led_high = self.led_high + 1 if probability >= _HIGH else 0
        first = self.first_led.setdefault(leader, tokens)
        z = log_odds(probability)
        self.recent.append(z)
        second = _FLOOR if runner_up is None else max(log_odds(runner_up), _FLOOR)
        values = (
            math.log1p(self.led),
            math.log1p(self.changes),
            math.log1p(self.led_high),
            min(self.recent),
            sum(self.recent) / len(self.recent),
            (tokens - first) / max(tokens, 1),
            second,
            math.log(max(tokens, 1)),
            *(rule_features[i] for i in _RULE_INDEX),
        )
        self.last = (z, values)
        return values

    def update(
        self,
        probability: float,
        runner_up: float | None,
        leader: str,
        tokens: int,
        rule_features: Sequence[float],
    ) -> float:
        """Advance by one checkpoint; the history score of its leader."""
        values = self.features(probability, runner_up, leader, tokens, rule_features)
        return self.score.probability(self.last[0], values)


# The shipped weights' data file, a resource of this package.
HISTORY_FILE = "exit_history.json"


@cache
def default_history() -> HistoryScore:
    """The shipped history weights (`exit_history.json`), loaded once on first use."""
    text = files("policies.convergence").joinpath(HISTORY_FILE).read_text("utf-8")
    return HistoryScore.from_dict(json.loads(text))
