"""Risk control for early exit: the lowest exit threshold whose changed-answer rate is certified.

The risk is a rate over streams: the share of all streams whose answer the exit changes from
the full stream's, i.e. the points of accuracy an exit may cost (or, with `over="exits"`, the
stricter share of the threshold's own exits that it changes). Learn-then-Test (Angelopoulos et
al., 2021) with fixed-sequence testing: for each threshold of a grid, from the most cautious
down, the null "the rate exceeds `max_changed`" is tested with an exact binomial p-value (over
the n streams, or over the threshold's exits: given how many exit there, those are i.i.d. draws
of the exiting ones); the first threshold that cannot be rejected at level `delta` ends the
sequence. Over exits, a threshold too few streams reach to ever be rejected (fewer than
`streams_needed` exits) is passed over untested: which thresholds are testable depends on how
many streams reach them, never on whether their answers changed, and exits only grow as the
threshold falls, so this only moves the start of the sequence down to where there is evidence.
The guarantee: with probability at least 1 - `delta`, the threshold returned changes the answer
of at most `max_changed` of the streams (or of its exits) exchangeable with the calibration
ones. Pure functions, no I/O.
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
# certified thresholds of the bundled traces lie (32 steps per decade of 1 - t: fixed-sequence
# testing spends the whole miss probability on each test, so a finer grid costs no confidence
# and lets the certified threshold sit closer to the first failing one); an ordering that
# starts at the top spends nothing on thresholds that never exit.
THRESHOLDS: tuple[float, ...] = tuple(
    [round(1 - 10 ** (-e / 32), 6) for e in range(128, 39, -1)]  # 0.9999 .. 0.9438
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
    """Fewest exits that can certify a threshold (all of them unchanged)."""
    return math.ceil(math.log(delta) / math.log1p(-max_changed))


@dataclass(frozen=True)
class Certificate:
    """What the test certified: the threshold (None: none yet), at n streams, and its evidence."""

    threshold: float | None
    n: int  # calibration streams
    changed: int  # of its exits, those whose answer the certified threshold would change
    exits: int  # streams it would cut
    max_changed: float
    delta: float
    over: str = "streams"  # the rate's denominator: every stream, or the threshold's exits

    @property
    def denominator(self) -> int:
        """How many streams the rate is counted over."""
        return self.exits if self.over == "exits" else self.n

    @property
    def changed_rate(self) -> float:
        """The changed-answer rate on the calibration streams (over `denominator`)."""
        return self.changed / self.denominator if self.denominator else 0.0

    @property
    def upper_bound(self) -> float:
        """Its exact (1 - delta) upper bound."""
        return clopper_pearson_upper(self.changed, self.denominator, self.delta)


def fixed_sequence(
    changed: Sequence[int],
    exits: Sequence[int],
    n: int,
    *,
    max_changed: float = 0.01,
    delta: float = 0.1,
    thresholds: Sequence[float] = THRESHOLDS,
    over: str = "streams",
) -> Certificate:
    """The lowest threshold of the descending grid reached before the first non-rejection.

    `changed[i]` and `exits[i]` count the calibration streams threshold i would change / cut
    (of `n`); the top thresholds with fewer exits than `streams_needed` are passed over.
    """
    if not 0 < max_changed < 1 or not 0 < delta < 1:
        raise ValueError("max_changed and delta must lie in (0, 1)")
    if not len(changed) == len(exits) == len(thresholds):
        raise ValueError("one count per threshold")
    if over not in ("exits", "streams"):
        raise ValueError("over must be 'exits' or 'streams'")
    per_exit = over == "exits"
    testable = streams_needed(max_changed, delta)
    best: int | None = None
    started = False
    for index in range(len(thresholds)):
        if per_exit and not started and exits[index] < testable:
            continue  # no outcome here could be rejected: start where the evidence is
        started = True
        trials = exits[index] if per_exit else n
        if binomial_p_value(changed[index], trials, max_changed) > delta:
            break
        best = index
    if best is None or exits[best] == 0:  # a threshold nothing reaches certifies nothing useful
        return Certificate(None, n, 0, 0, max_changed, delta, over)
    return Certificate(thresholds[best], n, changed[best], exits[best], max_changed, delta, over)
