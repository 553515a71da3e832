"""Where effort helps: a "reasoning benefit" per (prompt, strength) that the effort gains read.

The shipped model reads it (`python -m difficulty.train_general`, rule "pairs");
`GeneralModel(benefit=None)` or `--benefit none` fits without it. The thinking gain is learned
from math and code items only, so alone it cannot tell that reasoning adds nothing to a
greeting or a translation. Faithful-cot answers ten task types (math and not:
dates, sports, StrategyQA, saycan, CLUTRR) both ways, MiP and CRUXEval answer math and code
both ways: `benefit_targets` takes, for each item and strength answered both ways, how much
more often the effortful answer was good than the direct one. A LightGBM regressor on the
prompt's features and strength forecasts it for any prompt (`fit_benefit`), cross-fitted on
the rows the gains are fitted on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from difficulty.general_data import DescribedRows

__all__ = ["BENEFIT_RULES", "benefit_targets", "bound_benefit", "fit_benefit", "predict_benefit"]

# "pairs": effort's gain over a direct answer, items answered both ways only; "-rel": that
# gain as a share of the direct failures; "alpaca": also a 0 for each AlpacaEval item at the
# strong tier, whose direct answers are all good enough there (nothing left to gain).
BENEFIT_RULES = ("pairs", "alpaca", "pairs-rel", "alpaca-rel")
_NOTHING_TO_GAIN = ("alpacaeval",)


def benefit_targets(
    rows: DescribedRows, *, rule: str = "pairs"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(prompt index, strength, target, source) per item, strength and source with evidence:
    an item's effortful and direct outcomes are paired within their own source only."""
    if rule not in BENEFIT_RULES:
        raise ValueError(f"benefit rule must be one of {BENEFIT_RULES}, not {rule!r}")
    direct: dict[tuple[str, int, float], list[float]] = {}
    effortful: dict[tuple[str, int, float], list[float]] = {}
    for i, s, e, c, so in zip(
        rows.prompt_index, rows.strength, rows.effort, rows.correct, rows.source, strict=True
    ):
        if np.isnan(c):
            continue
        (direct if e == "direct" else effortful).setdefault((so, int(i), float(s)), []).append(c)
    keys = [k for k in effortful if k in direct]
    target = [_gain(float(np.mean(effortful[k])), float(np.mean(direct[k])), rule) for k in keys]
    if rule.startswith("alpaca"):
        top = float(np.max(rows.strength))
        for k, v in direct.items():
            if k[0] in _NOTHING_TO_GAIN and k[2] == top and min(v) == 1.0:
                keys.append(k)
                target.append(0.0)
    index = np.asarray([k[1] for k in keys], dtype=np.int64)
    strength = np.asarray([k[2] for k in keys], dtype=np.float64)
    return index, strength, np.asarray(target), [k[0] for k in keys]


def _gain(effort: float, direct: float, rule: str) -> float:
    if rule.endswith("-rel") and direct < 1.0:
        return max(-1.0, (effort - direct) / (1.0 - direct))
    return effort - direct


def fit_benefit(
    rows: DescribedRows,
    prompt_features: np.ndarray,
    cross_fit: np.ndarray,
    train: Callable[[np.ndarray, np.ndarray, np.ndarray], Any],
    rule: str,
    folds: int,
) -> tuple[Any, np.ndarray]:
    """The benefit booster on all evidence, and its forecast for every row of `rows`; on the
    `cross_fit` rows, from a booster that never saw their prompt's fold (prompt index % folds).

    `train(x, target, weight)` fits one booster; each source weighs the same in total."""
    index, strength, target, source = benefit_targets(rows, rule=rule)
    names, counts = np.unique(source, return_counts=True)
    share = dict(zip(names.tolist(), (len(source) / (len(names) * counts)).tolist(), strict=True))
    weight = np.asarray([share[s] for s in source])
    x = np.column_stack([prompt_features[index], strength])
    booster = train(x, target, weight)
    rows_x = np.column_stack([prompt_features[rows.prompt_index], rows.strength])
    out = predict_benefit(booster, rows_x)
    for k in range(folds):
        held = cross_fit & (rows.prompt_index % folds == k)
        if held.any():
            keep = index % folds != k
            out[held] = predict_benefit(train(x[keep], target[keep], weight[keep]), rows_x[held])
    return booster, out


def predict_benefit(booster: Any, x: np.ndarray) -> np.ndarray:
    """The benefit forecast for rows of (prompt features, strength), bounded to -1..1."""
    return bound_benefit(booster.predict(x, num_threads=1))


def bound_benefit(raw: np.ndarray) -> np.ndarray:
    """A benefit booster's output bounded to -1..1 (a share of items gained or lost)."""
    return np.clip(raw, -1.0, 1.0)
