"""One profile's heads: the default, and a standardised linear head with C from inner folds."""

from __future__ import annotations

import numpy as np

from difficulty.profile_model import BoostSettings, fit_head, fit_profile

DIM = 32


def _settings(**kw: object) -> BoostSettings:
    base = dict(
        n_estimators=40,
        learning_rate=0.1,
        num_leaves=7,
        min_child_samples=20,
        colsample_bytree=0.5,
        subsample=1.0,
        reg_lambda=1.0,
        linear_strength=0.3,
        calibration="sigmoid",
        inner_folds=3,
        early_stopping_rounds=10,
        embedding_dim=DIM,
        n_jobs=1,
        random_state=0,
    )
    base.update(kw)
    return BoostSettings(**base)  # type: ignore[arg-type]


def _spread(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A weak signal spread thinly over many embedding-scale columns (what the linear model
    on standardised features reads and trees on a few columns at a time do not)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, DIM + 2)) * 0.05
    w = rng.normal(size=DIM + 2)
    p = 1 / (1 + np.exp(-(1.5 + 25 * x @ w / np.sqrt(DIM))))
    return x, (rng.uniform(size=n) < p).astype(float)


def test_default_head_is_linear_plus_trees() -> None:
    x, y = _spread(600, 0)
    head, oof = fit_head(x, y, y.astype(int), "correct", _settings())
    assert head.linear.scale[0] == 1.0  # embedding columns only centred
    assert oof.shape == (600,)


def test_linear_only_head_has_no_trees_and_standardised_columns() -> None:
    x, y = _spread(600, 0)
    head, oof = fit_head(
        x, y, y.astype(int), "correct", _settings(linear_grid=(0.001, 0.01), linear_only=True)
    )
    assert head.booster is None
    assert head.linear.scale[0] != 1.0
    assert oof.shape == (600,)


def test_trees_boost_from_the_standardised_linear_head_when_they_help() -> None:
    # One sharp threshold on a text-scale column, which no linear score reads: trees add it.
    rng = np.random.default_rng(2)
    x = np.hstack([rng.normal(size=(600, DIM)) * 0.05, rng.normal(size=(600, 2))])
    y = ((np.abs(x[:, DIM]) < 0.7) ^ (rng.uniform(size=600) < 0.05)).astype(float)
    head, oof = fit_head(x, y, y.astype(int), "correct", _settings(linear_grid=(0.001, 0.01)))
    assert head.booster is not None and head.linear.scale[0] != 1.0
    only, only_oof = fit_head(
        x, y, y.astype(int), "correct", _settings(linear_grid=(0.001, 0.01), linear_only=True)
    )
    auc = lambda s: float((s[y > 0.5][:, None] > s[y < 0.5][None, :]).mean())  # noqa: E731
    assert auc(oof) > auc(only_oof) + 0.2


def test_the_grid_picks_c_by_inner_auc() -> None:
    # Twenty times the signal's natural penalty cannot matter for ranking...
    x, y = _spread(600, 1)
    s = _settings(linear_grid=(1e-6, 0.002), linear_only=True)
    head, _ = fit_head(x, y, y.astype(int), "correct", s)
    # ... but C = 1e-6 shrinks the coefficients to almost nothing: the grid keeps 0.002.
    assert np.abs(head.linear.coef).max() > 1e-3


def test_out_of_fold_forecasts_of_the_linear_head_rank_held_out_items() -> None:
    x, y = _spread(800, 3)
    s = _settings(linear_grid=(0.0005, 0.001, 0.002), linear_only=True)
    model = fit_profile("p", x[:600], y[:600], np.full(600, 100.0), s)
    p = model.p_correct(x[600:])
    yy = y[600:] > 0.5
    auc = (p[yy][:, None] > p[~yy][None, :]).mean()
    assert auc > 0.6


def test_the_grid_can_keep_the_default_linear_head_when_it_ranks_better() -> None:
    # A strong signal on two text-scale columns: the grid's heavy penalties on standardised
    # columns shrink it to nothing useful, the default unstandardised head reads it.
    rng = np.random.default_rng(5)
    x = np.hstack([rng.normal(size=(600, DIM)) * 0.05, rng.normal(size=(600, 2))])
    y = (rng.uniform(size=600) < 1 / (1 + np.exp(-3 * x[:, DIM]))).astype(float)
    s = _settings(linear_grid=(1e-6,), linear_only=True, grid_keeps_default=True)
    head, _ = fit_head(x, y, y.astype(int), "correct", s)
    assert head.linear.scale[0] == 1.0  # the default head: embedding columns only centred
    alone, _ = fit_head(
        x, y, y.astype(int), "correct", _settings(linear_grid=(1e-6,), linear_only=True)
    )
    assert alone.linear.scale[0] != 1.0
