"""The simulator's report for routing between profiles: operating point, baselines, frontier."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from difficulty.errors import InvalidInputError
from policies.profiles import ProfileCost
from policies.routing.baselines import (
    fixed_baselines,
    length_heuristic_at_cost,
    oracle,
    random_at_cost,
)
from policies.routing.calibration import CONFIDENCE_Z, Target, calibrate, fit_recalibration
from policies.routing.metrics import apgr, cpt, oracle_gap_share
from policies.routing.policy import PolicyConfig, cost_matrix
from policies.routing.simulator import (
    Point,
    RoutingTable,
    best_within_loss,
    frontier,
    operating_point,
)

__all__ = ["default_reference", "routing_report", "HoldRate", "calibration_hold_rate"]


def default_reference(table: RoutingTable) -> str:
    """The most accurate profile (ties: the one spending more tokens)."""
    acc = table.correct.mean(axis=0)
    tok = table.tokens.mean(axis=0)
    return table.profiles[int(np.lexsort((tok, acc))[-1])]


def _two_profile_metrics(table: RoutingTable) -> dict[str, float] | None:
    """APGR and CPT(50/80%) of the policy's ranking, strong = the more accurate profile."""
    if len(table.profiles) != 2:
        return None
    acc = table.correct.mean(axis=0)
    strong = int(np.argmax(acc))
    weak = 1 - strong
    if acc[strong] <= acc[weak]:
        return None
    # RouteLLM's cost axis is the share of calls to the strong model, so the ranking is the
    # forecast gain of the strong profile (the target policy's order; the utility policy's
    # too when every call costs the same).
    score = table.p_correct[:, strong] - table.p_correct[:, weak]
    weak_c, strong_c = table.correct[:, weak], table.correct[:, strong]
    return {
        "apgr": apgr(score, weak_c, strong_c),
        "cpt50": cpt(score, weak_c, strong_c, 0.5),
        "cpt80": cpt(score, weak_c, strong_c, 0.8),
    }


def _brief(point: Point) -> dict[str, Any]:
    return point.to_json()


def routing_report(
    table: RoutingTable,
    costs: Mapping[str, ProfileCost],
    policy: PolicyConfig,
    target: Target,
    reference: str,
    *,
    z: float = CONFIDENCE_Z,
    recalibrate: bool = True,
) -> dict[str, Any]:
    """Everything the simulator reports for routing, as a JSON-ready dict.

    With `recalibrate` the frontier and APGR use forecasts recalibrated out of fold, and the
    operating point fits its recalibration on training folds, like its knob.
    """
    if len(table.profiles) < 2:
        raise InvalidInputError("routing needs at least two profiles")
    ref = table.column(reference)
    op, _, knobs = operating_point(table, costs, policy, target, ref, z=z, recalibrate=recalibrate)
    swept = table.recalibrated() if recalibrate else table
    points = frontier(swept, costs, policy, ref)
    orc = oracle(table, costs, ref)
    baselines: dict[str, Any] = {
        name: _brief(p) for name, p in fixed_baselines(table, costs, ref).items()
    }
    baselines["random"] = _brief(random_at_cost(table, costs, ref, op.tokens))
    baselines["prompt_length"] = _brief(length_heuristic_at_cost(table, costs, ref, op.tokens))
    baselines["oracle"] = _brief(orc)
    best = best_within_loss(points, 0.01)
    report: dict[str, Any] = {
        "items": len(table),
        "profiles": list(table.profiles),
        "reference": reference,
        "policy": policy.kind,
        "target": target.describe(),
        "folds": int(np.unique(table.fold).size),
        "knobs": knobs,
        "operating_point": _brief(op),
        "baselines": baselines,
        "oracle": _brief(orc),
        "oracle_gap_share": oracle_gap_share(
            float(table.tokens[:, ref].mean()), op.tokens, orc.tokens
        ),
        "frontier": [_brief(p) for p in points],
        "frontier_best_within_1pt": None if best is None else _brief(best),
    }
    report["recalibrated"] = recalibrate
    report["tokens_recorded"] = table.tokens_recorded
    if not table.tokens_recorded:
        report["cost_axis"] = (
            "no token counts in the outcomes: 'tokens' fields are the cost per call "
            "(0 weakest .. 1 strongest profile by accuracy; the share of calls to the stronger "
            "of two), and token savings are not available"
        )
    report["policy_config"] = _deployable(table, costs, policy, target, ref, z, recalibrate)
    metrics = _two_profile_metrics(swept)
    if metrics is not None:
        report.update(metrics)
    return report


def _deployable(
    table: RoutingTable,
    costs: Mapping[str, ProfileCost],
    policy: PolicyConfig,
    target: Target,
    ref: int,
    z: float,
    recalibrate: bool,
) -> dict[str, Any]:
    """The policy fitted on every item: what a gateway would load after this simulation."""
    base = policy
    if recalibrate:
        base = replace(
            policy,
            recalibration=fit_recalibration(table.p_correct, table.correct, table.profiles),
        )
    c = cost_matrix(
        table.tokens_pred, [costs.get(p) or ProfileCost(p) for p in table.profiles], base.cost_unit
    )
    spend = cost_matrix(
        table.tokens, [costs.get(p) or ProfileCost(p) for p in table.profiles], base.cost_unit
    )
    tuned = calibrate(
        base,
        target,
        table.p_correct,
        c,
        table.correct,
        table.tokens,
        table.profiles,
        ref,
        z=z,
        spend=spend,
    )
    return asdict(tuned)


@dataclass(frozen=True)
class HoldRate:
    """How often a calibrated target held on held-out folds over repeated random splits."""

    splits: int
    held: int
    losses: tuple[float, ...]
    tokens_saved: tuple[float, ...]
    cost_saved: tuple[float, ...] = ()

    @property
    def rate(self) -> float:
        """Share of splits where the pooled held-out result met the target."""
        return self.held / self.splits if self.splits else float("nan")

    def to_json(self) -> dict[str, Any]:
        """The hold rate as a JSON-ready dict."""
        return {
            "splits": self.splits,
            "held": self.held,
            "rate": self.rate,
            "losses": list(self.losses),
            "tokens_saved": list(self.tokens_saved),
            "cost_saved": list(self.cost_saved),
        }


def calibration_hold_rate(
    tables: Iterable[RoutingTable],
    costs: Mapping[str, ProfileCost],
    policy: PolicyConfig,
    target: Target,
    reference: str,
    *,
    z: float = CONFIDENCE_Z,
    recalibrate: bool = True,
) -> HoldRate:
    """For each split (a table cross-fitted with its own fold seed), calibrate per fold and check.

    The target holds in a split when the pooled held-out result meets it: accuracy loss
    against the reference at most the target, or mean tokens at most the target.
    """
    held = 0
    losses: list[float] = []
    saved: list[float] = []
    paid: list[float] = []
    count = 0
    for table in tables:
        point, _, _ = operating_point(
            table, costs, policy, target, table.column(reference), z=z, recalibrate=recalibrate
        )
        count += 1
        losses.append(point.accuracy_loss)
        saved.append(point.tokens_saved)
        if point.cost_saved is not None:
            paid.append(point.cost_saved)
        if target.accuracy_loss is not None:
            held += point.accuracy_loss <= target.accuracy_loss + 1e-12
        else:
            assert target.tokens is not None
            held += point.tokens <= target.tokens
    return HoldRate(count, held, tuple(losses), tuple(saved), tuple(paid))
