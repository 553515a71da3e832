"""Cross-fitted quality of the difficulty model against simple baselines, as a report dict."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from difficulty.crossfit import CrossFitted, cross_fit
from difficulty.encoder import Encoder
from difficulty.outcomes import Outcome

__all__ = [
    "BASELINES",
    "auc",
    "brier",
    "expected_calibration_error",
    "tokens_spearman",
    "baseline_p_correct",
    "evaluate",
    "evaluation_report",
    "json_ready",
]

BASELINES = ("constant", "length", "tfidf")


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """ROC AUC of scores `p` for labels `y` (rounded to 0/1); nan when one class is absent."""
    from sklearn.metrics import roc_auc_score

    labels = np.round(np.asarray(y, dtype=np.float64)).astype(int)
    if len(np.unique(labels)) < 2:
        return math.nan
    return float(roc_auc_score(labels, p))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of probabilities `p` against outcomes `y` in [0, 1]."""
    return float(np.mean((np.asarray(p) - np.asarray(y)) ** 2)) if len(y) else math.nan


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE over equal-width probability bins: sum of |mean p - mean y| weighted by bin share."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if not len(y):
        return math.nan
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(p[inside].mean() - y[inside].mean())
    return float(total)


def tokens_spearman(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Spearman rank correlation over items where both are known; nan when fewer than 3."""
    from scipy.stats import spearmanr

    keep = ~np.isnan(predicted) & ~np.isnan(actual)
    if keep.sum() < 3 or np.ptp(actual[keep]) == 0 or np.ptp(predicted[keep]) == 0:
        return math.nan
    return float(spearmanr(predicted[keep], actual[keep])[0])


def _binary_report(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {"auc": auc(y, p), "brier": brier(y, p), "ece": expected_calibration_error(y, p)}


def _fit_constant(train: Sequence[str], y: np.ndarray) -> Callable[[Sequence[str]], np.ndarray]:
    prior = float(np.mean(y))
    return lambda prompts: np.full(len(prompts), prior)


def _fit_length(train: Sequence[str], y: np.ndarray) -> Callable[[Sequence[str]], np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    def length(prompts: Sequence[str]) -> np.ndarray:
        return np.log1p([len(p) for p in prompts]).reshape(-1, 1)

    lr = LogisticRegression().fit(length(train), y)
    return lambda prompts: lr.predict_proba(length(prompts))[:, 1]


def _fit_tfidf(train: Sequence[str], y: np.ndarray) -> Callable[[Sequence[str]], np.ndarray]:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipe = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(C=1.0, max_iter=2000),
    )
    pipe.fit(list(train), y)
    return lambda prompts: pipe.predict_proba(list(prompts))[:, 1]


_FITTERS: Mapping[str, Callable[[Sequence[str], np.ndarray], Callable[..., np.ndarray]]] = {
    "constant": _fit_constant,
    "length": _fit_length,
    "tfidf": _fit_tfidf,
}


def baseline_p_correct(cf: CrossFitted, baseline: str) -> np.ndarray:
    """Cross-fitted P(correct) (n_items, n_profiles) of a baseline, on the model's own folds."""
    fit = _FITTERS[baseline]
    out = np.full(cf.correct.shape, np.nan)
    prompts = np.asarray(cf.prompts, dtype=object)
    for j in range(len(cf.profiles)):
        labelled = ~np.isnan(cf.correct[:, j])
        for k in np.unique(cf.fold):
            train = labelled & (cf.fold != k)
            test = cf.fold == k
            y = np.round(cf.correct[train, j]).astype(int)
            if not train.any() or not test.any():
                continue
            if len(np.unique(y)) < 2:
                out[test, j] = float(np.mean(y))
                continue
            out[test, j] = fit(list(prompts[train]), y)(list(prompts[test]))
    return out


def evaluate(cf: CrossFitted, baselines: Sequence[str] = BASELINES) -> dict[str, Any]:
    """The report: `profiles.<name>.{auc,brier,ece,tokens_spearman}` and
    `baselines.<baseline>.<name>.{auc,brier,ece}`, all on cross-fitted predictions."""
    report: dict[str, Any] = {
        "n_items": len(cf),
        "folds": int(len(np.unique(cf.fold))),
        "profiles": {},
        "baselines": {},
    }
    for j, name in enumerate(cf.profiles):
        y = cf.correct[:, j]
        keep = ~np.isnan(y)
        entry: dict[str, Any] = {"n": int(keep.sum())}
        entry["accuracy"] = float(np.mean(y[keep])) if keep.any() else math.nan
        entry.update(_binary_report(y[keep], cf.p_correct[keep, j]))
        entry["tokens_spearman"] = tokens_spearman(cf.tokens[:, j], cf.actual_tokens[:, j])
        report["profiles"][name] = entry
    for baseline in baselines:
        p = baseline_p_correct(cf, baseline)
        section: dict[str, Any] = {}
        for j, name in enumerate(cf.profiles):
            keep = ~np.isnan(cf.correct[:, j]) & ~np.isnan(p[:, j])
            section[name] = _binary_report(cf.correct[keep, j], p[keep, j])
            if baseline == "constant" and not math.isnan(section[name]["auc"]):
                # A constant ranks nothing; fold-to-fold prior drift would fake an AUC != 0.5.
                section[name]["auc"] = 0.5
        report["baselines"][baseline] = section
    return report


def evaluation_report(
    outcomes: Sequence[Outcome],
    *,
    folds: int = 5,
    seed: int = 0,
    encoder: Encoder | None = None,
    model_params: Mapping[str, Any] | None = None,
    profiles: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Cross-fit the model on `outcomes` and evaluate it with the baselines on the same folds
    (`progress`: see `difficulty.crossfit.cross_fit`)."""
    cf = cross_fit(
        outcomes,
        folds=folds,
        seed=seed,
        encoder=encoder,
        model_params=model_params,
        profiles=profiles,
        progress=progress,
    )
    report = evaluate(cf)
    report["seed"] = seed
    return report


def json_ready(value: Any) -> Any:
    """Replace NaN by None throughout, so a report is strict JSON."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
