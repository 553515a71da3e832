"""Routing metrics: RouteLLM's APGR and CPT, and the share of the oracle's savings recovered.

For two profiles, a router is a score per item (higher: more in need of the strong profile);
routing the top share x of items to the strong profile traces accuracy(x). PGR(x) is the
share of the weak-to-strong accuracy gap recovered; APGR is its area over x in [0, 1] and
CPT(p) the smallest share of strong calls reaching PGR p (RouteLLM, arXiv 2406.18665).
Items with equal scores cannot be split by a threshold, so the curve is linear inside ties.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["pgr_curve", "apgr", "cpt", "oracle_gap_share"]

_Array = npt.NDArray[np.float64]


def pgr_curve(
    score: npt.ArrayLike, weak_correct: npt.ArrayLike, strong_correct: npt.ArrayLike
) -> tuple[_Array, _Array]:
    """Share of calls to the strong profile and the PGR reached, at every score threshold."""
    s = np.asarray(score, dtype=float)
    w = np.asarray(weak_correct, dtype=float)
    g = np.asarray(strong_correct, dtype=float)
    n = s.size
    if n == 0 or w.shape != s.shape or g.shape != s.shape:
        raise ValueError("score and correctness arrays must be non-empty and of equal length")
    gap = g.mean() - w.mean()
    if gap <= 0:
        raise ValueError("the strong profile must be more accurate than the weak one")
    order = np.argsort(-s, kind="stable")
    gain = np.concatenate([[0.0], np.cumsum((g - w)[order])])
    # Thresholds can only cut between distinct scores.
    sorted_s = s[order]
    cuts = np.concatenate([[0], np.flatnonzero(np.diff(sorted_s) != 0) + 1, [n]])
    share = cuts / n
    pgr = (gain[cuts] / n) / gap
    return share.astype(float), pgr.astype(float)


def apgr(score: npt.ArrayLike, weak_correct: npt.ArrayLike, strong_correct: npt.ArrayLike) -> float:
    """Average performance gap recovered: the area under PGR over the share of strong calls."""
    x, y = pgr_curve(score, weak_correct, strong_correct)
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def cpt(
    score: npt.ArrayLike,
    weak_correct: npt.ArrayLike,
    strong_correct: npt.ArrayLike,
    level: float,
) -> float:
    """Call-performance threshold: the least share of strong calls whose PGR reaches `level`."""
    x, y = pgr_curve(score, weak_correct, strong_correct)
    hit = np.flatnonzero(y >= level - 1e-12)
    if hit.size == 0:
        return 1.0
    j = int(hit[0])
    if j == 0:
        return 0.0
    # Linear inside the segment, as a random split of the tied items would give.
    x0, x1, y0, y1 = x[j - 1], x[j], y[j - 1], y[j]
    return float(x0 + (level - y0) / (y1 - y0) * (x1 - x0))


def oracle_gap_share(reference_tokens: float, policy_tokens: float, oracle_tokens: float) -> float:
    """Share of the oracle's token savings against the reference that the policy achieves."""
    possible = reference_tokens - oracle_tokens
    if possible <= 0:
        return float("nan")
    return float((reference_tokens - policy_tokens) / possible)
