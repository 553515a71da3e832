"""The offline simulator: replay outcomes through a policy on cross-fitted predictions.

Every item is scored by a model that never trained on it (the folds of `difficulty.crossfit`),
and the policy's knob for fold k is calibrated on the other folds only, so the operating point
is an honest held-out estimate of what a deployment would see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from difficulty.errors import InvalidInputError
from policies.profiles import ProfileCost
from policies.routing.calibration import (
    CONFIDENCE_Z,
    Target,
    calibrate,
    fit_recalibration,
    knob_grid,
    with_knob,
)
from policies.routing.policy import PolicyConfig, choose, cost_matrix, recalibrated

__all__ = [
    "RoutingTable",
    "Point",
    "evaluate",
    "frontier",
    "operating_point",
    "best_within_loss",
]

_Array = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class RoutingTable:
    """Matrices over (n_items, n_profiles): forecasts, what happened, and each item's fold."""

    item_ids: list[str]
    prompts: list[str]
    profiles: list[str]
    p_correct: _Array
    tokens_pred: _Array
    correct: _Array
    tokens: _Array
    fold: npt.NDArray[np.int64]
    # False when the outcomes carry no token counts: `tokens` then holds a per-call cost
    # (see `complete`), and reports give token figures as not available.
    tokens_recorded: bool = True

    @classmethod
    def from_crossfit(cls, cf: Any) -> RoutingTable:
        """From a `difficulty.crossfit.CrossFitted`; items missing an outcome are dropped."""
        table = cls(
            item_ids=list(cf.item_ids),
            prompts=list(cf.prompts),
            profiles=list(cf.profiles),
            p_correct=np.asarray(cf.p_correct, dtype=float),
            tokens_pred=np.asarray(cf.tokens, dtype=float),
            correct=np.asarray(cf.correct, dtype=float),
            tokens=np.asarray(cf.actual_tokens, dtype=float),
            fold=np.asarray(cf.fold, dtype=np.int64),
        )
        return table.complete()

    def __len__(self) -> int:
        return len(self.item_ids)

    def column(self, profile: str) -> int:
        """Index of `profile` in the matrices."""
        if profile not in self.profiles:
            raise InvalidInputError(
                f"unknown profile '{profile}' (have: {', '.join(self.profiles)})"
            )
        return self.profiles.index(profile)

    def subset(self, rows: npt.ArrayLike) -> RoutingTable:
        """The table restricted to some items (a boolean mask or indices)."""
        r = np.asarray(rows)
        return RoutingTable(
            item_ids=[self.item_ids[i] for i in np.arange(len(self))[r]],
            prompts=[self.prompts[i] for i in np.arange(len(self))[r]],
            profiles=self.profiles,
            p_correct=self.p_correct[r],
            tokens_pred=self.tokens_pred[r],
            correct=self.correct[r],
            tokens=self.tokens[r],
            fold=self.fold[r],
            tokens_recorded=self.tokens_recorded,
        )

    def with_forecasts(self, p_correct: _Array) -> RoutingTable:
        """The same table with other P(correct) forecasts."""
        return replace(self, p_correct=p_correct)

    def recalibrated(self) -> RoutingTable:
        """Each fold's forecasts recalibrated by a map fitted on the other folds only."""
        p = self.p_correct.copy()
        for k in np.unique(self.fold):
            train = self.fold != k
            recal = fit_recalibration(self.p_correct[train], self.correct[train], self.profiles)
            config = PolicyConfig("utility", recalibration=recal)
            p[~train] = recalibrated(config, self.p_correct[~train], self.profiles)
        return self.with_forecasts(p)

    def complete(self) -> RoutingTable:
        """Only items with an outcome for every profile; missing token forecasts filled in.

        A table where some profile has no token count at all (RouteLLM's MMLU: correctness
        only) is measured per call instead, RouteLLM's own cost axis: see `per_call`.
        """
        if np.isnan(self.tokens).all(axis=0).any():
            return self.per_call()
        keep = ~(np.isnan(self.correct).any(axis=1) | np.isnan(self.tokens).any(axis=1))
        if not keep.any():
            raise InvalidInputError("no item has an outcome for every profile")
        table = self.subset(keep)
        pred = table.tokens_pred.copy()
        # Without a token model, each fold's expected tokens are the training folds' means.
        for k in np.unique(table.fold):
            train = table.fold != k
            means = table.tokens[train].mean(axis=0) if train.any() else table.tokens.mean(axis=0)
            rows = table.fold == k
            pred[rows] = np.where(np.isnan(pred[rows]), means, pred[rows])
        return replace(table, tokens_pred=pred)

    def per_call(self) -> RoutingTable:
        """The table with token counts replaced by a cost per call, for tables without tokens.

        A call to a profile costs its rank by accuracy over the ranks' maximum: with two
        profiles, 0 for the weaker and 1 for the stronger, so mean cost = the share of calls
        to the stronger profile, the cost axis of RouteLLM's APGR and CPT. Prices (`--price`,
        money as the cost unit) multiply it. Items need a correctness for every profile only.
        """
        keep = ~np.isnan(self.correct).any(axis=1)
        if not keep.any():
            raise InvalidInputError("no item has a correctness for every profile")
        table = self.subset(keep)
        acc = table.correct.mean(axis=0)
        rank = np.argsort(np.argsort(acc, kind="stable"), kind="stable").astype(float)
        per_call = rank / max(1.0, float(len(acc) - 1))
        calls = np.broadcast_to(per_call, table.correct.shape).copy()
        return replace(table, tokens=calls, tokens_pred=calls.copy(), tokens_recorded=False)


@dataclass(frozen=True)
class Point:
    """One way of routing, measured: accuracy, mean tokens and cost, against the reference."""

    accuracy: float
    tokens: float
    cost: float
    tokens_saved: float
    accuracy_loss: float
    shares: dict[str, float] = field(default_factory=dict)
    knob: float | None = None
    cost_saved: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The point as a JSON-ready dict."""
        out: dict[str, Any] = {
            "accuracy": self.accuracy,
            "tokens": self.tokens,
            "cost": self.cost,
            "tokens_saved": self.tokens_saved,
            "accuracy_loss": self.accuracy_loss,
            "shares": self.shares,
        }
        if self.cost_saved is not None:
            out["cost_saved"] = self.cost_saved
        if self.knob is not None:
            out["knob"] = self.knob
        return out


def _prices(table: RoutingTable, costs: Mapping[str, ProfileCost]) -> list[ProfileCost]:
    return [costs.get(name) or ProfileCost(name) for name in table.profiles]


def evaluate(
    table: RoutingTable,
    choice: npt.ArrayLike,
    costs: Mapping[str, ProfileCost],
    reference: int,
    knob: float | None = None,
) -> Point:
    """Measure a per-item profile choice (column indices, or a row-stochastic weight matrix)."""
    ch = np.asarray(choice)
    n, k = table.correct.shape
    weights = np.zeros((n, k))
    if ch.ndim == 1:
        weights[np.arange(n), ch.astype(np.intp)] = 1.0
    else:
        weights = ch.astype(float)
    prices = np.array([c.price_out for c in _prices(table, costs)])
    accuracy = float((weights * table.correct).sum(axis=1).mean())
    tokens = float((weights * table.tokens).sum(axis=1).mean())
    cost = float((weights * table.tokens * prices).sum(axis=1).mean())
    ref_acc = float(table.correct[:, reference].mean())
    ref_tokens = float(table.tokens[:, reference].mean())
    ref_cost = float((table.tokens[:, reference] * prices[reference]).mean())
    shares = {name: float(weights[:, j].mean()) for j, name in enumerate(table.profiles)}
    return Point(
        accuracy=accuracy,
        tokens=tokens,
        cost=cost,
        tokens_saved=1.0 - tokens / ref_tokens if ref_tokens > 0 else 0.0,
        accuracy_loss=ref_acc - accuracy,
        shares=shares,
        knob=knob,
        cost_saved=1.0 - cost / ref_cost if ref_cost > 0 else None,
    )


def _policy_cost(
    table: RoutingTable, costs: Mapping[str, ProfileCost], policy: PolicyConfig
) -> _Array:
    return cost_matrix(table.tokens_pred, _prices(table, costs), policy.cost_unit)


def _spend(table: RoutingTable, costs: Mapping[str, ProfileCost], policy: PolicyConfig) -> _Array:
    """What each item would actually cost on each profile, in the policy's unit."""
    return cost_matrix(table.tokens, _prices(table, costs), policy.cost_unit)


def frontier(
    table: RoutingTable,
    costs: Mapping[str, ProfileCost],
    policy: PolicyConfig,
    reference: int,
) -> list[Point]:
    """The cost-accuracy frontier as the policy's knob sweeps, cheapest point first."""
    c = _policy_cost(table, costs, policy)
    seen: dict[tuple[float, float], Point] = {}
    for knob in knob_grid(policy.kind, c, table.p_correct):
        idx = choose(with_knob(policy, knob), table.p_correct, c, table.profiles)
        point = evaluate(table, idx, costs, reference, knob=float(knob))
        seen.setdefault((round(point.accuracy, 9), round(point.tokens, 6)), point)
    return sorted(seen.values(), key=lambda p: (p.tokens, -p.accuracy))


def operating_point(
    table: RoutingTable,
    costs: Mapping[str, ProfileCost],
    policy: PolicyConfig,
    target: Target,
    reference: int,
    *,
    z: float = CONFIDENCE_Z,
    recalibrate: bool = True,
) -> tuple[Point, npt.NDArray[np.intp], list[float]]:
    """The policy calibrated on the other folds and applied to each held-out fold, pooled.

    With `recalibrate`, the forecasts' recalibration map is also fitted on the other folds.
    Returns the pooled point, the per-item choices and the knob chosen for each fold.
    """
    c = _policy_cost(table, costs, policy)
    choice = np.zeros(len(table), dtype=np.intp)
    knobs: list[float] = []
    for k in np.unique(table.fold):
        test = table.fold == k
        train = ~test
        base = policy
        if recalibrate:
            recal = fit_recalibration(table.p_correct[train], table.correct[train], table.profiles)
            base = replace(policy, recalibration=recal)
        tuned = calibrate(
            base,
            target,
            table.p_correct[train],
            c[train],
            table.correct[train],
            table.tokens[train],
            table.profiles,
            reference,
            z=z,
            spend=_spend(table, costs, policy)[train],
        )
        knobs.append(tuned.lam if policy.kind == "utility" else tuned.epsilon)
        choice[test] = choose(tuned, table.p_correct[test], c[test], table.profiles)
    return evaluate(table, choice, costs, reference), choice, knobs


def best_within_loss(points: Sequence[Point], max_loss: float) -> Point | None:
    """The frontier point saving the most tokens with an accuracy loss of at most `max_loss`."""
    ok = [p for p in points if p.accuracy_loss <= max_loss + 1e-12]
    return min(ok, key=lambda p: p.tokens) if ok else None
