"""Risk control for early exit: the lowest exit threshold whose changed-answer rate is certified.

Learn-then-Test (Angelopoulos et al., 2021) with fixed-sequence testing: for each threshold of a
grid, from the most cautious down, the null "exiting at this threshold changes more than
`max_changed` of the answers" is tested with an exact binomial p-value; the first threshold that
cannot be rejected at level `delta` ends the sequence. Fixed-sequence testing spends the whole
`delta` on every test (no splitting), so a fine grid costs nothing; the guarantee is that the
threshold returned changes at most `max_changed` of the answers of streams exchangeable with
the calibration ones, except with probability at most `delta`. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "THRESHOLDS",
    "Certificate",
    "binomial_cdf",
    "binomial_p_value",
    "clopper_pearson_upper",
    "fixed_sequence",
    "streams_needed",
]

# Exit thresholds on the scorer's probability, most cautious first. Fine near 1, where the
# certified thresholds of the bundled traces lie; an ordering that starts at the top spends
# nothing on thresholds that never exit.
THRESHOLDS: tuple[float, ...] = tuple(
    [round(1 - 10 ** (-e / 8), 6) for e in range(32, 9, -1)]  # 0.9999 .. 0.9438
    + [round(0.94 - 0.01 * i, 2) for i in range(0, 45)]  # 0.94 .. 0.50
)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(Binomial(n, p) <= k), exact (summed in log space)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1)
        - math.lgamma(i + 1)
        - math.lgamma(n - i + 1)
        + i * log_p
        + (n - i) * log_q
        for i in range(k + 1)
    ]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def binomial_p_value(changed: int, n: int, max_changed: float) -> float:
    """p-value of H0 "the changed-answer rate exceeds max_changed" given `changed` of `n`."""
    if n == 0:
        return 1.0
    return binomial_cdf(changed, n, max_changed)


def clopper_pearson_upper(changed: int, n: int, delta: float) -> float:
    """The exact one-sided (1 - delta) upper confidence bound on a rate seen as changed / n."""
    if n == 0 or changed >= n:
        return 1.0
    low, high = changed / n, 1.0
    for _ in range(60):  # bisection: the cdf falls as the rate rises
        mid = (low + high) / 2
        if binomial_cdf(changed, n, mid) > delta:
            low = mid
        else:
            high = mid
    return high


def streams_needed(max_changed: float, delta: float) -> int:
    """Fewest calibration streams that can certify any exit (all of them unchanged)."""
    return math.ceil(math.log(delta) / math.log1p(-max_changed))


@dataclass(frozen=True)
class Certificate:
    """What the test certified: the threshold (None: none yet), at n streams, and its evidence."""

    threshold: float | None
    n: int
    changed: int  # streams whose answer the certified threshold would change
    exits: int  # streams it would cut
    max_changed: float
    delta: float

    @property
    def changed_rate(self) -> float:
        """The changed-answer rate seen on the calibration streams."""
        return self.changed / self.n if self.n else 0.0

    @property
    def upper_bound(self) -> float:
        """Its exact (1 - delta) upper bound."""
        return clopper_pearson_upper(self.changed, self.n, self.delta)


def fixed_sequence(
    changed: Sequence[int],
    exits: Sequence[int],
    n: int,
    *,
    max_changed: float = 0.01,
    delta: float = 0.1,
    thresholds: Sequence[float] = THRESHOLDS,
) -> Certificate:
    """The lowest threshold of the descending grid reached before the first non-rejection.

    `changed[i]` and `exits[i]` count the calibration streams threshold i would change / cut.
    """
    if not 0 < max_changed < 1 or not 0 < delta < 1:
        raise ValueError("max_changed and delta must lie in (0, 1)")
    if not len(changed) == len(exits) == len(thresholds):
        raise ValueError("one count per threshold")
    best: int | None = None
    for index in range(len(thresholds)):
        if binomial_p_value(changed[index], n, max_changed) > delta:
            break
        best = index
    if best is None or exits[best] == 0:  # a threshold nothing reaches certifies nothing useful
        return Certificate(None, n, 0, 0, max_changed, delta)
    return Certificate(thresholds[best], n, changed[best], exits[best], max_changed, delta)
