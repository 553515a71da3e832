"""Replays sampled outcomes (search profiles): fixed majority-of-N against adaptive stopping."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from difficulty.answers import answers_match
from difficulty.outcomes import Outcome
from policies.decision import SamplingPlan
from policies.search.vote import cluster_answers, run_vote

__all__ = [
    "MAJORITY_SIZES",
    "SampledProblem",
    "SearchRow",
    "sampled_problems",
    "simulate_search",
]

MAJORITY_SIZES = (1, 4, 8, 16, 32)


@dataclass(frozen=True)
class SampledProblem:
    """One item's recorded samples for one profile: answers, their tokens, and the gold answer."""

    id: str
    answers: tuple[str | None, ...]
    tokens: tuple[int, ...]
    gold: str | None


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
        out.setdefault(o.profile, []).append(
            SampledProblem(
                id=o.id,
                answers=tuple(s.answer for s in o.samples),
                tokens=tuple(int(s.tokens or 0) for s in o.samples),
                gold=o.gold,
            )
        )
    return out


def _prepared(problem: SampledProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vote keys per sample, tokens per sample, and whether each key is the gold answer."""
    keys = np.array(cluster_answers(problem.answers), dtype=np.int64)
    n_keys = int(keys.max()) + 1 if keys.size else 0
    rep = {int(k): problem.answers[i] for i, k in enumerate(keys) if k >= 0}
    correct = np.array([answers_match(rep[k], problem.gold) for k in range(n_keys)] + [False])
    return keys, np.asarray(problem.tokens, dtype=float), correct


def simulate_search(
    problems: Sequence[SampledProblem],
    *,
    plan: SamplingPlan | None = None,
    sizes: Sequence[int] = MAJORITY_SIZES,
    orders: int = 8,
    seed: int = 0,
    priors: Mapping[str, float] | None = None,
) -> dict[str, SearchRow]:
    """Majority-of-N for each N in `sizes` and adaptive stopping, averaged over sample orders.

    Every strategy sees the same `orders` seeded shuffles of each problem's samples, so they
    differ only in when they stop. `priors` maps a problem id to a predicted P(correct).
    """
    plan = plan or SamplingPlan(max_samples=16, threshold=0.95)
    if not problems:
        return {}
    available = min(len(p.answers) for p in problems)
    sizes = [n for n in sizes if n <= available]
    rng = np.random.default_rng(seed)
    names = [f"majority@{n}" for n in sizes] + ["adaptive"]
    acc = {k: 0.0 for k in names}
    used = {k: 0.0 for k in names}
    spent = {k: 0.0 for k in names}
    for problem in problems:
        keys, tokens, correct = _prepared(problem)
        prior = None if priors is None else priors.get(problem.id)
        adaptive_plan = SamplingPlan(
            max_samples=min(plan.max_samples, len(keys)),
            threshold=plan.threshold,
            min_samples=min(plan.min_samples, len(keys)),
            prior_p_correct=prior if prior is not None else plan.prior_p_correct,
        )
        for _ in range(orders):
            order = rng.permutation(len(keys))
            k_ord, t_ord = keys[order], tokens[order]
            for name, n in zip(names, [*sizes, 0], strict=True):
                # Majority of n: a vote that cannot stop before its n-th sample.
                strategy = adaptive_plan if name == "adaptive" else SamplingPlan(n, 1.0, n)
                vote = run_vote(k_ord, strategy)
                leader, drawn = vote.leader, vote.samples
                acc[name] += float(correct[leader if leader is not None else -1])
                used[name] += drawn
                spent[name] += float(t_ord[:drawn].sum())
    total = len(problems) * orders
    return {k: SearchRow(acc[k] / total, used[k] / total, spent[k] / total) for k in names}
