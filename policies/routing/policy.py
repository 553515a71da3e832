"""Policies as pure functions: from per-profile predictions and prices to a Decision.

`choose` is the vectorised core (the simulator calls it on whole matrices); `decide` wraps it
for one request (the live gateway calls it), so both share exactly one rule.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from difficulty.errors import InvalidInputError
from policies.decision import Decision, SamplingPlan
from policies.profiles import ProfileCost

__all__ = [
    "PolicyKind",
    "CostUnit",
    "PolicyConfig",
    "PredictionLike",
    "choose",
    "recalibrated",
    "cost_matrix",
    "decide",
    "forced",
    "sampling_plan",
]

PolicyKind = Literal["fixed", "utility", "target"]
CostUnit = Literal["tokens", "money"]
_KINDS: tuple[str, ...] = ("fixed", "utility", "target")


class PredictionLike(Protocol):
    """P(correct) and expected tokens for one profile (difficulty.predictions.ProfilePrediction)."""

    @property
    def p_correct(self) -> float: ...

    @property
    def tokens(self) -> float | None: ...


@dataclass(frozen=True)
class PolicyConfig:
    """An operator's policy: its kind and its one knob.

    fixed: always `profile`. utility: maximise P(correct) - `lam` * cost, where cost is expected
    completion tokens (`cost_unit="tokens"`) or money. target: the cheapest profile whose
    P(correct) is within `epsilon` of the best. `recalibration` holds (profile, slope,
    intercept) triples that map the difficulty model's P(correct) through
    sigmoid(slope * logit(p) + intercept) before the choice, as fitted by
    `policies.routing.calibration.fit_recalibration` on held-out outcomes. A search profile's
    sampling plan is the profile's own (`ProfileCost.search`), not the policy's.
    """

    kind: PolicyKind = "utility"
    lam: float = 0.0
    epsilon: float = 0.0
    profile: str | None = None
    cost_unit: CostUnit = "tokens"
    recalibration: tuple[tuple[str, float, float], ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidInputError(f"unknown policy {self.kind!r}; use one of {', '.join(_KINDS)}")
        if self.kind == "fixed" and not self.profile:
            raise InvalidInputError("the fixed policy needs a profile")
        if self.lam < 0 or self.epsilon < 0:
            raise InvalidInputError("lambda and epsilon must be non-negative")
        if self.cost_unit not in ("tokens", "money"):
            raise InvalidInputError(f"unknown cost unit {self.cost_unit!r}")


def cost_matrix(
    tokens: npt.ArrayLike, costs: Sequence[ProfileCost], unit: CostUnit = "tokens"
) -> npt.NDArray[np.float64]:
    """Expected cost per (item, profile) from expected completion tokens, in tokens or money."""
    t = np.asarray(tokens, dtype=float)
    if unit == "tokens":
        return t
    prices = np.array([c.price_out for c in costs], dtype=float)
    return t * prices


def recalibrated(
    policy: PolicyConfig, p_correct: npt.ArrayLike, profiles: Sequence[str]
) -> npt.NDArray[np.float64]:
    """P(correct) after the policy's recalibration (unchanged for profiles it does not name)."""
    p = np.atleast_2d(np.asarray(p_correct, dtype=float))
    if not policy.recalibration:
        return p
    out = p.copy()
    col = {name: j for j, name in enumerate(profiles)}
    for name, slope, intercept in policy.recalibration:
        j = col.get(name)
        if j is not None:
            q = np.clip(p[:, j], 1e-6, 1 - 1e-6)
            z = slope * np.log(q / (1 - q)) + intercept
            out[:, j] = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
    return out


def choose(
    policy: PolicyConfig,
    p_correct: npt.ArrayLike,
    cost: npt.ArrayLike,
    profiles: Sequence[str],
) -> npt.NDArray[np.intp]:
    """Index of the chosen profile for every row of (n_items, n_profiles) predictions and costs.

    Ties go to the cheaper profile, then to the earlier column.
    """
    p = recalibrated(policy, p_correct, profiles)
    c = np.atleast_2d(np.asarray(cost, dtype=float))
    if p.shape != c.shape or p.shape[1] != len(profiles):
        raise InvalidInputError("predictions, costs and profiles disagree in shape")
    n = p.shape[0]
    if policy.kind == "fixed":
        if policy.profile is None or policy.profile not in profiles:
            raise InvalidInputError(f"fixed profile {policy.profile!r} is not among the profiles")
        return np.full(n, list(profiles).index(policy.profile), dtype=np.intp)
    if policy.kind == "utility":
        score = p - policy.lam * c
        best = score.max(axis=1, keepdims=True)
        # Among (near-)tied utilities take the cheapest: lexsort-free via masking.
        tied = score >= best - 1e-12
        return np.where(tied, c, np.inf).argmin(axis=1).astype(np.intp)
    eligible = p >= p.max(axis=1, keepdims=True) - policy.epsilon - 1e-12
    masked = np.where(eligible, c, np.inf)
    cheapest = masked.min(axis=1, keepdims=True)
    # Among equally cheap eligible profiles, prefer the likelier one.
    return np.where(masked <= cheapest, p, -np.inf).argmax(axis=1).astype(np.intp)


def _expected_tokens(pred: PredictionLike, cost: ProfileCost) -> float:
    return float(pred.tokens) if pred.tokens is not None else cost.default_tokens


def decide(
    policy: PolicyConfig,
    predictions: Mapping[str, PredictionLike],
    costs: Mapping[str, ProfileCost],
    *,
    reference: str | None = None,
) -> Decision:
    """Choose a profile for one request; profiles missing from `costs` are priced at zero."""
    if not predictions:
        raise InvalidInputError("no profile predictions to decide from")
    names = list(predictions)
    pcs = [costs.get(n) or ProfileCost(n) for n in names]
    raw = np.array([[predictions[n].p_correct for n in names]], dtype=float)
    tok = np.array([[_expected_tokens(predictions[n], c) for n, c in zip(names, pcs, strict=True)]])
    c = cost_matrix(tok, pcs, policy.cost_unit)
    i = int(choose(policy, raw, c, names)[0])
    p = recalibrated(policy, raw, names)
    name, pc = names[i], pcs[i]
    reason = _reason(policy, names, p[0], tok[0], i, reference)
    return Decision(
        profile=name,
        budget=pc.max_tokens,
        sampling=sampling_plan(pc, float(p[0, i]), float(tok[0, i])),
        reason=reason,
        p_correct=float(p[0, i]),
        tokens=float(tok[0, i]),
        cost=pc.cost(float(tok[0, i])),
    )


def sampling_plan(
    cost: ProfileCost, p_correct: float | None, tokens: float | None = None
) -> SamplingPlan | None:
    """A search profile's plan with this request's P(correct) as the vote's prior and its token
    forecast as a sample's typical length, unless the profile sets one (else None)."""
    if cost.search is None:
        return None
    typical = cost.search.typical_tokens or tokens
    return replace(cost.search, prior_p_correct=p_correct, typical_tokens=typical)


def forced(
    name: str, cost: ProfileCost | None, prediction: PredictionLike | None, reason: str
) -> Decision:
    """The decision for a profile the caller named: no choice made, the profile's own limits."""
    cost = cost or ProfileCost(name)
    p = prediction.p_correct if prediction is not None else None
    return Decision(
        profile=name,
        budget=cost.max_tokens,
        sampling=sampling_plan(cost, p, prediction.tokens if prediction is not None else None),
        reason=reason,
        p_correct=p,
        tokens=prediction.tokens if prediction is not None else None,
    )


def _reason(
    policy: PolicyConfig,
    names: Sequence[str],
    p: npt.NDArray[np.float64],
    tok: npt.NDArray[np.float64],
    i: int,
    reference: str | None,
) -> str:
    chosen = f"{names[i]} (P={p[i]:.2f}, ~{tok[i]:.0f} tokens)"
    if policy.kind == "fixed":
        line = f"fixed policy: always {chosen}"
    elif policy.kind == "utility":
        line = f"utility (lambda={policy.lam:.3g}/{policy.cost_unit[:-1]}): {chosen} scores best"
    else:
        b = int(np.argmax(p))
        line = (
            f"target (epsilon={policy.epsilon:.3g}): {chosen} is the cheapest within epsilon "
            f"of {names[b]} (P={p[b]:.2f})"
        )
    if reference is not None and reference in names and reference != names[i]:
        r = list(names).index(reference)
        line += f"; ~{tok[r] - tok[i]:.0f} tokens fewer than {reference}"
    return line
