"""GeneralModel: P(good enough) and tokens for any profile described by effort and strength.

P(good) = sigmoid(base(prompt, strength) + gain_effort(base, strength)): `base` is LightGBM on
the prompt's features and strength (monotone in strength) from every direct row; the gain of
cot or thinking is a penalised logistic model on the base logit and strength, fitted only on
items answered both ways (difficulty.general_gain), so where a direct answer is near certain
effort has no headroom to add. A novelty index of training-prompt embeddings says how far a
prompt is from anything seen.

`n_bags` > 1 fits that many complete models at disjoint seeds and averages their logits
(P(good)) and log tokens: one fit's routing moved by 3-6 points from seed to seed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from difficulty.descriptions import EFFORTS, Description
from difficulty.encoder import Encoder
from difficulty.errors import InvalidInputError, ModelFormatError
from difficulty.features import FEATURE_NAMES, FEATURE_VERSION, feature_matrix
from difficulty.general_benefit import bound_benefit, fit_benefit, predict_benefit
from difficulty.general_data import DescribedRows
from difficulty.general_gain import LinearGain, gain_inputs
from difficulty.novelty import NoveltyIndex
from difficulty.predictions import ProfilePrediction
from difficulty.stacked_boosters import stack_boosters

__all__ = ["GENERAL_MODEL_DIR", "GeneralModel", "description_columns"]

GENERAL_MODEL_DIR = Path(__file__).resolve().parent / "general_model"
_BOOSTER_FILE = re.compile(r"general\.(?:base|benefit|tokens)(?:\.\d+)?\.txt")
_FORMAT = 1  # one model; a bag (n_bags > 1) is written as _BAG_FORMAT
_BAG_FORMAT = 2
_FOLDS = 3  # cross-fitting of the base logit the gain boosts from
# The benefit booster is kept smoother than the base: with the base's 15 leaves, 50 rows a leaf
# and 200 trees, level-5 MATH read as "a strong model gains little" (MATH L5 dev -> think 87%).
_BENEFIT_LEAVES, _BENEFIT_MIN_LEAF, _BENEFIT_TREES = 7, 200, 100


def description_columns(strength: np.ndarray, effort: Sequence[str]) -> np.ndarray:
    """(n, 3): strength level, effort is cot, effort is think."""
    e = np.asarray(effort)
    return np.column_stack([strength, e == "cot", e == "think"]).astype(np.float64)


class GeneralModel:
    """A scikit-learn style estimator: `fit(rows, embeddings)`, then `predict_one(prompt, ds)`."""

    def __init__(
        self,
        *,
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        colsample_bytree: float = 0.5,
        reg_lambda: float = 5.0,
        source_balance: bool = True,
        gain_penalty: float = 1.0,
        benefit: str | None = None,
        tier_balance: bool = True,
        index_size: int = 4000,
        encoder: Encoder | None = None,
        n_jobs: int = 1,
        n_bags: int = 1,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.source_balance = source_balance
        self.gain_penalty = gain_penalty  # L2 on the standardised gain weights (x 1e-3)
        self.benefit = benefit  # None, or a difficulty.general_benefit rule: a gain input
        # The base weighs each (source, strength tier) alike: weighed by source alone, a tier
        # counted as many times as the source had models of it (AlpacaEval: one strong model
        # of twelve), and the strong tier's everyday success was forecast at ~0.8, not ~1.
        self.tier_balance = tier_balance
        self.index_size = index_size
        self.encoder = encoder
        self.n_jobs = n_jobs
        # Member k is fitted at seed random_state * n_bags + k, so consecutive random_states
        # give disjoint bags (random_state + k would share n_bags - 1 members with the next).
        self.n_bags = n_bags
        self.random_state = random_state

    # -- fitting ---------------------------------------------------------------------------

    def _params(self, objective: str, n_desc: int, n_features: int) -> dict[str, Any]:
        # Success rises with strength (column n_features), whatever the prompt.
        monotone = [0] * (n_features + n_desc)
        if objective == "binary":
            monotone[n_features] = 1  # strength
        return {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.colsample_bytree,
            "lambda_l2": self.reg_lambda,
            "monotone_constraints": monotone,
            "max_bin": 63,
            "num_threads": self.n_jobs,
            "seed": self.random_state,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }

    def _weights(self, rows: DescribedRows, mask: np.ndarray, by_tier: bool = False) -> np.ndarray:
        """Each source weighs the same in total (else faithful-cot's 120k rows would rule);
        `by_tier`: each strength tier of each source weighs the same."""
        sources = np.asarray(rows.source)[mask]
        if not self.source_balance:
            return np.ones(len(sources))
        if by_tier:
            tiers = np.asarray(rows.strength)[mask].astype(str)
            sources = np.char.add(np.char.add(sources.astype(str), "|"), tiers)
        names, counts = np.unique(sources, return_counts=True)
        totals = len(sources) / (len(names) * counts)
        share = dict(zip(names.tolist(), totals.tolist(), strict=True))
        return np.asarray([share[s] for s in sources])

    def fit(self, rows: DescribedRows, embeddings: np.ndarray | None = None) -> GeneralModel:
        """Learn from described rows; `embeddings` has one row per `rows.prompts` entry.

        Three boosters: `base` = logit P(good | prompt, strength) of a direct answer, from
        every direct row; `gains_` = what cot or thinking adds to that logit, learned only from
        items answered both ways at the same strength (offset by the base's cross-fitted
        logit, so a source where only thinking models appear cannot pass its own base rate off
        as a gain of thinking); `tokens` = log completion tokens from every row. With
        `benefit` set, a fourth, `benefit` (difficulty.general_benefit), is a gain input.
        """
        if self.n_bags < 1:
            raise InvalidInputError("n_bags must be at least 1")
        self.encoder_ = self.encoder if self.encoder is not None else Encoder()
        if embeddings is None:
            embeddings = self.encoder_.encode(rows.prompts)
        if embeddings.shape[0] != len(rows.prompts):
            raise InvalidInputError("embeddings must have one row per prompt")
        px = feature_matrix(rows.prompts, embeddings).astype(np.float64)
        self.n_features_in_ = int(px.shape[1])
        if self.n_bags == 1:
            self._fit_member(rows, px)
        else:
            members: list[GeneralModel] = []
            for k in range(self.n_bags):
                seed = self.random_state * self.n_bags + k
                member = GeneralModel(**{**self.get_params(), "n_bags": 1, "random_state": seed})
                member.n_features_in_ = self.n_features_in_
                members.append(member._fit_member(rows, px))
            self.members_ = members
        self._stack()
        used = np.unique(rows.prompt_index)
        self.novelty_ = NoveltyIndex.fit(
            embeddings[used], size=self.index_size, random_state=self.random_state
        )
        self.sources_ = sorted(set(rows.source))
        self.metrics_: dict[str, Any] = {}
        return self

    def _fit_member(self, rows: DescribedRows, px: np.ndarray) -> GeneralModel:
        """Fit `boosters_` and `gains_` at this model's seed from the prompt features."""
        import lightgbm as lgb

        desc = description_columns(rows.strength, rows.effort)
        x = np.hstack([px[rows.prompt_index], desc])
        known = ~np.isnan(rows.correct)
        direct = known & (np.asarray(rows.effort) == "direct")
        paired = known & _paired(rows)
        base_params = self._params("binary", 1, self.n_features_in_)
        base_x = x[:, : self.n_features_in_ + 1]

        def base_fit(mask: np.ndarray) -> Any:
            data = lgb.Dataset(
                base_x[mask],
                rows.correct[mask],
                weight=self._weights(rows, mask, self.tier_balance),
            )
            return lgb.train(base_params, data, num_boost_round=self.n_estimators)

        self.boosters_: dict[str, Any] = {"base": base_fit(direct)}
        # The gain boosts from the base logit of a model that never saw the item.
        offset = np.zeros(len(rows))
        fold = rows.prompt_index % _FOLDS
        for k in range(_FOLDS):
            held = paired & (fold == k)
            if held.any():
                model = base_fit(direct & (fold != k))
                offset[held] = model.predict(base_x[held], raw_score=True)
        benefit = None
        if self.benefit:
            params = self._params("regression", 1, self.n_features_in_)
            params.update(num_leaves=_BENEFIT_LEAVES, min_data_in_leaf=_BENEFIT_MIN_LEAF)

            def train(xb: np.ndarray, target: np.ndarray, weight: np.ndarray) -> Any:
                data = lgb.Dataset(xb, target, weight=weight)
                return lgb.train(params, data, num_boost_round=_BENEFIT_TREES)

            self.boosters_["benefit"], benefit = fit_benefit(
                rows, px, paired, train, self.benefit, _FOLDS
            )
        self.gains_ = self._fit_gains(rows, x, offset, paired, benefit)
        tokens = np.log1p(rows.tokens)
        mask = ~np.isnan(tokens)
        data = lgb.Dataset(x[mask], tokens[mask], weight=self._weights(rows, mask))
        params = self._params("regression", 3, self.n_features_in_)
        self.boosters_["tokens"] = lgb.train(params, data, num_boost_round=self.n_estimators)
        self.members_ = [self]
        return self

    def _fit_gains(
        self,
        rows: DescribedRows,
        x: np.ndarray,
        offset: np.ndarray,
        paired: np.ndarray,
        benefit: np.ndarray | None,
    ) -> dict[str, LinearGain]:
        """One linear gain per effort on the paired rows. With a benefit, its weight is learned
        by the CoT gain (ten task types, math and not) and reused by the thinking gain: fitted
        on the math and code items thinking was measured on, it came out anywhere from -0.4 to
        0.8 (standardised) from one benefit variant to the next."""
        efforts = np.asarray(rows.effort)
        text = x[:, self.n_features_in_ - len(FEATURE_NAMES) : self.n_features_in_]
        gains: dict[str, LinearGain] = {}
        shared: float | None = None  # the benefit's weight in logits per unit, from CoT
        for effort in EFFORTS[1:]:  # one gain per effort: CoT and thinking differ
            mask = paired & (efforts == effort)
            row_benefit = None if benefit is None else benefit[mask]
            own = row_benefit if shared is None else None  # CoT comes first: it learns the weight
            fixed = 0.0 if row_benefit is None or shared is None else shared * row_benefit
            z = gain_inputs(text[mask], rows.strength[mask], offset[mask], own)
            gain = LinearGain.fit(
                z,
                rows.correct[mask],
                offset[mask] + fixed,
                self._weights(rows, mask),
                self.gain_penalty,
            )
            if own is not None:
                shared = float(gain.weights[2] / gain.scale[2])
            elif shared is not None:
                gain = gain.with_input(2, shared)
            gains[effort] = gain
        return gains

    # -- predicting ------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "members_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this GeneralModel is not fitted yet; call fit() or load()")

    def predict_matrix(
        self, features: np.ndarray, descriptions: Sequence[Description]
    ) -> tuple[np.ndarray, np.ndarray]:
        """P(good) and tokens, each (n_prompts, n_descriptions), from a feature matrix."""
        self._check_fitted()
        n, k = features.shape[0], len(descriptions)
        strength = np.asarray([d.strength_level for d in descriptions])
        desc = description_columns(strength, [d.effort for d in descriptions])
        x = np.hstack([np.repeat(features, k, axis=0), np.tile(desc, (n, 1))])
        # Logits and log tokens average: the bag is then one additive model, as each member is.
        logit, log_tokens = np.mean(self._raw_members(x, desc, n), axis=0)
        p = (1.0 / (1.0 + np.exp(-logit))).reshape(n, k)
        t = np.expm1(log_tokens).reshape(n, k)
        return np.clip(p, 0.0, 1.0), np.maximum(t, 1.0)

    def _raw_members(self, x: np.ndarray, desc: np.ndarray, n: int) -> list[np.ndarray]:
        """Each member's `_raw`; a bag's boosters answer in one call per target when stacked."""
        stacked = getattr(self, "stacked_", None)
        if not stacked or len(self.members_) < 2:
            return [m._raw(x, desc, n) for m in self.members_]
        head = x[:, : self.n_features_in_ + 1]
        base = stacked["base"].predict(head, raw_score=True, num_threads=1)
        tokens = stacked["tokens"].predict(x, raw_score=True, num_threads=1)
        benefit = None
        if "benefit" in stacked:
            raw = stacked["benefit"].predict(head, raw_score=True, num_threads=1)
            benefit = bound_benefit(raw)
        return [
            np.stack(
                [
                    m._logit(x, desc, n, base[:, k], None if benefit is None else benefit[:, k]),
                    tokens[:, k],
                ]
            )
            for k, m in enumerate(self.members_)
        ]

    def _stack(self) -> None:
        """Stack the members' boosters per target (difficulty.stacked_boosters), when a bag."""
        self.stacked_: dict[str, Any] = {}
        if len(self.members_) < 2:
            return
        for target in self.members_[0].boosters_:
            stacked = stack_boosters([m.boosters_[target] for m in self.members_])
            if stacked is None:
                self.stacked_ = {}  # one target unstackable: every target the slow way
                return
            self.stacked_[target] = stacked

    def _raw(self, x: np.ndarray, desc: np.ndarray, n: int) -> np.ndarray:
        """(2, rows of x): this member's logit of P(good) and its log tokens."""
        # One thread: serving predicts one row, and OpenMP threads spinning on a busy 2-core
        # machine took 8 ms a booster instead of 0.05 ms.
        head = x[:, : self.n_features_in_ + 1]
        base = self.boosters_["base"].predict(head, raw_score=True, num_threads=1)
        benefit = None
        if "benefit" in self.boosters_:
            benefit = predict_benefit(self.boosters_["benefit"], head)
        tokens = self.boosters_["tokens"].predict(x, num_threads=1)
        return np.stack([self._logit(x, desc, n, base, benefit), tokens])

    def _logit(
        self,
        x: np.ndarray,
        desc: np.ndarray,
        n: int,
        base: np.ndarray,
        benefit: np.ndarray | None,
    ) -> np.ndarray:
        """The logit of P(good) for each row of x: the base logit plus its effort's gain."""
        gain = np.zeros_like(base)
        text = x[:, self.n_features_in_ - len(FEATURE_NAMES) : self.n_features_in_]
        for j, effort in enumerate(EFFORTS[1:]):
            rows = np.tile(desc[:, 1 + j] > 0, n)
            if rows.any():
                extra = None if benefit is None else benefit[rows]
                z = gain_inputs(text[rows], x[rows, self.n_features_in_], base[rows], extra)
                gain[rows] = self.gains_[effort].predict(z)
        return np.asarray(base + gain)

    def predict(
        self,
        prompts: Sequence[str],
        descriptions: Sequence[Description],
        embeddings: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """P(good) and tokens of every prompt for every description."""
        self._check_fitted()
        if embeddings is None:
            embeddings = self.encoder_.encode(list(prompts))
        return self.predict_matrix(feature_matrix(prompts, embeddings), descriptions)

    def predict_one(
        self, prompt: str, descriptions: Mapping[str, Description]
    ) -> tuple[dict[str, ProfilePrediction], float]:
        """The serving path: predictions per named description, and the prompt's novelty."""
        self._check_fitted()
        vec = self.encoder_.encode_one(prompt)
        # Profiles that share a description (a search profile beside `direct`) share a row.
        unique = list(dict.fromkeys(descriptions.values()))
        p, t = self.predict_matrix(feature_matrix([prompt], vec[None, :]), unique)
        column = {d: j for j, d in enumerate(unique)}
        out = {
            name: ProfilePrediction(float(p[0, column[d]]), float(t[0, column[d]]))
            for name, d in descriptions.items()
        }
        return out, self.novelty(prompt, vec)

    def novelty(self, prompt: str, vec: np.ndarray) -> float:
        """Distance to the training prompts, raised by the share of the prompt's tokens the
        static table does not know (their embedding falls back towards the table's mean)."""
        near = self.novelty_.score(vec)
        static = self.encoder_._static_model() if self.encoder_.is_static else None
        coverage = static.coverage(prompt) if static is not None else 1.0
        return 1.0 - (1.0 - near) * coverage

    # -- persistence -----------------------------------------------------------------------

    def save(self, directory: str | Path) -> Path:
        """Write the two LightGBM text models, the novelty index and metadata.json."""
        self._check_fitted()
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        bagged = len(self.members_) > 1
        written: set[str] = set()
        for k, member in enumerate(self.members_):
            suffix = f".{k}" if bagged else ""  # a single model keeps format 1's file names
            for target, booster in member.boosters_.items():
                written.add(f"general.{target}{suffix}.txt")
                booster.save_model(str(out / f"general.{target}{suffix}.txt"))
        # Boosters of an earlier, larger (or single) model saved here would be read by nobody
        # but shipped with the directory: remove them so the folder is exactly this model.
        for stale in out.glob("general.*.txt"):
            if _BOOSTER_FILE.fullmatch(stale.name) and stale.name not in written:
                stale.unlink()
        self.novelty_.save(out / "novelty.npz")
        gains = [{e: g.to_json() for e, g in m.gains_.items()} for m in self.members_]
        meta = {
            "format_version": _BAG_FORMAT if bagged else _FORMAT,
            "feature_version": FEATURE_VERSION,
            "feature_names": list(FEATURE_NAMES),
            "n_features": self.n_features_in_,
            "efforts": list(EFFORTS),
            "encoder": self.encoder_.name,
            "sources": self.sources_,
            "gains": gains if bagged else gains[0],
            "params": {k: v for k, v in self.get_params().items() if k != "encoder"},
            "metrics": self.metrics_,
        }
        (out / "metadata.json").write_text(json.dumps(meta, indent=1))
        return out

    @classmethod
    def load(cls, directory: str | Path, encoder: Encoder | None = None) -> GeneralModel:
        """Read a saved general model; problems raise ModelFormatError."""
        import lightgbm as lgb

        root = Path(directory)
        try:
            meta = json.loads((root / "metadata.json").read_text())
            version = meta.get("format_version")
            if version not in (_FORMAT, _BAG_FORMAT) or "efforts" not in meta:
                raise ModelFormatError(
                    f"{root} is not a general model (format {_FORMAT} or {_BAG_FORMAT})"
                )
            if meta["feature_version"] != FEATURE_VERSION:
                raise ModelFormatError(f"model at {root} has another feature version")
            model = cls(**{k: v for k, v in meta["params"].items() if k in _PARAMS})
            targets = ["base", "tokens"] + (["benefit"] if meta["params"].get("benefit") else [])
            gains = meta["gains"] if version == _BAG_FORMAT else [meta["gains"]]
            if version == _BAG_FORMAT and len(gains) != model.n_bags:
                raise ValueError(f"{len(gains)} members' gains for n_bags={model.n_bags}")
            members: list[GeneralModel] = []
            for k, member_gains in enumerate(gains):
                member = model if version == _FORMAT else cls(**{**model.get_params(), "n_bags": 1})
                suffix = f".{k}" if version == _BAG_FORMAT else ""
                member.boosters_ = {
                    t: lgb.Booster(model_file=str(root / f"general.{t}{suffix}.txt"))
                    for t in targets
                }
                member.gains_ = {e: LinearGain.from_json(g) for e, g in member_gains.items()}
                member.n_features_in_ = int(meta["n_features"])
                member.members_ = [member]
                members.append(member)
            model.members_ = members
            model._stack()
            model.novelty_ = NoveltyIndex.load(root / "novelty.npz")
            model.n_features_in_ = int(meta["n_features"])
            model.sources_ = list(meta["sources"])
            model.metrics_ = dict(meta.get("metrics") or {})
            model.encoder_ = encoder if encoder is not None else Encoder(str(meta["encoder"]))
        except (OSError, ValueError, KeyError, TypeError, lgb.basic.LightGBMError) as exc:
            raise ModelFormatError(f"cannot read the general model at {root}: {exc}") from None
        return model

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        """Hyper-parameters, as scikit-learn's `get_params`."""
        return {name: getattr(self, name) for name in _PARAMS}


_PARAMS = (
    "n_estimators",
    "learning_rate",
    "num_leaves",
    "min_child_samples",
    "colsample_bytree",
    "reg_lambda",
    "source_balance",
    "gain_penalty",
    "benefit",
    "tier_balance",
    "index_size",
    "encoder",
    "n_jobs",
    "n_bags",
    "random_state",
)


def _paired(rows: DescribedRows) -> np.ndarray:
    """Effortful rows whose item also has a direct outcome at the same strength in the same
    source: a pair is two answers to one prompt under one source's prompting and grading
    (faithful-cot's CoT answer to a GSM8K problem is measured against faithful-cot's direct
    answer, not RouteLLM's or MiP's chat answers to the same problem)."""
    effort = np.asarray(rows.effort)
    known = ~np.isnan(rows.correct)
    direct = {
        (so, int(i), float(s))
        for i, s, ok, so in zip(
            rows.prompt_index, rows.strength, known & (effort == "direct"), rows.source, strict=True
        )
        if ok
    }
    return np.asarray(
        [
            e != "direct" and (so, int(i), float(s)) in direct
            for i, s, e, so in zip(
                rows.prompt_index, rows.strength, effort, rows.source, strict=True
            )
        ],
        dtype=bool,
    )
