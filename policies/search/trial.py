"""Recorded searches replayed through the vote: one problem's samples (a `Trial`), the rule
with its fitted parts (`StopRule`), and strategies compared on the same seeded sample orders.

Every strategy sees the same shuffles of each problem's samples, so they differ only in when
they stop and how they aggregate. The vote is the gateway's (`policies.search.vote`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from difficulty.answers import answers_match
from policies.decision import SamplingPlan
from policies.search.stopping import (
    DEFAULT_PRIOR,
    TOKEN_CONFIDENCE,
    Confidence,
    ModeSharePrior,
    sample_weight,
)
from policies.search.vote import AdaptiveVote, cluster_answers

__all__ = ["StopRule", "Strategy", "Trial", "Tally", "prepare", "run_rule", "replay"]


@dataclass(frozen=True)
class StopRule:
    """Sample until `stop_posterior` reaches `threshold` (or `max_samples`).

    `confidence` weighs samples by length (None: every sample is one vote); `verifier` weighs
    them by their score when the trial has scores. `answer` picks the returned answer:
    `majority` (plain counts), `weighted_vote` (the weighted leader) or `best_of_n`.
    """

    threshold: float = 0.995
    max_samples: int = 16
    min_samples: int = 2
    prior: ModeSharePrior = DEFAULT_PRIOR
    confidence: Confidence | None = TOKEN_CONFIDENCE
    verifier: Confidence | None = None
    answer: str = "majority"
    use_difficulty: bool = True


@dataclass(frozen=True)
class Trial:
    """One problem's recorded samples, ready to replay."""

    id: str
    keys: np.ndarray  # vote key per sample (-1: no answer)
    tokens: np.ndarray
    correct: np.ndarray  # per vote key, plus a trailing False for "no answer"
    scores: np.ndarray | None = None
    typical_tokens: float | None = None
    p_correct: float | None = None


@dataclass
class Tally:
    """Mean accuracy, samples and tokens of one strategy, with per-trial accuracy and samples."""

    accuracy: float = 0.0
    samples: float = 0.0
    tokens: float = 0.0
    per_trial: list[float] = field(default_factory=list)
    per_trial_samples: list[float] = field(default_factory=list)


def prepare(
    id: str,
    answers: Sequence[str | None],
    tokens: Sequence[int | None],
    gold: str | None,
    **extra: object,
) -> Trial:
    """Cluster a problem's answers with the normaliser and mark which vote key is right."""
    keys = np.asarray(cluster_answers(answers), dtype=np.int64)
    reps: dict[int, str | None] = {}
    for i, k in enumerate(keys):
        reps.setdefault(int(k), answers[i])
    n_keys = int(keys.max()) + 1 if keys.size else 0
    right = [answers_match(reps[k], gold) for k in range(n_keys)] + [False]
    spent = np.asarray([t or 0 for t in tokens], dtype=float)
    return Trial(id, keys, spent, np.asarray(right), **extra)  # type: ignore[arg-type]


def run_rule(trial: Trial, order: np.ndarray, rule: StopRule) -> tuple[int, int]:
    """Replay one order of the trial's samples through the gateway's vote: (the returned vote
    key, -1 for none; the samples drawn)."""
    limit = min(rule.max_samples, len(order))
    # A threshold above 1 never stops early: majority (or best) of exactly `max_samples`.
    fixed = rule.threshold > 1.0
    plan = SamplingPlan(
        max_samples=limit,
        threshold=min(rule.threshold, 1.0),
        min_samples=limit if fixed else min(rule.min_samples, limit),
        prior_p_correct=trial.p_correct if rule.use_difficulty else None,
        typical_tokens=trial.typical_tokens,
    )
    vote = AdaptiveVote(plan, rule.prior)
    for i in order[:limit]:
        score = None if trial.scores is None else float(trial.scores[i])
        weight = sample_weight(
            float(trial.tokens[i]),
            plan.typical_tokens,
            score,
            confidence=rule.confidence,
            verifier=rule.verifier,
        )
        if vote.add(int(trial.keys[i]), weight, score):
            break
    key = vote.answer(rule.answer)
    return (-1 if key is None else key), vote.samples


Strategy = Callable[[Trial, np.ndarray], tuple[int, int]]


def replay(
    trials: Sequence[Trial], strategies: dict[str, Strategy], *, orders: int = 8, seed: int = 0
) -> dict[str, Tally]:
    """Run every strategy on the same `orders` seeded shuffles of every trial."""
    rng = np.random.default_rng(seed)
    out = {name: Tally() for name in strategies}
    for trial in trials:
        hits = dict.fromkeys(strategies, 0.0)
        drawn = dict.fromkeys(strategies, 0)
        for _ in range(orders):
            order = rng.permutation(len(trial.keys))
            for name, strategy in strategies.items():
                key, n = strategy(trial, order)
                hits[name] += float(trial.correct[key])
                drawn[name] += n
                out[name].tokens += float(trial.tokens[order[:n]].sum())
        for name in strategies:
            out[name].per_trial.append(hits[name] / orders)
            out[name].per_trial_samples.append(drawn[name] / orders)
            out[name].samples += drawn[name]
    total = max(len(trials) * orders, 1)
    for tally in out.values():
        tally.accuracy = float(np.sum(tally.per_trial)) / max(len(trials), 1)
        tally.samples /= total
        tally.tokens /= total
    return out
