"""Evaluation: metric definitions, and a cross-fitted report with baselines on shared folds."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from difficulty.encoder import Encoder
from difficulty.evaluation import (
    BASELINES,
    auc,
    brier,
    evaluation_report,
    expected_calibration_error,
    json_ready,
    tokens_spearman,
)
from difficulty.outcomes import read_outcomes

ARITH = Path(__file__).resolve().parents[1] / "data" / "difficulty" / "arith.jsonl"


def test_auc_brier_ece_on_known_cases() -> None:
    y = np.array([0, 0, 1, 1])
    assert auc(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(y, np.array([0.9, 0.8, 0.2, 0.1])) == 0.0
    assert math.isnan(auc(np.ones(4), np.arange(4.0)))
    assert brier(y, y.astype(float)) == 0.0
    assert brier(y, np.full(4, 0.5)) == 0.25
    assert expected_calibration_error(y, np.full(4, 0.5)) == 0.0
    assert expected_calibration_error(y, np.array([1.0, 1.0, 1.0, 1.0])) == pytest.approx(0.5)


def test_tokens_spearman_ignores_missing() -> None:
    pred = np.array([1.0, 2.0, 3.0, np.nan, 5.0])
    actual = np.array([10.0, 20.0, 30.0, 40.0, np.nan])
    assert tokens_spearman(pred, actual) == pytest.approx(1.0)
    assert math.isnan(tokens_spearman(pred[:2], actual[:2]))


def test_json_ready_replaces_nan() -> None:
    assert json_ready({"a": [math.nan, 1.0], "b": {"c": math.nan}}) == {
        "a": [None, 1.0],
        "b": {"c": None},
    }


def test_report_layout_and_model_beats_constant(tmp_path_factory: pytest.TempPathFactory) -> None:
    encoder = Encoder(cache_dir=tmp_path_factory.getbasetemp() / "embeddings", progress=False)
    report = evaluation_report(
        read_outcomes(ARITH),
        folds=3,
        seed=0,
        encoder=encoder,
        model_params={"n_estimators": 40, "calibration_folds": 2},
    )
    assert set(report["profiles"]) == {"direct", "think"}
    direct = report["profiles"]["direct"]
    assert set(direct) >= {"auc", "brier", "ece", "tokens_spearman", "n", "accuracy"}
    assert set(report["baselines"]) == set(BASELINES)
    for b in BASELINES:
        assert set(report["baselines"][b]["direct"]) == {"auc", "brier", "ece"}
    assert report["baselines"]["constant"]["direct"]["auc"] == 0.5
    assert direct["auc"] > 0.7
    assert direct["brier"] < report["baselines"]["constant"]["direct"]["brier"]
    assert direct["tokens_spearman"] > 0.5
