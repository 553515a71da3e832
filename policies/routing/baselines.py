"""Honest baselines for the simulator: fixed profiles, random routing, prompt length, oracle."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from policies.profiles import ProfileCost
from policies.routing.simulator import Point, RoutingTable, evaluate

__all__ = [
    "fixed_baselines",
    "random_at_cost",
    "length_heuristic_at_cost",
    "oracle",
    "oracle_choice",
]


def fixed_baselines(
    table: RoutingTable, costs: Mapping[str, ProfileCost], reference: int
) -> dict[str, Point]:
    """Every profile used for every item, keyed `fixed:<profile>`."""
    n = len(table)
    return {
        f"fixed:{name}": evaluate(table, np.full(n, j), costs, reference)
        for j, name in enumerate(table.profiles)
    }


def _cheap_and_dear(table: RoutingTable, reference: int) -> tuple[int, int]:
    """The cheapest profile by mean tokens and the dearer one random/heuristic routing mixes in."""
    mean_tokens = table.tokens.mean(axis=0)
    cheap = int(np.argmin(mean_tokens))
    dear = reference if reference != cheap else int(np.argmax(mean_tokens))
    return cheap, dear


def random_at_cost(
    table: RoutingTable, costs: Mapping[str, ProfileCost], reference: int, tokens: float
) -> Point:
    """Random routing between the cheapest profile and the reference, at `tokens` per request.

    Reported as the expectation over coin flips (no seed needed): each item goes to the
    reference with the probability that makes the mean tokens equal.
    """
    cheap, dear = _cheap_and_dear(table, reference)
    t_cheap, t_dear = table.tokens[:, cheap].mean(), table.tokens[:, dear].mean()
    q = 0.0 if t_dear == t_cheap else float(np.clip((tokens - t_cheap) / (t_dear - t_cheap), 0, 1))
    weights = np.zeros(table.correct.shape)
    weights[:, cheap] += 1.0 - q
    weights[:, dear] += q
    return evaluate(table, weights, costs, reference, knob=q)


def length_heuristic_at_cost(
    table: RoutingTable,
    costs: Mapping[str, ProfileCost],
    reference: int,
    tokens: float,
) -> Point:
    """Longest prompts go to the reference, the rest to the cheapest profile, at ~`tokens`."""
    cheap, dear = _cheap_and_dear(table, reference)
    length = np.array([len(p) for p in table.prompts], dtype=float)
    order = np.argsort(-length, kind="stable")
    extra = table.tokens[order, dear] - table.tokens[order, cheap]
    spent = table.tokens[:, cheap].sum() + np.concatenate([[0.0], np.cumsum(extra)])
    # The largest share of long prompts sent up that stays within the token budget.
    m = int(np.searchsorted(spent / len(table), tokens, side="right")) - 1
    m = max(m, 0)
    choice = np.full(len(table), cheap, dtype=np.intp)
    choice[order[:m]] = dear
    return evaluate(table, choice, costs, reference, knob=m / len(table))


def oracle(table: RoutingTable, costs: Mapping[str, ProfileCost], reference: int) -> Point:
    """The cheapest correct profile per item (the cheapest profile when none is correct)."""
    return evaluate(table, oracle_choice(table), costs, reference)


def oracle_choice(table: RoutingTable) -> npt.NDArray[np.intp]:
    """Per-item column of the oracle: fewest actual tokens among the correct profiles."""
    masked = np.where(table.correct > 0.5, table.tokens, np.inf)
    none_correct = ~(table.correct > 0.5).any(axis=1)
    pick = np.argmin(masked, axis=1)
    pick[none_correct] = np.argmin(table.tokens[none_correct], axis=1)
    return pick.astype(np.intp)
