"""Replays sampled outcomes (search profiles): fixed majority-of-N against adaptive stopping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from difficulty.outcomes import Outcome
from policies.decision import SamplingPlan
from policies.search.trial import StopRule, Strategy, Trial, prepare, replay, run_rule

__all__ = [
    "MAJORITY_SIZES",
    "SampledProblem",
    "SearchRow",
    "sampled_problems",
    "simulate_search",
    "trials_for",
]

MAJORITY_SIZES = (1, 4, 8, 16, 32)


@dataclass(frozen=True)
class SampledProblem:
    """One item's recorded samples for one profile: answers, tokens, scores, the gold answer."""

    id: str
    answers: tuple[str | None, ...]
    tokens: tuple[int, ...]
    gold: str | None
    scores: tuple[float, ...] | None = None


@dataclass(frozen=True)
class SearchRow:
    """Accuracy, mean samples and mean tokens per problem of one sampling strategy."""

    accuracy: float
    samples: float
    tokens: float

    def to_json(self) -> dict[str, float]:
        """The row as a JSON-ready dict."""
        return {"accuracy": self.accuracy, "samples": self.samples, "tokens": self.tokens}


def sampled_problems(outcomes: Iterable[Outcome]) -> dict[str, list[SampledProblem]]:
    """Group outcome rows that carry samples by profile."""
    out: dict[str, list[SampledProblem]] = {}
    for o in outcomes:
        if not o.samples:
            continue
        scores = [s.score for s in o.samples]
        out.setdefault(o.profile, []).append(
            SampledProblem(
                id=o.id,
                answers=tuple(s.answer for s in o.samples),
                tokens=tuple(int(s.tokens or 0) for s in o.samples),
                gold=o.gold,
                scores=None if None in scores else tuple(float(x or 0.0) for x in scores),
            )
        )
    return out


def trials_for(
    problems: Sequence[SampledProblem], priors: Mapping[str, float] | None = None
) -> list[Trial]:
    """Problems ready to replay. A problem's typical sample length is the median over the
    OTHER problems' samples (label-free, and never its own), its prior the forecast given."""
    lengths = [np.asarray(p.tokens, dtype=float) for p in problems]
    everything = np.concatenate(lengths) if lengths else np.zeros(0)
    trials = []
    for i, p in enumerate(problems):
        others = np.concatenate(
            [everything[: _start(lengths, i)], everything[_start(lengths, i + 1) :]]
        )
        trials.append(
            prepare(
                p.id,
                p.answers,
                p.tokens,
                p.gold,
                scores=None if p.scores is None else np.asarray(p.scores),
                typical_tokens=float(np.median(others)) if others.size else None,
                p_correct=None if priors is None else priors.get(p.id),
            )
        )
    return trials


def _start(lengths: Sequence[np.ndarray], i: int) -> int:
    return int(sum(len(x) for x in lengths[:i]))


def simulate_search(
    problems: Sequence[SampledProblem],
    *,
    plan: SamplingPlan | None = None,
    sizes: Sequence[int] = MAJORITY_SIZES,
    orders: int = 8,
    seed: int = 0,
    priors: Mapping[str, float] | None = None,
    rule: StopRule | None = None,
) -> dict[str, SearchRow]:
    """Majority-of-N for each N in `sizes` and adaptive stopping, averaged over sample orders.

    Every strategy sees the same `orders` seeded shuffles of each problem's samples, so they
    differ only in when they stop. `priors` maps a problem id to a predicted P(correct); `plan`
    sets the adaptive rule's threshold and sample bounds; `rule` its fitted parts.
    """
    plan = plan or SamplingPlan(max_samples=16, min_samples=2)
    if not problems:
        return {}
    available = min(len(p.answers) for p in problems)
    sizes = [n for n in sizes if n <= available]
    adaptive = replace(
        rule or StopRule(),
        threshold=plan.threshold,
        max_samples=plan.max_samples,
        min_samples=plan.min_samples,
    )
    strategies: dict[str, Strategy] = {
        f"majority@{n}": _fixed(replace(adaptive, threshold=2.0, max_samples=n)) for n in sizes
    }
    strategies["adaptive"] = _fixed(adaptive)
    tallies = replay(trials_for(problems, priors), strategies, orders=orders, seed=seed)
    return {k: SearchRow(t.accuracy, t.samples, t.tokens) for k, t in tallies.items()}


def _fixed(rule: StopRule) -> Strategy:
    def run(trial: Trial, order: np.ndarray) -> tuple[int, int]:
        return run_rule(trial, order, rule)

    return run
