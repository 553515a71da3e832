from __future__ import annotations

import numpy as np
import pytest

from policies.routing.metrics import apgr, cpt, oracle_gap_share, pgr_curve

# Four items: weak right on 0 and 1, strong right on 0, 2, 3. acc_w = 0.5, acc_s = 0.75.
WEAK = [1, 1, 0, 0]
STRONG = [1, 0, 1, 1]


def test_pgr_curve_by_hand() -> None:
    # Scores send item 2, then 3, then 0, then 1 to the strong profile.
    x, y = pgr_curve([0.3, 0.1, 0.9, 0.8], WEAK, STRONG)
    # Gains in that order: +1, +1, 0, -1 (per 4 items), over a gap of 0.25.
    assert x.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert y == pytest.approx([0.0, 1.0, 2.0, 2.0, 1.0])


def test_apgr_by_hand() -> None:
    # Trapezoids of width 0.25 over 0, 1, 2, 2, 1: (0.5 + 1.5 + 2 + 1.5) / 4.
    assert apgr([0.3, 0.1, 0.9, 0.8], WEAK, STRONG) == pytest.approx(1.375)


def test_cpt_by_hand_interpolates() -> None:
    score = [0.3, 0.1, 0.9, 0.8]
    assert cpt(score, WEAK, STRONG, 0.5) == pytest.approx(0.125)
    assert cpt(score, WEAK, STRONG, 2.0) == pytest.approx(0.5)
    assert cpt(score, WEAK, STRONG, 3.0) == 1.0


def test_constant_score_is_random_routing() -> None:
    rng = np.random.default_rng(1)
    weak = rng.uniform(size=200) < 0.5
    strong = weak | (rng.uniform(size=200) < 0.5)
    assert apgr(np.zeros(200), weak, strong) == pytest.approx(0.5)
    assert cpt(np.zeros(200), weak, strong, 0.5) == pytest.approx(0.5)
    assert cpt(np.zeros(200), weak, strong, 0.8) == pytest.approx(0.8)


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError):
        apgr([0.1, 0.2], [1, 1], [0, 1])  # strong is not better
    with pytest.raises(ValueError):
        apgr([0.1], [1, 0], [1, 1])


def test_oracle_gap_share() -> None:
    assert oracle_gap_share(1000.0, 600.0, 200.0) == pytest.approx(0.5)
    assert np.isnan(oracle_gap_share(100.0, 90.0, 100.0))
