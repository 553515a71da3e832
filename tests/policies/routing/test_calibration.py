from __future__ import annotations

import numpy as np
import pytest

from difficulty.errors import InvalidInputError
from policies.routing.calibration import Target, calibrate, fit_recalibration, knob_grid
from policies.routing.policy import PolicyConfig, choose, recalibrated


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    hard = rng.uniform(size=n)
    p = np.stack([1 - hard, np.full(n, 0.9)], axis=1)
    correct = (rng.uniform(size=(n, 2)) < p).astype(float)
    tokens = np.stack([np.full(n, 100.0), np.full(n, 1000.0)], axis=1)
    return p, tokens, correct, tokens


def test_target_validation() -> None:
    with pytest.raises(InvalidInputError):
        Target()
    with pytest.raises(InvalidInputError):
        Target(accuracy_loss=0.01, tokens=100)
    with pytest.raises(InvalidInputError):
        Target(accuracy_loss=2.0)
    assert "1.00 points" in Target(accuracy_loss=0.01).describe()


def test_knob_grids_start_at_the_most_accurate_setting() -> None:
    assert knob_grid("utility", [[100.0, 1000.0]])[0] == 0.0
    assert knob_grid("target", [[1.0]])[0] == 0.0


def test_knob_grids_hold_every_switch_of_the_forecasts() -> None:
    # Forecasts a few thousandths apart: the fixed epsilon grid (step 0.005) cannot tell
    # these items apart, the data's own breakpoints can.
    rng = np.random.default_rng(0)
    p = np.stack([0.9 - rng.uniform(0, 0.004, 300), np.full(300, 0.95)], axis=1)
    c = np.tile([100.0, 1000.0], (300, 1))
    for kind in ("target", "utility"):
        grid = knob_grid(kind, c, p)
        assert grid[0] == 0.0 and np.all(np.diff(grid) > 0)
        routed = {
            int((choose(PolicyConfig(kind, lam=k, epsilon=k), p, c, "ab") == 0).sum()) for k in grid
        }
        assert routed == set(range(301))
        coarse = {
            int((choose(PolicyConfig(kind, lam=k, epsilon=k), p, c, "ab") == 0).sum())
            for k in knob_grid(kind, c)
        }
        assert len(coarse) < 301


def test_tighter_targets_choose_more_accurate_knobs() -> None:
    p, c, y, t = _data(2000, 0)
    loose = calibrate(PolicyConfig("utility"), Target(accuracy_loss=0.1), p, c, y, t, "ab", 1)
    tight = calibrate(PolicyConfig("utility"), Target(accuracy_loss=0.01), p, c, y, t, "ab", 1)
    assert loose.lam > tight.lam


def test_calibrated_loss_meets_target_in_sample_with_margin() -> None:
    p, c, y, t = _data(2000, 1)
    tuned = calibrate(PolicyConfig("target"), Target(accuracy_loss=0.02), p, c, y, t, "ab", 1)
    idx = choose(tuned, p, c, "ab")
    loss = y[:, 1].mean() - y[np.arange(2000), idx].mean()
    assert loss <= 0.02
    assert (idx == 0).mean() > 0.1


def test_token_target() -> None:
    p, c, y, t = _data(2000, 2)
    tuned = calibrate(PolicyConfig("utility"), Target(tokens=400.0), p, c, y, t, "ab", 1)
    idx = choose(tuned, p, c, "ab")
    assert t[np.arange(2000), idx].mean() <= 400.0


def test_fixed_policy_cannot_be_calibrated() -> None:
    p, c, y, t = _data(10, 3)
    with pytest.raises(InvalidInputError):
        calibrate(PolicyConfig("fixed", profile="a"), Target(tokens=1.0), p, c, y, t, "ab", 1)


def test_recalibration_flattens_a_forecast_without_signal() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    informative = rng.uniform(0.05, 0.95, n)
    noise = rng.uniform(0.05, 0.95, n)
    correct = np.stack([rng.uniform(size=n) < informative, rng.uniform(size=n) < 0.9], axis=1)
    recal = dict(
        (name, (a, b))
        for name, a, b in fit_recalibration(
            np.stack([informative, noise], axis=1), correct.astype(float), ["good", "noisy"]
        )
    )
    assert recal["good"][0] > 0.7
    assert abs(recal["noisy"][0]) < 0.15
    policy = PolicyConfig(recalibration=tuple((k, a, b) for k, (a, b) in recal.items()))
    flat = recalibrated(policy, np.stack([informative, noise], axis=1), ["good", "noisy"])
    assert flat[:, 1].std() < 0.02
    assert flat[:, 1].mean() == pytest.approx(0.9, abs=0.03)


def test_recalibration_skips_profiles_without_both_outcomes() -> None:
    p = np.full((20, 1), 0.5)
    assert fit_recalibration(p, np.ones((20, 1)), ["always"]) == ()


def test_recalibration_never_turns_a_forecast_upside_down() -> None:
    rng = np.random.default_rng(5)
    n = 400
    p = rng.uniform(0.05, 0.95, n)
    correct = (rng.uniform(size=n) < 1 - p).astype(float)  # ranks outcomes backwards
    ((_, slope, intercept),) = fit_recalibration(p[:, None], correct[:, None], ["backwards"])
    assert slope == 0.0
    assert 1 / (1 + np.exp(-intercept)) == pytest.approx(correct.mean())


def test_recalibration_gives_a_forecast_without_evidence_of_skill_its_base_rate() -> None:
    # A slightly positive slope that is noise (a few hundred items, nothing to learn) and a
    # forecast that never varies both count as no skill: the base rate, exactly.
    rng = np.random.default_rng(12)  # a draw whose noise has a positive slope (1.6 SEs)
    n = 300
    noise = rng.uniform(0.9, 0.99, n)
    constant = np.full(n, 0.97)
    correct = (rng.uniform(size=(n, 2)) < 0.95).astype(float)
    slopes = {
        name: (a, b)
        for name, a, b in fit_recalibration(
            np.stack([noise, constant], axis=1), correct, ["noise", "constant"], min_skill_z=2.0
        )
    }
    for j, name in enumerate(["noise", "constant"]):
        a, b = slopes[name]
        assert a == 0.0
        assert 1 / (1 + np.exp(-b)) == pytest.approx(correct[:, j].mean())
    # Without the skill test the noise keeps a positive slope of its own.
    loose = fit_recalibration(noise[:, None], correct[:, :1], ["noise"], min_skill_z=-np.inf)
    assert loose[0][1] != 0.0


def test_recalibration_keeps_a_weak_but_real_forecast() -> None:
    rng = np.random.default_rng(7)
    n = 634
    p = rng.uniform(0.7, 0.99, n)
    correct = (rng.uniform(size=n) < p).astype(float)
    ((_, slope, _),) = fit_recalibration(p[:, None], correct[:, None], ["weak"])
    assert slope > 0.3


def test_random_margin_is_zero_for_the_reference_and_sign_of_skill() -> None:
    from policies.routing.calibration import random_margin

    rng = np.random.default_rng(3)
    n = 400
    hard = rng.uniform(size=n) < 0.3
    y = np.stack([~hard, np.ones(n, dtype=bool)], axis=1).astype(float)
    t = np.stack([np.full(n, 100.0), np.full(n, 1000.0)], axis=1)
    # the reference everywhere is on the random line: margin exactly 0
    assert random_margin(y, t, np.ones(n, dtype=np.intp), 1, 2.0) == 0.0
    # sending exactly the easy items to the cheap profile beats random by a lot
    assert random_margin(y, t, hard.astype(np.intp), 1, 2.0) > 0.15
    # sending the hard ones down is far below the line
    assert random_margin(y, t, (~hard).astype(np.intp), 1, 0.0) < -0.15


def test_a_forecast_no_better_than_random_calibrates_to_the_reference() -> None:
    from policies.routing.calibration import base_rates

    rng = np.random.default_rng(4)
    n = 600
    y = np.stack([rng.uniform(size=n) < 0.95, rng.uniform(size=n) < 0.97], axis=1).astype(float)
    t = np.stack([np.full(n, 300.0), np.full(n, 2000.0)], axis=1)
    p = np.stack([rng.uniform(0.85, 0.99, n), np.full(n, 0.97)], axis=1)  # pure noise
    tuned = calibrate(
        PolicyConfig("target"), Target(accuracy_loss=0.05), p, t, y, t, ["cheap", "ref"], 1
    )
    assert tuned.recalibration == base_rates(y, ["cheap", "ref"])
    assert (choose(tuned, p, t, ["cheap", "ref"]) == 1).all()
    # without the random check the same noise is trusted to send items down
    loose = calibrate(
        PolicyConfig("target"),
        Target(accuracy_loss=0.05),
        p,
        t,
        y,
        t,
        ["cheap", "ref"],
        1,
        beat_random=False,
    )
    assert (choose(loose, p, t, ["cheap", "ref"]) == 0).any()
