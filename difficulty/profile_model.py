"""One profile's learned parts: P(correct) and log-tokens, each a linear head + boosted trees."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from difficulty.calibration import Calibrator, fit_calibrator
from difficulty.linear import LinearHead, fit_linear

__all__ = ["BoostSettings", "Head", "ProfileModel", "fit_head", "fit_profile"]

MIN_ROWS = 10  # below this a target gets a constant forecast: trees would only memorise


@dataclass(frozen=True)
class BoostSettings:
    """Hyper-parameters of one fit, copied from the estimator."""

    n_estimators: int
    learning_rate: float
    num_leaves: int
    min_child_samples: int
    colsample_bytree: float
    subsample: float
    reg_lambda: float
    linear_strength: float  # C of the logistic head (ridge alpha = 1 / C)
    calibration: str
    inner_folds: int
    early_stopping_rounds: int
    embedding_dim: int
    n_jobs: int
    random_state: int
    # P(correct) only: with a `linear_grid`, a logistic model on every feature at unit
    # variance (C from the grid) competes with the head above; the better inner-fold AUC wins
    # (`linear_only`: the linear model alone).
    linear_grid: tuple[float, ...] = ()
    linear_only: bool = False
    # With a `linear_grid`: the default head's logistic model (unstandardised, C =
    # `linear_strength`) competes with the grid on the same inner-fold AUC.
    grid_keeps_default: bool = False

    def lgb_params(self, objective: str) -> dict[str, Any]:
        """LightGBM parameters for `objective` (deterministic, quiet)."""
        return {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.colsample_bytree,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1.0 else 0,
            "lambda_l2": self.reg_lambda,
            "max_bin": 63,
            "num_threads": self.n_jobs,
            "seed": self.random_state,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }


@dataclass(frozen=True, eq=False)
class Head:
    """raw(x) = linear(x) + trees(x); the booster may be None when no tree helped."""

    linear: LinearHead
    booster: Any  # lightgbm.Booster | None

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The raw score (a logit for P(correct), log1p(tokens) for tokens)."""
        out = self.linear.score(x)
        if self.booster is not None:
            # OpenMP threads only spin against each other on a handful of rows.
            threads = 1 if x.shape[0] < 1000 else 0
            out = out + self.booster.predict(x, raw_score=True, num_threads=threads)
        return np.asarray(out, dtype=np.float64)


def fit_head(
    x: np.ndarray, y: np.ndarray, strata: np.ndarray, kind: str, s: BoostSettings
) -> tuple[Head, np.ndarray]:
    """Fit a head and return it with out-of-fold raw scores (empty when folds are too small).

    Inner folds give the linear head's out-of-fold score, which the trees boost from, and the
    early-stopped round count for the final trees trained on every row.
    """
    if kind == "correct" and s.linear_grid:
        return _best_of(x, y, strata, s)
    return _fit_boosted(x, y, strata, kind, s)


def _inner_splits(
    x: np.ndarray, strata: np.ndarray, s: BoostSettings
) -> list[tuple[np.ndarray, np.ndarray]] | None:
    from sklearn.model_selection import StratifiedKFold

    k = s.inner_folds
    counts = np.unique(strata, return_counts=True)[1]
    if k < 2 or counts.min() < k:
        return None
    return list(StratifiedKFold(k, shuffle=True, random_state=s.random_state).split(x, strata))


def _best_of(
    x: np.ndarray, y: np.ndarray, strata: np.ndarray, s: BoostSettings
) -> tuple[Head, np.ndarray]:
    """The standardised logistic model with the grid's best inner-fold AUC, boosted by trees
    (early-stopped on inner folds) unless `linear_only`."""
    splits = _inner_splits(x, strata, s)
    if splits is None:
        return _fit_boosted(x, y, strata, "correct", s)

    def linear(rows: np.ndarray, c: float, standardise: bool = True) -> LinearHead:
        return fit_linear(
            x[rows], y[rows], "logistic", c, s.embedding_dim, standardise_embedding=standardise
        )

    def out_of_fold(c: float, standardise: bool) -> np.ndarray:
        oof = np.zeros(len(y))
        for train, valid in splits:
            oof[valid] = linear(train, c, standardise).score(x[valid])
        return oof

    candidates = [(c, True) for c in s.linear_grid]
    if s.grid_keeps_default:
        candidates.append((s.linear_strength, False))
    # Ties go to the earlier (by convention, more regularised) C.
    (c, standardise), oof = max(
        (((c, std), out_of_fold(c, std)) for c, std in candidates),
        key=lambda co: _auc(co[1], y),
    )
    final = linear(np.arange(len(y)), c, standardise)
    if s.linear_only:
        return Head(final, None), oof
    return _boost(x, y, "cross_entropy", s, splits, final, oof)


def _fit_boosted(
    x: np.ndarray, y: np.ndarray, strata: np.ndarray, kind: str, s: BoostSettings
) -> tuple[Head, np.ndarray]:
    linear_kind, objective = ("logistic", "cross_entropy") if kind == "correct" else ("ridge", "l2")
    strength = s.linear_strength if kind == "correct" else 1.0 / s.linear_strength
    final_linear = fit_linear(x, y, linear_kind, strength, s.embedding_dim)
    splits = _inner_splits(x, strata, s)
    if splits is None:
        return Head(final_linear, None), np.array([])
    base = np.zeros(len(y))
    for train, valid in splits:
        base[valid] = fit_linear(x[train], y[train], linear_kind, strength, s.embedding_dim).score(
            x[valid]
        )
    return _boost(x, y, objective, s, splits, final_linear, base)


def _boost(
    x: np.ndarray,
    y: np.ndarray,
    objective: str,
    s: BoostSettings,
    splits: list[tuple[np.ndarray, np.ndarray]],
    final_linear: LinearHead,
    base: np.ndarray,
) -> tuple[Head, np.ndarray]:
    """Trees boosted from a linear head's out-of-fold score, rounds early-stopped per fold."""
    import lightgbm as lgb

    params = s.lgb_params(objective)
    oof = base.copy()
    rounds: list[int] = []
    for train, valid in splits:
        dtrain = lgb.Dataset(x[train], y[train], init_score=base[train])
        dvalid = lgb.Dataset(x[valid], y[valid], init_score=base[valid], reference=dtrain)
        booster = lgb.train(
            params,
            dtrain,
            num_boost_round=s.n_estimators,
            valid_sets=[dvalid],
            callbacks=[lgb.early_stopping(s.early_stopping_rounds, verbose=False)],
        )
        best = booster.best_iteration or s.n_estimators
        rounds.append(best)
        oof[valid] += booster.predict(x[valid], raw_score=True, num_iteration=best)
    n_rounds = int(round(float(np.mean(rounds))))
    final_booster = None
    if n_rounds > 1:
        final_booster = lgb.train(
            params, lgb.Dataset(x, y, init_score=base), num_boost_round=n_rounds
        )
    return Head(final_linear, final_booster), oof


def _auc(score: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney AUC of `score` for labels y >= 0.5 (0.5 when one class is missing)."""
    pos = y >= 0.5
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    if n_pos == 0 or n_neg == 0:
        return 0.5
    from scipy.stats import rankdata

    ranks = rankdata(score)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@dataclass(frozen=True, eq=False)
class ProfileModel:
    """Everything learned for one profile; a None head means a constant forecast."""

    name: str
    n_items: int
    prior: float
    correct_head: Head | None
    calibrator: Calibrator
    tokens_head: Head | None
    tokens_median: float | None

    def p_correct(self, x: np.ndarray) -> np.ndarray:
        """Calibrated P(correct) for feature rows `x`."""
        if self.correct_head is None:
            return np.full(x.shape[0], self.prior)
        return self.calibrator.apply(self.correct_head.raw(x))

    def tokens(self, x: np.ndarray) -> np.ndarray:
        """Expected completion tokens for feature rows `x` (nan when unknown)."""
        if self.tokens_head is None:
            value = math.nan if self.tokens_median is None else self.tokens_median
            return np.full(x.shape[0], value)
        return np.expm1(np.maximum(self.tokens_head.raw(x), 0.0))


def fit_profile(
    name: str, x: np.ndarray, correct: np.ndarray, tokens: np.ndarray, s: BoostSettings
) -> ProfileModel:
    """Fit one profile from its columns of an ItemTable (nan = no outcome for that item)."""
    rows = ~np.isnan(correct)
    y = correct[rows]
    prior = float(y.mean()) if len(y) else 0.5
    head = None
    calibrator = Calibrator("identity")
    labels = np.round(y).astype(int)
    if len(y) >= MIN_ROWS and len(np.unique(labels)) == 2:
        head, oof = fit_head(x[rows], y, labels, "correct", s)
        if len(oof):
            calibrator = fit_calibrator(oof, y, s.calibration)
            if calibrator.method == "sigmoid" and calibrator.a <= 0:
                # Held-out scores rank successes no better than chance: forecast the prior.
                head, calibrator = None, Calibrator("identity")
    trows = ~np.isnan(tokens) & (tokens >= 0)
    t_head = None
    t_median = float(np.median(tokens[trows])) if trows.any() else None
    if trows.sum() >= MIN_ROWS:
        t = np.log1p(tokens[trows])
        # Stratify the inner folds by token quartile so each fold spans short and long.
        strata = np.searchsorted(np.quantile(t, [0.25, 0.5, 0.75]), t)
        t_head, _ = fit_head(x[trows], t, strata, "tokens", s)
    return ProfileModel(name, int(len(y)), prior, head, calibrator, t_head, t_median)
