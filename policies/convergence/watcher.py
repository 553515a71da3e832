"""The convergence watcher: decide, while a reasoning stream runs, that its answer has settled.

Pure: no I/O, no clock. The gateway feeds it streamed deltas; the trace replayer feeds it
recorded traces cut into token-sized pieces. Both get the same decisions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from policies.convergence.candidates import KINDS, Candidate, StatementScanner
from policies.convergence.features import Checkpoint, FeatureTracker
from policies.convergence.history import HistoryScore, StreamHistory, default_history
from policies.convergence.loops import LOOP_ACTIONS, LoopDetector
from policies.convergence.rule import ExitRule, default_rule
from policies.convergence.thinking import DEFAULT_MARKERS, TokenEstimate, hesitation_pattern

__all__ = [
    "RULES",
    "WatcherParams",
    "ExitDecision",
    "ConvergenceWatcher",
    "final_answer_text",
    "REMAINING_PER_TOKEN",
    "estimated_tokens_saved",
]

RULES: tuple[str, ...] = ("learned", "streak")
SCORES: tuple[str, ...] = ("history", "rule")


@dataclass(frozen=True)
class WatcherParams:
    """When to call a stream converged, checked every m tokens after a minimum of thinking.

    The learned rule scores every answer value stated so far; the streak rule wants k agreeing
    checkpoints of the `kinds` (strongest first) with no hesitation in the latest window.
    """

    # The learned rule checks every 25 tokens; its weights (a logistic regression blended with
    # boosted trees) and threshold were fitted on the tuning half of the QwQ-32B and s1.1
    # GSM8K/MATH traces (bench/fit_exit_rule.py), which also chose a threshold per model for
    # profiles to set as `confidence`. The streak rule's best setting there
    # (`bench/convergence.py --sweep`) was k=2, m=100.
    k: int = 2
    interval_tokens: int = 25
    min_tokens: int = 100
    hesitation_window: int = 50
    markers: tuple[str, ...] = DEFAULT_MARKERS
    kinds: tuple[str, ...] = ("boxed", "answer")
    # "learned": exit when the shipped exit rule (policies.convergence.rule) is confident enough
    # in the current candidate; "streak": exit on k agreeing checkpoints of the `kinds` above.
    rule: str = "learned"
    # The learned rule's probability threshold; None takes the one shipped with its weights.
    confidence: float | None = None
    # What a calibrated (or shadow) watcher certifies and exits on: "history", the rule's
    # probability sharpened by how the stream has held its leader (policies.convergence.history),
    # or "rule", the probability alone. A fixed `confidence` always reads the rule's.
    score: str = "history"
    # A stream going round in circles (policies.convergence.loops): "off", or stop it and
    # "answer" (from the thinking so far) or "abstain". Outside the changed-answer guarantee.
    loop_action: str = "off"
    loop_share: float = 0.5
    loop_window: int = 40
    loop_min_tokens: int = 3000

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}")
        if self.score not in SCORES:
            raise ValueError(f"score must be one of {', '.join(SCORES)}")
        if self.loop_action not in LOOP_ACTIONS:
            raise ValueError(f"loop_action must be one of {', '.join(LOOP_ACTIONS)}")
        if not 0.0 < self.loop_share <= 1.0 or self.loop_window < 1:
            raise ValueError("loop_share must lie in (0, 1] and loop_window be at least 1")
        if self.confidence is not None and not 0.0 <= self.confidence <= 1.0:
            raise ValueError("confidence must lie in [0, 1]")
        if self.k < 1:
            raise ValueError("k must be at least 1")
        if self.interval_tokens < 1:
            raise ValueError("interval_tokens must be at least 1")
        if self.min_tokens < 0 or self.hesitation_window < 0:
            raise ValueError("min_tokens and hesitation_window must be non-negative")
        unknown = [kind for kind in self.kinds if kind not in KINDS]
        if unknown or not self.kinds:
            raise ValueError(f"kinds must be a non-empty subset of {', '.join(KINDS)}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> WatcherParams:
        """Params from a profile's config dict; unknown keys are refused, missing ones default."""
        if not config:
            return cls()
        known = {f.name for f in fields(cls)}
        aliases = {"interval": "interval_tokens", "m": "interval_tokens"}
        values: dict[str, Any] = {}
        for key, value in config.items():
            name = aliases.get(key, key)
            if name in ("enabled", "calibration", "family"):
                continue  # read by the gateway's calibrator (policies.convergence.calibration)
            if name not in known:
                raise ValueError(f"unknown convergence setting '{key}'")
            if name in ("markers", "kinds"):
                if isinstance(value, str):
                    value = [value]
                values[name] = tuple(str(v) for v in value)
            elif name in ("rule", "loop_action", "score"):
                values[name] = str(value)
            elif name == "loop_share":
                values[name] = float(value)
            elif name == "confidence":
                values[name] = None if value is None else float(value)
            else:
                values[name] = int(value)
        return replace(cls(), **values)

    def calibration_family(self, family: str) -> str:
        """The calibration key's family for streams this watcher scores: a score other than
        the rule's keeps its own records (a threshold certified on one score means nothing on
        another)."""
        return (
            family if self.score == "rule" or self.rule != "learned" else f"{family}/{self.score}"
        )

    def to_config(self) -> dict[str, Any]:
        """The params as a plain dict (the inverse of `from_config`)."""
        return {
            "k": self.k,
            "interval_tokens": self.interval_tokens,
            "min_tokens": self.min_tokens,
            "hesitation_window": self.hesitation_window,
            "markers": list(self.markers),
            "kinds": list(self.kinds),
            "rule": self.rule,
            "confidence": self.confidence,
            "score": self.score,
            "loop_action": self.loop_action,
            "loop_share": self.loop_share,
            "loop_window": self.loop_window,
            "loop_min_tokens": self.loop_min_tokens,
        }


@dataclass(frozen=True)
class ExitDecision:
    """The watcher's verdict: stop here, with this answer."""

    answer: str
    tokens_at_exit: int
    checkpoint: int
    reason: str
    chars_at_exit: int = 0
    loop: bool = False  # stopped for going round in circles, not for a settled answer


@dataclass
class ConvergenceWatcher:
    """Feed reasoning deltas; the first time the answer has settled, `feed` returns the exit."""

    params: WatcherParams = field(default_factory=WatcherParams)
    tokens: int = field(default=0, init=False)
    checkpoints: int = field(default=0, init=False)
    decision: ExitDecision | None = field(default=None, init=False)
    # The learned rule's view of each checkpoint, kept only when asked (for fitting the rule).
    record: bool = field(default=False)
    # The learned rule to apply; None loads the shipped one.
    exit_rule: ExitRule | None = field(default=None)
    # A calibrated threshold (policies.convergence.calibration) in place of the params' one.
    threshold: float | None = field(default=None)
    # Shadow: never exit, only keep the trail (where each threshold would have exited).
    shadow: bool = field(default=False)
    checkpoints_seen: list[Checkpoint] = field(default_factory=list, init=False)
    # (score, candidate, tokens) at every checkpoint whose score beat all earlier ones.
    trail: list[tuple[float, str, int]] = field(default_factory=list, init=False)
    # The history score's weights; None loads the shipped ones.
    exit_history: HistoryScore | None = field(default=None)
    # With `record` and the history score: (rule log-odds, history features, leader) per checkpoint.
    history_seen: list[tuple[float, tuple[float, ...], str]] = field(
        default_factory=list, init=False
    )

    def __post_init__(self) -> None:
        self._parts: list[str] = []
        self._text = ""
        self._estimate = TokenEstimate()
        self._next_checkpoint = self.params.interval_tokens
        self._markers = hesitation_pattern(self.params.markers)
        self._streak = 0
        self._candidate: Candidate | None = None
        self._scanner = StatementScanner(self.params.kinds)
        self._loops: LoopDetector | None = None
        if self.params.loop_action != "off":
            p = self.params
            self._loops = LoopDetector(p.loop_share, p.loop_window, p.loop_min_tokens)
        self._tracker: FeatureTracker | None = None
        self._rule: ExitRule | None = None
        if self.params.rule == "learned":
            self._tracker = FeatureTracker(window_tokens=self.params.hesitation_window)
            self._rule = self.exit_rule or default_rule()
        self._history: StreamHistory | None = None
        # The history score needs a calibrated threshold: a fixed one is the rule's.
        calibrated = self.shadow or self.threshold is not None
        if self._tracker is not None and self.params.score == "history" and calibrated:
            self._history = StreamHistory(self.exit_history or default_history())

    @property
    def text(self) -> str:
        """All reasoning text fed so far."""
        if self._parts:
            self._text += "".join(self._parts)
            self._parts.clear()
        return self._text

    def feed(self, delta: str, tokens: int | None = None) -> ExitDecision | None:
        """Add reasoning text (its token count when the caller knows it); return the exit once."""
        if self.decision is not None or not delta:
            return None
        self._parts.append(delta)
        if tokens is None:
            self.tokens = self._estimate.feed(delta)
        else:
            self.tokens += tokens
        if self.tokens < self._next_checkpoint:
            return None
        while self._next_checkpoint <= self.tokens:
            self._next_checkpoint += self.params.interval_tokens
        return self._checkpoint()

    def _checkpoint(self) -> ExitDecision | None:
        if (
            self._loops is not None
            and not self.shadow
            and self._loops.update(self.text, self.tokens)
        ):
            return self._loop_exit()
        if self._tracker is not None:
            return self._learned_checkpoint()
        text = self.text
        self.checkpoints += 1
        candidate = self._scanner.latest(text)
        previous = self._candidate
        if candidate is None:
            self._streak = 0
        elif previous is not None and candidate.normalized == previous.normalized:
            self._streak += 1
        else:
            self._streak = 1
        self._candidate = candidate
        if candidate is None or self._streak < self.params.k or self.shadow:
            return None
        if self.tokens < self.params.min_tokens or self._hesitating(text, candidate):
            return None
        self.decision = ExitDecision(
            answer=candidate.text,
            tokens_at_exit=self.tokens,
            checkpoint=self.checkpoints,
            reason=(
                f"'{candidate.text}' held for {self._streak} checkpoints "
                f"{self.params.interval_tokens} tokens apart, no hesitation since"
            ),
            chars_at_exit=len(text),
        )
        return self.decision

    def _learned_checkpoint(self) -> ExitDecision | None:
        assert self._tracker is not None and self._rule is not None
        text = self.text
        self.checkpoints += 1
        seen = self._tracker.update(text, self.tokens)
        if self.record:
            self.checkpoints_seen.append(seen)
        probabilities = self._rule.probabilities([f for _, f in seen.options])
        scored = [(p, i) for i, p in enumerate(probabilities)]
        confidence, best = max(scored, key=lambda s: s[0], default=(0.0, -1))
        if best < 0 or self.tokens < self.params.min_tokens:
            return None
        candidate, features = seen.options[best]
        if self._history is not None:
            runner_up = max((p for p, i in scored if i != best), default=None)
            args = (confidence, runner_up, candidate.normalized, self.tokens, features)
            confidence = self._history.update(*args)
            if self.record:
                z, values = self._history.last
                self.history_seen.append((z, values, candidate.text))
        if not self.trail or confidence > self.trail[-1][0]:
            self.trail.append((confidence, candidate.text, self.tokens))
        if self.shadow or confidence < self.exit_threshold:
            return None
        self.decision = ExitDecision(
            answer=candidate.text,
            tokens_at_exit=self.tokens,
            checkpoint=self.checkpoints,
            reason=f"'{candidate.text}' judged settled (confidence {confidence:.2f})",
            chars_at_exit=len(text),
        )
        return self.decision

    def _loop_exit(self) -> ExitDecision:
        assert self._loops is not None
        text = self.text
        candidate = self._scanner.latest(text) if self._tracker is None else None
        if self._tracker is not None:
            options = self._tracker.update(text, self.tokens).options
            candidate = options[0][0] if options else None
        self.decision = ExitDecision(
            answer=candidate.text if candidate is not None else "",
            tokens_at_exit=self.tokens,
            checkpoint=self.checkpoints,
            reason=f"going round in circles ({self._loops.repeated_share:.0%} of the latest "
            "sentences restate earlier ones)",
            chars_at_exit=len(text),
            loop=True,
        )
        return self.decision

    @property
    def exit_threshold(self) -> float:
        """The learned rule's threshold in force: calibrated, else the params', else shipped."""
        if self.threshold is not None:
            return self.threshold
        if self.params.confidence is not None:
            return self.params.confidence
        return self._rule.threshold if self._rule is not None else 1.0

    def _hesitating(self, text: str, candidate: Candidate) -> bool:
        # Doubt voiced before the model restated its answer was resolved by that restatement;
        # only the latest window after the candidate's last statement counts.
        if self._markers is None:
            return False
        chars_per_token = len(text) / max(1, self.tokens)
        start = len(text) - int(self.params.hesitation_window * chars_per_token)
        window = text[max(start, candidate.end) :]
        return self._markers.search(window) is not None


def final_answer_text(decision: ExitDecision | str) -> str:
    """The visible answer sent to the client when thinking is cut: the converged candidate."""
    answer = decision.answer if isinstance(decision, ExitDecision) else decision
    answer = answer.strip()
    if answer.startswith("\\boxed"):
        return f"The answer is ${answer}$."
    return f"The answer is $\\boxed{{{answer}}}$."


# Streams the watcher cut (tuning half of the QwQ-32B/s1.1 traces, default learned rule) would
# have thought on for another 0.59 tokens per token they had at exit (0.22-0.74 across the sets).
REMAINING_PER_TOKEN = 0.59


def estimated_tokens_saved(decision: ExitDecision, expected_tokens: float | None = None) -> int:
    """Thinking tokens an exit likely saved, for the ledger.

    With the profile's expected completion length (from the difficulty model) it is what was
    left of it; without, the ratio measured on recorded traces.
    """
    if expected_tokens is not None and expected_tokens > decision.tokens_at_exit:
        return round(expected_tokens - decision.tokens_at_exit)
    return round(decision.tokens_at_exit * REMAINING_PER_TOKEN)
