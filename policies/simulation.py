"""One simulation run over an outcome table: routing (cross-fitted) and sampled search."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from difficulty.errors import InvalidInputError, NotFoundError
from difficulty.outcomes import Outcome
from policies.decision import SamplingPlan
from policies.profiles import ProfileCost
from policies.routing import (
    CONFIDENCE_Z,
    PolicyConfig,
    RoutingTable,
    Target,
    default_reference,
    routing_report,
)
from policies.search import sampled_problems, simulate_search

__all__ = ["select_profiles", "simulate"]


def select_profiles(outcomes: Sequence[Outcome], profiles: Sequence[str] | None) -> list[Outcome]:
    """Only the rows of `profiles` (all when None); an unknown profile raises NotFoundError."""
    if not outcomes:
        raise InvalidInputError("the outcome table is empty")
    if profiles is None:
        return list(outcomes)
    present = list(dict.fromkeys(o.profile for o in outcomes))
    missing = [p for p in profiles if p not in present]
    if missing:
        raise NotFoundError(
            f"unknown profile '{missing[0]}' (the outcomes have: {', '.join(present)})"
        )
    keep = set(profiles)
    return [o for o in outcomes if o.profile in keep]


def simulate(
    outcomes: Sequence[Outcome],
    *,
    policy: PolicyConfig,
    target: Target,
    reference: str | None = None,
    folds: int = 5,
    seed: int = 0,
    costs: Mapping[str, ProfileCost] | None = None,
    plan: SamplingPlan | None = None,
    orders: int = 8,
    sampling_prior: bool = False,
    z: float = CONFIDENCE_Z,
    recalibrate: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The full report: routing when there are two or more profiles, search when rows have samples.

    Routing uses `difficulty.crossfit.cross_fit` so no item is scored by a model trained on it,
    with its routing head (`ROUTING_HEAD`); `progress(done, total)` follows its fits.
    """
    costs = dict(costs or {})
    profiles = list(dict.fromkeys(o.profile for o in outcomes))
    report: dict[str, Any] = {"rows": len(outcomes), "profiles": profiles, "seed": seed}
    priors: dict[str, dict[str, float]] = {}
    sampled = sampled_problems(outcomes)
    if len(profiles) >= 2 or (sampled and sampling_prior):
        from difficulty.crossfit import ROUTING_HEAD, cross_fit

        cf = cross_fit(
            outcomes,
            folds=folds,
            seed=seed,
            profiles=profiles,
            correct_head=ROUTING_HEAD,
            progress=progress,
        )
        for j, name in enumerate(cf.profiles):
            priors[name] = {i: float(cf.p_correct[r, j]) for r, i in enumerate(cf.item_ids)}
        if len(profiles) >= 2:
            table = RoutingTable.from_crossfit(cf)
            ref = reference or default_reference(table)
            report.update(
                routing_report(table, costs, policy, target, ref, z=z, recalibrate=recalibrate)
            )
    elif reference is not None and reference not in profiles:
        raise NotFoundError(f"unknown reference profile '{reference}'")
    if sampled:
        plan = plan or SamplingPlan(max_samples=16, min_samples=2)
        report["search"] = {
            name: {
                key: row.to_json()
                for key, row in simulate_search(
                    problems,
                    plan=plan,
                    orders=orders,
                    seed=seed,
                    priors=priors.get(name) if sampling_prior else None,
                ).items()
            }
            for name, problems in sampled.items()
        }
        report["search_plan"] = {
            "max_samples": plan.max_samples,
            "min_samples": plan.min_samples,
            "threshold": plan.threshold,
            "orders": orders,
            "prior": sampling_prior,
        }
    if len(profiles) < 2 and not sampled:
        raise InvalidInputError(
            "nothing to simulate: routing needs two or more profiles, search needs samples"
        )
    return report
