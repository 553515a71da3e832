"""DifficultyModel: per profile, LightGBM P(correct) (calibrated) and expected completion tokens."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from difficulty.calibration import Calibrator, fit_calibrator
from difficulty.encoder import Encoder, check_prompts
from difficulty.errors import InvalidInputError, ModelFormatError, NotFoundError
from difficulty.features import FEATURE_NAMES, FEATURE_VERSION, feature_matrix
from difficulty.items import ItemTable
from difficulty.outcomes import Outcome
from difficulty.predictions import Predictions, ProfilePrediction

__all__ = ["DifficultyModel", "ProfileModel", "FORMAT_VERSION"]

FORMAT_VERSION = 1
_MIN_ROWS = 10  # below this a profile gets a constant forecast: trees would only memorise


@dataclass(frozen=True, eq=False)
class ProfileModel:
    """The learned parts of one profile; a None booster means a constant forecast."""

    name: str
    n_items: int
    prior: float
    calibrator: Calibrator
    correct_booster: Any  # lightgbm.Booster | None
    tokens_booster: Any  # lightgbm.Booster | None
    tokens_median: float | None

    def p_correct(self, x: np.ndarray) -> np.ndarray:
        """Calibrated P(correct) for feature rows `x`."""
        if self.correct_booster is None:
            return np.full(x.shape[0], self.prior)
        return self.calibrator.apply(self.correct_booster.predict(x, raw_score=True))

    def tokens(self, x: np.ndarray) -> np.ndarray:
        """Expected completion tokens for feature rows `x` (nan when unknown)."""
        if self.tokens_booster is None:
            value = math.nan if self.tokens_median is None else self.tokens_median
            return np.full(x.shape[0], value)
        return np.expm1(self.tokens_booster.predict(x))


class DifficultyModel:
    """A scikit-learn style estimator: `fit(outcomes)`, then `predict(prompts)` per profile."""

    def __init__(
        self,
        *,
        n_estimators: int = 400,
        learning_rate: float = 0.03,
        num_leaves: int = 7,
        min_child_samples: int = 20,
        colsample_bytree: float = 0.3,
        subsample: float = 0.8,
        reg_lambda: float = 5.0,
        calibration: str = "sigmoid",
        calibration_folds: int = 3,
        early_stopping_rounds: int = 40,
        profiles: Sequence[str] | None = None,
        encoder: Encoder | None = None,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.colsample_bytree = colsample_bytree
        self.subsample = subsample
        self.reg_lambda = reg_lambda
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.early_stopping_rounds = early_stopping_rounds
        self.profiles = profiles
        self.encoder = encoder
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------

    def _params(self, objective: str) -> dict[str, Any]:
        return {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.colsample_bytree,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1.0 else 0,
            "lambda_l2": self.reg_lambda,
            "num_threads": self.n_jobs,
            "seed": self.random_state,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }

    def _boost(
        self, objective: str, x: np.ndarray, y: np.ndarray, strata: np.ndarray
    ) -> tuple[Any, np.ndarray]:
        """Inner k-fold: out-of-fold raw scores and the early-stopped round count, then a final
        booster on every row with that many rounds."""
        import lightgbm as lgb
        from sklearn.model_selection import StratifiedKFold

        params = self._params(objective)
        oof = np.zeros(len(y))
        rounds: list[int] = []
        k = self.calibration_folds
        if k >= 2 and np.bincount(strata).min(initial=len(y)) >= k:
            splitter = StratifiedKFold(k, shuffle=True, random_state=self.random_state)
            for train, valid in splitter.split(x, strata):
                dtrain = lgb.Dataset(x[train], y[train], free_raw_data=True)
                dvalid = lgb.Dataset(x[valid], y[valid], reference=dtrain)
                booster = lgb.train(
                    params,
                    dtrain,
                    num_boost_round=self.n_estimators,
                    valid_sets=[dvalid],
                    callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
                )
                best = booster.best_iteration or self.n_estimators
                rounds.append(best)
                oof[valid] = booster.predict(x[valid], raw_score=True, num_iteration=best)
        n_rounds = max(10, int(round(float(np.mean(rounds))))) if rounds else self.n_estimators
        final = lgb.train(params, lgb.Dataset(x, y), num_boost_round=n_rounds)
        return final, (oof if rounds else np.array([]))

    def _fit_profile(
        self, name: str, x: np.ndarray, correct: np.ndarray, tokens: np.ndarray
    ) -> ProfileModel:
        rows = ~np.isnan(correct)
        y = correct[rows]
        prior = float(y.mean()) if len(y) else 0.5
        booster = None
        calibrator = Calibrator("identity")
        labels = np.round(y).astype(int)
        if len(y) >= _MIN_ROWS and len(np.unique(labels)) == 2:
            booster, oof = self._boost("cross_entropy", x[rows], y, labels)
            if len(oof):
                calibrator = fit_calibrator(oof, y, self.calibration)
        trows = ~np.isnan(tokens) & (tokens >= 0)
        t_booster = None
        t_median = float(np.median(tokens[trows])) if trows.any() else None
        if trows.sum() >= _MIN_ROWS:
            t = np.log1p(tokens[trows])
            # Stratify the inner folds by token quartile so each fold spans short and long.
            strata = np.searchsorted(np.quantile(t, [0.25, 0.5, 0.75]), t)
            t_booster, _ = self._boost("regression", x[trows], t, strata)
        return ProfileModel(name, int(len(y)), prior, calibrator, booster, t_booster, t_median)

    def fit(
        self, outcomes: Sequence[Outcome], embeddings: np.ndarray | None = None
    ) -> DifficultyModel:
        """Learn every profile from outcome rows; `embeddings` (optional) has one row per item
        in `ItemTable.from_outcomes(outcomes).item_ids` order, else the encoder computes them."""
        table = ItemTable.from_outcomes(outcomes, self.profiles)
        return self.fit_table(table, embeddings)

    def fit_table(self, table: ItemTable, embeddings: np.ndarray | None = None) -> DifficultyModel:
        """Fit from an already pivoted ItemTable (see `fit`)."""
        self.encoder_ = self.encoder if self.encoder is not None else Encoder()
        if embeddings is None:
            embeddings = self.encoder_.encode(table.prompts)
        if embeddings.shape[0] != len(table):
            raise InvalidInputError("embeddings must have one row per item")
        x = feature_matrix(table.prompts, embeddings)
        self.profiles_ = list(table.profiles)
        self.n_features_in_ = int(x.shape[1])
        self.models_ = [
            self._fit_profile(name, x, table.correct[:, j], table.tokens[:, j])
            for j, name in enumerate(table.profiles)
        ]
        self.training_hash_ = table.fingerprint()
        self.metrics_: dict[str, Any] = {}
        return self

    # -- predicting ------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this DifficultyModel is not fitted yet; call fit() or load()")

    @property
    def boosters_(self) -> dict[str, tuple[Any, Any]]:
        """Raw LightGBM boosters per profile: (P(correct), log tokens); None where constant."""
        self._check_fitted()
        return {m.name: (m.correct_booster, m.tokens_booster) for m in self.models_}

    def predict_features(self, x: np.ndarray) -> Predictions:
        """Forecasts from a ready feature matrix (see `features.feature_matrix`)."""
        self._check_fitted()
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise InvalidInputError(f"expected {self.n_features_in_} feature columns")
        p = np.column_stack([m.p_correct(x) for m in self.models_])
        t = np.column_stack([m.tokens(x) for m in self.models_])
        return Predictions(tuple(self.profiles_), np.clip(p, 0.0, 1.0), t)

    def predict(self, prompts: Sequence[str], embeddings: np.ndarray | None = None) -> Predictions:
        """Forecasts for every profile of every prompt."""
        self._check_fitted()
        prompts = check_prompts(prompts)
        if embeddings is None:
            embeddings = self.encoder_.encode(prompts)
        return self.predict_features(feature_matrix(prompts, embeddings))

    def predict_one(
        self, prompt: str, profiles: Sequence[str] | None = None
    ) -> dict[str, ProfilePrediction]:
        """Forecasts for one prompt (the serving path: no cache, raw boosters)."""
        self._check_fitted()
        if profiles is not None:
            for name in profiles:
                if name not in self.profiles_:
                    raise NotFoundError(
                        f"unknown profile '{name}' (the model has: {', '.join(self.profiles_)})"
                    )
        vec = self.encoder_.encode_one(prompt)
        row = self.predict_features(feature_matrix([prompt], vec[None, :])).row(0)
        return row if profiles is None else {name: row[name] for name in profiles}

    # -- persistence -----------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write LightGBM text models and metadata.json into `directory` (created)."""
        self._check_fitted()
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        entries = []
        for j, m in enumerate(self.models_):
            entry: dict[str, Any] = {
                "name": m.name,
                "n_items": m.n_items,
                "prior": m.prior,
                "calibration": m.calibrator.to_json(),
                "correct_model": None,
                "tokens_model": None,
                "tokens_median": m.tokens_median,
            }
            if m.correct_booster is not None:
                entry["correct_model"] = f"profile{j}.correct.txt"
                m.correct_booster.save_model(str(out / entry["correct_model"]))
            if m.tokens_booster is not None:
                entry["tokens_model"] = f"profile{j}.tokens.txt"
                m.tokens_booster.save_model(str(out / entry["tokens_model"]))
            entries.append(entry)
        meta = {
            "format_version": FORMAT_VERSION,
            "feature_version": FEATURE_VERSION,
            "feature_names": list(FEATURE_NAMES),
            "n_features": self.n_features_in_,
            "encoder": self.encoder_.name,
            "profiles": entries,
            "training_data_hash": self.training_hash_,
            "params": {k: v for k, v in self.get_params().items() if k != "encoder"},
            "metrics": self.metrics_,
        }
        (out / "metadata.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        return out

    @classmethod
    def load(cls, directory: str | Path, encoder: Encoder | None = None) -> DifficultyModel:
        """Read a saved model (no training data needed); problems raise ModelFormatError."""
        import lightgbm as lgb

        root = Path(directory)
        if not (root / "metadata.json").is_file():
            raise ModelFormatError(f"no model at {root} (metadata.json missing)")
        try:
            meta = json.loads((root / "metadata.json").read_text())
            version = meta["feature_version"]
            n_features = int(meta["n_features"])
            entries = meta["profiles"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFormatError(f"corrupt model metadata in {root}: {exc}") from None
        if version != FEATURE_VERSION:
            raise ModelFormatError(
                f"model at {root} has feature version {version}, this thinkgate needs "
                f"{FEATURE_VERSION}; retrain it with `thinkgate train`"
            )

        def booster(name: str | None) -> Any:
            if name is None:
                return None
            path = root / name
            try:
                b = lgb.Booster(model_file=str(path))
            except (lgb.basic.LightGBMError, OSError) as exc:
                raise ModelFormatError(f"cannot read {path}: {str(exc).strip()}") from None
            if b.num_feature() != n_features:
                raise ModelFormatError(f"{path} expects {b.num_feature()} features")
            return b

        params = {k: v for k, v in meta.get("params", {}).items() if k in _PARAM_NAMES}
        model = cls(**params)
        try:
            model.models_ = [
                ProfileModel(
                    name=str(e["name"]),
                    n_items=int(e["n_items"]),
                    prior=float(e["prior"]),
                    calibrator=Calibrator.from_json(e["calibration"]),
                    correct_booster=booster(e["correct_model"]),
                    tokens_booster=booster(e["tokens_model"]),
                    tokens_median=None if e["tokens_median"] is None else float(e["tokens_median"]),
                )
                for e in entries
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(f"corrupt profile entry in {root}: {exc}") from None
        model.profiles_ = [m.name for m in model.models_]
        model.n_features_in_ = n_features
        model.training_hash_ = str(meta.get("training_data_hash", ""))
        model.metrics_ = dict(meta.get("metrics") or {})
        model.encoder_ = encoder if encoder is not None else Encoder(str(meta["encoder"]))
        return model

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        """Hyper-parameters, as scikit-learn's `get_params`."""
        return {name: getattr(self, name) for name in _PARAM_NAMES}

    def set_params(self, **params: Any) -> DifficultyModel:
        """Set hyper-parameters, as scikit-learn's `set_params`."""
        for name, value in params.items():
            if name not in _PARAM_NAMES:
                raise ValueError(f"unknown parameter {name!r}")
            setattr(self, name, value)
        return self


_PARAM_NAMES = (
    "n_estimators",
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "colsample_bytree",
    "subsample",
    "reg_lambda",
    "calibration",
    "calibration_folds",
    "early_stopping_rounds",
    "profiles",
    "encoder",
    "n_jobs",
    "random_state",
)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
