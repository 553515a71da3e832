"""Cross-fitted predictions: every item scored by a model that never saw it (k folds by item)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from difficulty.encoder import Encoder
from difficulty.errors import InvalidInputError
from difficulty.features import feature_matrix
from difficulty.items import ItemTable
from difficulty.model import DifficultyModel
from difficulty.outcomes import Outcome
from difficulty.profile_model import fit_profile

__all__ = [
    "CrossFitted",
    "ROUTING_HEAD",
    "ROUTING_MODEL_PARAMS",
    "assign_folds",
    "cross_fit",
    "cross_fit_target",
]

# The P(correct) head the simulator routes with: the trees boost from a logistic model on
# every feature at unit variance under a strong penalty (C chosen by inner-fold AUC, training
# items only) instead of the default's mildly penalised one. On mip it lifts Qwen2.5-32B's
# held-out AUC from 0.61 to about 0.68.
ROUTING_HEAD: dict[str, Any] = {"linear_grid": (0.0005, 0.001, 0.002), "grid_keeps_default": True}
# The same head as DifficultyModel hyper-parameters (the shipped model, `train --routing-head`).
# (The shipped model keeps the grid alone: `grid_keeps_default` is the simulator's.)
ROUTING_MODEL_PARAMS: dict[str, Any] = {"correct_linear_grid": ROUTING_HEAD["linear_grid"]}


@dataclass(frozen=True, eq=False)
class CrossFitted:
    """Out-of-fold forecasts beside the actual outcomes, one row per item.

    `p_correct`/`tokens` are predicted; `correct`/`actual_tokens` are what happened (nan where
    the profile has no outcome). `fold[i]` is the fold whose model scored item i.
    """

    item_ids: list[str]
    prompts: list[str]
    profiles: list[str]
    p_correct: np.ndarray
    tokens: np.ndarray
    fold: np.ndarray
    correct: np.ndarray
    actual_tokens: np.ndarray
    embeddings: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.item_ids)

    def column(self, profile: str) -> int:
        """Index of `profile` in the matrices."""
        try:
            return self.profiles.index(profile)
        except ValueError:
            raise InvalidInputError(f"unknown profile '{profile}'") from None


def assign_folds(
    item_ids: Sequence[str],
    folds: int,
    seed: int,
    groups: Sequence[str] | None = None,
    strata: Sequence[str] | None = None,
) -> np.ndarray:
    """A fold number per item: groups (default: one per item) shuffled with `seed`, then dealt
    round-robin stratum by stratum, so every fold gets its share of each stratum.

    Items of one group share a fold (a group takes the stratum of its first item).
    """
    if folds < 2:
        raise InvalidInputError("folds must be at least 2")
    keys = list(groups) if groups is not None else list(item_ids)
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    distinct = list(first)
    if len(distinct) < folds:
        raise InvalidInputError(f"{len(distinct)} items cannot be split in {folds} folds")
    labels = [strata[first[k]] if strata is not None else "" for k in distinct]
    order = np.random.default_rng(seed).permutation(len(distinct))
    # A stable sort keeps the shuffle inside each stratum; dealing in turn balances strata.
    order = order[np.argsort([labels[i] for i in order], kind="stable")]
    group_fold = np.empty(len(distinct), dtype=np.int64)
    group_fold[order] = np.arange(len(distinct)) % folds
    position = {key: i for i, key in enumerate(distinct)}
    return np.asarray([group_fold[position[k]] for k in keys], dtype=np.int64)


def _label_signature(correct: np.ndarray) -> list[str]:
    """Per item, its outcome on every profile as a string ('1', '0', '-' for none)."""
    return [
        "".join("-" if np.isnan(c) else ("1" if c >= 0.5 else "0") for c in row) for row in correct
    ]


def cross_fit(
    outcomes: Sequence[Outcome],
    *,
    folds: int = 5,
    seed: int = 0,
    encoder: Encoder | None = None,
    model_params: Mapping[str, Any] | None = None,
    profiles: Sequence[str] | None = None,
    correct_head: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CrossFitted:
    """Train one model per fold on the other folds' items and score the held-out items.

    Folds are drawn by item, stratified by outcomes; items with identical prompt text always
    share a fold. `correct_head` overrides the P(correct) head's settings (fields of
    `difficulty.profile_model.BoostSettings`, e.g. `ROUTING_HEAD`). `progress(done, total)` is
    called after each (fold, profile) fit, for a caller's progress bar.
    """
    table = ItemTable.from_outcomes(outcomes, profiles)
    enc = encoder if encoder is not None else Encoder()
    embeddings = enc.encode(table.prompts)
    # The same prompt under two ids (one question in two datasets) must not straddle folds;
    # stratifying by outcomes keeps rare failures spread evenly (an uneven spread biases AUC
    # below 0.5 when there is little to learn).
    fold = assign_folds(
        table.item_ids,
        folds,
        seed,
        groups=[p.strip() for p in table.prompts],
        strata=_label_signature(table.correct),
    )
    n, p = len(table), len(table.profiles)
    p_correct = np.full((n, p), np.nan)
    tokens = np.full((n, p), np.nan)
    params = dict(model_params or {})
    params.setdefault("random_state", seed)
    params.pop("encoder", None)
    # DifficultyModel.fit_table's own steps, on features computed once for every fold.
    settings = DifficultyModel(**params).boost_settings(int(embeddings.shape[1]))
    settings = replace(settings, **dict(correct_head or {}))
    x = feature_matrix(table.prompts, embeddings).astype(np.float64)
    for k in range(folds):
        test, train = fold == k, fold != k
        for j, name in enumerate(table.profiles):
            m = fit_profile(
                name, x[train], table.correct[train, j], table.tokens[train, j], settings
            )
            p_correct[test, j] = np.clip(m.p_correct(x[test]), 0.0, 1.0)
            tokens[test, j] = m.tokens(x[test])
            if progress is not None:
                progress(k * p + j + 1, folds * p)
    return CrossFitted(
        item_ids=list(table.item_ids),
        prompts=list(table.prompts),
        profiles=list(table.profiles),
        p_correct=p_correct,
        tokens=tokens,
        fold=fold,
        correct=table.correct,
        actual_tokens=table.tokens,
        embeddings=embeddings,
    )


def cross_fit_target(
    prompts: Sequence[str],
    target: Sequence[float],
    *,
    folds: int = 5,
    seed: int = 0,
    encoder: Encoder | None = None,
    model_params: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cross-fitted predictions of any numeric per-prompt target (e.g. a difficulty level),
    with the model's features and regressor (linear head + trees); returns (predicted, fold)."""
    from difficulty.features import feature_matrix
    from difficulty.profile_model import fit_head

    y = np.asarray(target, dtype=np.float64)
    if len(y) != len(prompts):
        raise InvalidInputError("one target per prompt")
    enc = encoder if encoder is not None else Encoder()
    embeddings = enc.encode(prompts)
    x = feature_matrix(list(prompts), embeddings).astype(np.float64)
    params = {k: v for k, v in (model_params or {}).items() if k != "encoder"}
    params.setdefault("random_state", seed)
    settings = DifficultyModel(**params).boost_settings(int(embeddings.shape[1]))
    strata = np.searchsorted(np.unique(np.quantile(y, [0.25, 0.5, 0.75])), y)
    fold = assign_folds(
        [str(i) for i in range(len(y))],
        folds,
        seed,
        groups=list(prompts),
        strata=[str(v) for v in strata],
    )
    predicted = np.full(len(y), np.nan)
    for k in range(folds):
        test = fold == k
        head, _ = fit_head(x[~test], y[~test], strata[~test], "tokens", settings)
        predicted[test] = head.raw(x[test])
    return predicted, fold
