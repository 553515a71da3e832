"""DifficultyModel: per profile, calibrated P(correct) and expected completion tokens."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from difficulty.calibration import Calibrator
from difficulty.encoder import Encoder, check_prompts
from difficulty.errors import InvalidInputError, ModelFormatError, NotFoundError
from difficulty.features import FEATURE_NAMES, FEATURE_VERSION, feature_matrix
from difficulty.items import ItemTable
from difficulty.linear import LinearHead
from difficulty.outcomes import Outcome
from difficulty.predictions import Predictions, ProfilePrediction
from difficulty.profile_model import BoostSettings, Head, ProfileModel, fit_profile

__all__ = ["DEFAULT_MODEL_DIR", "DifficultyModel", "FORMAT_VERSION"]

FORMAT_VERSION = 1
# The model shipped with the package (built by `python -m difficulty.train_default`).
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "default_model"


class DifficultyModel:
    """A scikit-learn style estimator: `fit(outcomes)`, then `predict(prompts)` per profile.

    For each profile, P(correct) and log tokens are each a regularised linear head on the
    embedding and text features, boosted by LightGBM trees; P(correct) is calibrated on
    out-of-fold scores.
    """

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 7,
        min_child_samples: int = 20,
        colsample_bytree: float = 0.3,
        subsample: float = 0.8,
        reg_lambda: float = 5.0,
        linear_strength: float = 0.3,
        calibration: str = "sigmoid",
        calibration_folds: int = 3,
        early_stopping_rounds: int = 30,
        correct_linear_grid: Sequence[float] = (),
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
        self.linear_strength = linear_strength
        self.calibration = calibration
        self.calibration_folds = calibration_folds
        self.early_stopping_rounds = early_stopping_rounds
        # P(correct) only: when set, the trees boost from a standardised logistic model whose
        # penalty C is picked from this grid by inner-fold AUC (`difficulty.crossfit.ROUTING_HEAD`).
        self.correct_linear_grid = correct_linear_grid
        self.profiles = profiles
        self.encoder = encoder
        self.n_jobs = n_jobs
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------

    def fit(
        self, outcomes: Sequence[Outcome], embeddings: np.ndarray | None = None
    ) -> DifficultyModel:
        """Learn every profile from outcome rows; `embeddings` (optional) has one row per item
        in `ItemTable.from_outcomes(outcomes).item_ids` order, else the encoder computes them."""
        table = ItemTable.from_outcomes(outcomes, self.profiles)
        return self.fit_table(table, embeddings)

    def fit_table(self, table: ItemTable, embeddings: np.ndarray | None = None) -> DifficultyModel:
        """Fit from an already pivoted ItemTable (see `fit`)."""
        if self.calibration not in ("sigmoid", "isotonic", "identity"):
            raise InvalidInputError(f"unknown calibration '{self.calibration}'")
        self.encoder_ = self.encoder if self.encoder is not None else Encoder()
        if embeddings is None:
            embeddings = self.encoder_.encode(table.prompts)
        if embeddings.shape[0] != len(table):
            raise InvalidInputError("embeddings must have one row per item")
        x = feature_matrix(table.prompts, embeddings).astype(np.float64)
        settings = self.boost_settings(int(embeddings.shape[1]))
        self.profiles_ = list(table.profiles)
        self.n_features_in_ = int(x.shape[1])
        self.models_ = [
            fit_profile(name, x, table.correct[:, j], table.tokens[:, j], settings)
            for j, name in enumerate(table.profiles)
        ]
        self.training_hash_ = table.fingerprint()
        self.metrics_: dict[str, Any] = {}
        return self

    def boost_settings(self, embedding_dim: int) -> BoostSettings:
        """The hyper-parameters as one fit sees them."""
        return BoostSettings(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            colsample_bytree=self.colsample_bytree,
            subsample=self.subsample,
            reg_lambda=self.reg_lambda,
            linear_strength=self.linear_strength,
            calibration=self.calibration,
            inner_folds=self.calibration_folds,
            early_stopping_rounds=self.early_stopping_rounds,
            linear_grid=tuple(float(c) for c in self.correct_linear_grid),
            embedding_dim=embedding_dim,
            n_jobs=self.n_jobs,
            random_state=self.random_state,
        )

    # -- predicting ------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "models_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this DifficultyModel is not fitted yet; call fit() or load()")

    @property
    def boosters_(self) -> dict[str, tuple[Any, Any]]:
        """Raw LightGBM boosters per profile: (P(correct), log tokens); None where absent."""
        self._check_fitted()
        return {
            m.name: (
                m.correct_head.booster if m.correct_head else None,
                m.tokens_head.booster if m.tokens_head else None,
            )
            for m in self.models_
        }

    def predict_features(self, x: np.ndarray) -> Predictions:
        """Forecasts from a ready feature matrix (see `features.feature_matrix`)."""
        self._check_fitted()
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise InvalidInputError(f"expected {self.n_features_in_} feature columns")
        x = x.astype(np.float64, copy=False)
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
                    known = ", ".join(self.profiles_)
                    raise NotFoundError(f"unknown profile '{name}' (the model has: {known})")
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
                "tokens_median": m.tokens_median,
            }
            for kind, head in (("correct", m.correct_head), ("tokens", m.tokens_head)):
                entry[kind] = None
                if head is not None:
                    trees = None
                    if head.booster is not None:
                        trees = f"profile{j}.{kind}.txt"
                        head.booster.save_model(str(out / trees))
                    entry[kind] = {"linear": head.linear.to_json(), "trees": trees}
            entries.append(entry)
        # Tree files of a model saved here before, which this one does not use, would mislead.
        written = {e[k]["trees"] for e in entries for k in ("correct", "tokens") if e[k]}
        for stale in out.glob("profile*.*.txt"):
            if re.fullmatch(r"profile\d+\.(correct|tokens)\.txt", stale.name) and (
                stale.name not in written
            ):
                stale.unlink()
        meta = {
            "format_version": FORMAT_VERSION,
            "feature_version": FEATURE_VERSION,
            "feature_names": list(FEATURE_NAMES),
            "n_features": self.n_features_in_,
            "encoder": self.encoder_.name,
            "training_data_hash": self.training_hash_,
            "params": {k: v for k, v in self.get_params().items() if k != "encoder"},
            "metrics": self.metrics_,
            "profiles": entries,
        }
        (out / "metadata.json").write_text(json.dumps(meta, indent=1, default=_json_default))
        return out

    @classmethod
    def load(cls, directory: str | Path, encoder: Encoder | None = None) -> DifficultyModel:
        """Read a saved model (no training data needed); problems raise ModelFormatError."""
        root = Path(directory)
        if not (root / "metadata.json").is_file():
            raise ModelFormatError(f"no model at {root} (metadata.json missing)")
        try:
            meta = json.loads((root / "metadata.json").read_text())
            version = meta["feature_version"]
            n_features = int(meta["n_features"])
            entries = list(meta["profiles"])
            encoder_name = str(meta["encoder"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelFormatError(f"corrupt model metadata in {root}: {exc}") from None
        if version != FEATURE_VERSION:
            raise ModelFormatError(
                f"model at {root} has feature version {version}, this thinkgate needs "
                f"{FEATURE_VERSION}; retrain it with `thinkgate train`"
            )
        try:
            models = [_load_profile(root, e, n_features) for e in entries]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelFormatError(f"corrupt profile entry in {root}: {exc!r}") from None
        params = {k: v for k, v in meta.get("params", {}).items() if k in _PARAM_NAMES}
        model = cls(**params)
        model.models_ = models
        model.profiles_ = [m.name for m in models]
        model.n_features_in_ = n_features
        model.training_hash_ = str(meta.get("training_data_hash", ""))
        model.metrics_ = dict(meta.get("metrics") or {})
        model.encoder_ = encoder if encoder is not None else Encoder(encoder_name)
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
    "linear_strength",
    "calibration",
    "calibration_folds",
    "early_stopping_rounds",
    "correct_linear_grid",
    "profiles",
    "encoder",
    "n_jobs",
    "random_state",
)


def _load_head(root: Path, data: Any, n_features: int) -> Head | None:
    import lightgbm as lgb

    if data is None:
        return None
    linear = LinearHead.from_json(data["linear"], n_features)
    booster = None
    if data["trees"] is not None:
        path = root / str(data["trees"])
        try:
            booster = lgb.Booster(model_file=str(path))
        except (lgb.basic.LightGBMError, OSError) as exc:
            raise ModelFormatError(f"cannot read {path}: {str(exc).strip()}") from None
        if booster.num_feature() != n_features:
            raise ModelFormatError(f"{path} expects {booster.num_feature()} features")
    return Head(linear, booster)


def _load_profile(root: Path, e: dict[str, Any], n_features: int) -> ProfileModel:
    median = e["tokens_median"]
    return ProfileModel(
        name=str(e["name"]),
        n_items=int(e["n_items"]),
        prior=float(e["prior"]),
        correct_head=_load_head(root, e["correct"], n_features),
        calibrator=Calibrator.from_json(e["calibration"]),
        tokens_head=_load_head(root, e["tokens"], n_features),
        tokens_median=None if median is None else float(median),
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
