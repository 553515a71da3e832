from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from policies.routing.calibration import Target
from policies.routing.policy import PolicyConfig
from policies.routing.report import calibration_hold_rate, default_reference, routing_report
from tests.policies.routing.test_simulator import synthetic


def test_report_has_the_issue_keys() -> None:
    table = synthetic(500)
    report = routing_report(table, {}, PolicyConfig("utility"), Target(accuracy_loss=0.02), "dear")
    assert {"accuracy", "tokens", "tokens_saved", "accuracy_loss"} <= set(report["operating_point"])
    assert {"fixed:cheap", "fixed:dear", "random", "prompt_length", "oracle"} <= set(
        report["baselines"]
    )
    assert report["apgr"] > 0.5 and report["cpt50"] < 0.5 and report["cpt80"] <= 1.0
    assert len(report["knobs"]) == 5 and report["frontier"]
    assert report["policy_config"]["kind"] == "utility"
    assert report["policy_config"]["recalibration"]


def test_policy_beats_random_at_equal_cost_on_informative_forecasts() -> None:
    table = synthetic(1500)
    report = routing_report(table, {}, PolicyConfig("target"), Target(accuracy_loss=0.03), "dear")
    op, rnd = report["operating_point"], report["baselines"]["random"]
    assert rnd["tokens"] == pytest.approx(op["tokens"], rel=1e-6)
    assert op["accuracy"] > rnd["accuracy"]


def test_default_reference_is_the_most_accurate() -> None:
    assert default_reference(synthetic(300)) == "dear"


def test_hold_rate_counts_splits() -> None:
    table = synthetic(800)
    splits = (
        dataclasses.replace(table, fold=np.random.default_rng(s).permutation(800) % 4)
        for s in range(4)
    )
    hold = calibration_hold_rate(
        splits, {}, PolicyConfig("utility"), Target(accuracy_loss=0.03), "dear"
    )
    assert hold.splits == 4 and 0 <= hold.held <= 4
    assert hold.to_json()["rate"] == hold.rate and len(hold.losses) == 4


def test_report_without_token_counts_says_so_and_keeps_apgr() -> None:
    from tests.policies.routing.test_simulator import _without_tokens

    table = _without_tokens(synthetic(500)).complete()
    report = routing_report(table, {}, PolicyConfig("target"), Target(accuracy_loss=0.02), "dear")
    assert report["tokens_recorded"] is False and "not available" in report["cost_axis"]
    assert report["apgr"] > 0.5 and report["cpt50"] < 0.5
    assert 0.0 <= report["operating_point"]["tokens"] <= 1.0
