"""The Call's accounting: per-request savings, checked against records computed by hand.

The Call's exit paths (success, upstream errors, a caller who leaves, early exit, search) are
driven end to end through a real gateway in test_chat, test_upstream_faults, test_early_exit
and test_probe_run; here the arithmetic that turns a source's report into the ledger's
`saved_by` is pinned on numbers small enough to check by eye.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from policies.decision import Decision, SamplingPlan
from policies.routing import PredictionLike
from router.pipeline import Routing, saved_by
from router.sources import EarlyExitReport, ProbeReport, SearchReport, SourceReport


@dataclass(frozen=True)
class Pred:
    p_correct: float
    tokens: float | None


def routing(profile: str, *, plan: SamplingPlan | None = None) -> Routing:
    predictions: dict[str, PredictionLike] = {
        "direct": Pred(0.8, 200.0),
        "think": Pred(0.95, 1800.0),
        "vote": Pred(0.9, 300.0),
    }
    decision = Decision(profile=profile, budget=None, sampling=plan, reason="test")
    return Routing("rid", "thinkgate/auto", profile, decision, predictions, None, False)


def test_routing_saves_the_reference_forecast_minus_the_used_one() -> None:
    savings, early_exit, probe_tokens = saved_by(routing("direct"), SourceReport("direct"), "think")
    assert savings == {"routing": 1600.0, "early_exit": 0.0, "sampling": 0.0}  # 1800 - 200
    assert early_exit is None and probe_tokens is None


def test_a_failover_is_accounted_on_the_profile_that_answered() -> None:
    savings, _, _ = saved_by(routing("direct"), SourceReport("vote"), "think")
    assert savings["routing"] == 1500.0  # 1800 - 300: the fallback's forecast


def test_a_request_that_never_opened_keeps_its_routing_estimate() -> None:
    savings, _, _ = saved_by(routing("direct"), None, "think")
    assert savings == {"routing": 1600.0, "early_exit": 0.0, "sampling": 0.0}


def test_no_reference_means_no_routing_saving() -> None:
    savings, _, _ = saved_by(routing("direct"), SourceReport("direct"), None)
    assert savings["routing"] == 0.0


def test_a_search_plans_its_maximum_and_saves_the_samples_it_skipped() -> None:
    plan = SamplingPlan(max_samples=4, threshold=0.9, min_samples=2)
    report = SourceReport("vote", search=SearchReport(samples=2, max_samples=4, saved=500.0))
    savings, _, _ = saved_by(routing("vote", plan=plan), report, "think")
    assert savings == {"routing": 600.0, "early_exit": 0.0, "sampling": 500.0}  # 1800 - 4 * 300


def test_an_early_exit_saves_what_was_left_unthought() -> None:
    cut = EarlyExitReport(700, 5, "72", "candidate", 1800.0, saved=1100.0)
    report = SourceReport("think", usage_counted=True, early_exit=cut)
    savings, early_exit, probe_tokens = saved_by(routing("think"), report, "think")
    assert savings == {"routing": 0.0, "early_exit": 1100.0, "sampling": 0.0}
    assert early_exit == {
        "tokens_at_exit": 700,
        "checkpoint": 5,
        "answer": "72",
        "answer_from": "candidate",
        "expected_tokens": 1800.0,
    }
    assert probe_tokens is None


def test_probe_tokens_come_off_the_early_exit_saving() -> None:
    cut = EarlyExitReport(700, 3, "72", "probe", 1800.0, saved=1100.0)
    probes = ProbeReport(3, 12, 2100, 0, 0, ({"answer": "72"},) * 3)
    report = SourceReport("think", usage_counted=True, early_exit=cut, probes=probes)
    savings, early_exit, probe_tokens = saved_by(routing("think"), report, "think")
    assert savings["early_exit"] == 1088.0  # 1100 - 12
    assert probe_tokens == 12
    assert early_exit is not None
    assert early_exit["saved_before_probes"] == 1100.0
    assert early_exit["mode"] == "probe" and early_exit["probe_tokens"] == 12
    assert early_exit["probes"] == 3 and early_exit["probe_prompt_tokens"] == 2100


def test_probes_that_never_cut_the_stream_are_a_loss() -> None:
    probes = ProbeReport(2, 9, 1300, 1, 0, ({"answer": None},) * 2)
    savings, early_exit, probe_tokens = saved_by(
        routing("think"), SourceReport("think", probes=probes), "think"
    )
    assert savings["early_exit"] == pytest.approx(-9.0)
    assert early_exit is None and probe_tokens == 9
