"""Risk control: exact binomial tests, the fixed sequence stops at the first non-rejection."""

from __future__ import annotations

import math
import random

import pytest

from policies.convergence.risk import (
    THRESHOLDS,
    binomial_cdf,
    clopper_pearson_upper,
    fixed_sequence,
    streams_needed,
)


def test_binomial_cdf_matches_the_direct_sum() -> None:
    n, p = 40, 0.07
    for k in (0, 1, 3, 10):
        direct = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))
        assert binomial_cdf(k, n, p) == pytest.approx(direct, rel=1e-9)
    assert binomial_cdf(-1, n, p) == 0.0
    assert binomial_cdf(n, n, p) == 1.0


def test_clopper_pearson_upper_bound() -> None:
    # Zero events in n: the bound solves (1 - u)^n = delta.
    assert clopper_pearson_upper(0, 230, 0.1) == pytest.approx(1 - 0.1 ** (1 / 230), rel=1e-6)
    assert clopper_pearson_upper(3, 100, 0.1) > 0.03
    assert clopper_pearson_upper(0, 0, 0.1) == 1.0


def test_streams_needed_is_the_smallest_certifiable_sample() -> None:
    n = streams_needed(0.01, 0.1)
    assert n == 230
    size = len(THRESHOLDS)
    # Over exits: n unchanged exits certify, n - 1 cannot; over streams (the default) the same
    # with 1 exit.
    assert fixed_sequence([0] * size, [n - 1] * size, n - 1, over="exits").threshold is None
    assert fixed_sequence([0] * size, [n] * size, n, over="exits").threshold == THRESHOLDS[-1]
    assert fixed_sequence([0] * size, [1] * size, n - 1).threshold is None
    assert fixed_sequence([0] * size, [1] * size, n).threshold == THRESHOLDS[-1]


def test_grid_descends() -> None:
    assert list(THRESHOLDS) == sorted(THRESHOLDS, reverse=True)
    assert len(set(THRESHOLDS)) == len(THRESHOLDS)


def test_sequence_stops_at_first_failure_even_if_later_ones_pass() -> None:
    size = len(THRESHOLDS)
    changed = [0] * size
    changed[5] = 50  # threshold 5 changes too many; 6 onwards would pass again
    cert = fixed_sequence(changed, list(range(size)), 1000)
    assert cert.threshold == THRESHOLDS[4]
    assert cert.exits == 4
    cert = fixed_sequence(changed, [1000] * size, 1000)
    assert cert.threshold == THRESHOLDS[4] and cert.changed_rate == 0.0


def test_a_threshold_that_changes_one_exit_in_ten_is_refused_over_exits() -> None:
    # R1-Distill at 0.99: 10 of 582 streams exit, one of them changed. Over all streams that is
    # 0.17% and certifies; over its exits it is 10%.
    size = len(THRESHOLDS)
    changed, exits = [0] * size, [0] * size
    changed[20:], exits[20:] = [1] * (size - 20), [10] * (size - 20)
    assert fixed_sequence(changed, exits, 582).threshold == THRESHOLDS[-1]
    assert fixed_sequence(changed, exits, 582, over="exits").threshold is None


def test_untestable_top_thresholds_are_passed_over() -> None:
    # Nobody reaches the top ten thresholds; below them 400 unchanged exits certify.
    size = len(THRESHOLDS)
    exits = [0] * 10 + [400] * (size - 10)
    changed = [0] * 30 + [40] * (size - 30)
    cert = fixed_sequence(changed, exits, 400, over="exits")
    assert cert.threshold == THRESHOLDS[29] and cert.exits == 400
    assert cert.upper_bound == pytest.approx(clopper_pearson_upper(0, 400, 0.1))


def test_guarantee_over_exits_holds_when_few_streams_reach_the_top() -> None:
    # Each stream's best score is uniform; exiting at a threshold below it changes the answer
    # with a rate that rises as the threshold falls. The certified threshold's true rate over
    # its exits exceeds 1% in at most ~10% of calibrations.
    rng = random.Random(11)
    size = len(THRESHOLDS)
    true_rate = [0.02 * i / size for i in range(size)]
    misses = certified = 0
    runs = 200
    for _ in range(runs):
        n = 1500
        best = [rng.randrange(size + 1) for _ in range(n)]  # first grid index each one reaches
        u = [rng.random() for _ in range(n)]
        exits = [sum(b <= i for b in best) for i in range(size)]
        changed = [
            sum(b <= i and x < true_rate[i] for b, x in zip(best, u, strict=True))
            for i in range(size)
        ]
        cert = fixed_sequence(changed, exits, n, over="exits")
        if cert.threshold is not None:
            certified += 1
            misses += true_rate[THRESHOLDS.index(cert.threshold)] > 0.01
    assert certified > runs / 4
    assert misses / runs <= 0.1 + 0.05


def test_guarantee_holds_on_simulated_calibrations() -> None:
    # Streams whose would-be exit changes the answer with a rate rising as the threshold falls:
    # the certified threshold's true rate exceeds 1% in at most ~10% of calibrations.
    rng = random.Random(7)
    true_rate = [0.03 * i / len(THRESHOLDS) for i in range(len(THRESHOLDS))]
    misses = 0
    runs = 200
    for _ in range(runs):
        n = 400
        u = [rng.random() for _ in range(n)]
        changed = [sum(x < r for x in u) for r in true_rate]
        cert = fixed_sequence(changed, [n] * len(THRESHOLDS), n)
        if cert.threshold is not None:
            misses += true_rate[THRESHOLDS.index(cert.threshold)] > 0.01
    assert misses / runs <= 0.1 + 0.05


def test_bad_levels_are_refused() -> None:
    size = len(THRESHOLDS)
    with pytest.raises(ValueError):
        fixed_sequence([0] * size, [0] * size, 10, max_changed=0)
    with pytest.raises(ValueError):
        fixed_sequence([0], [0], 10)
