"""The pure aggregation behind `GET /v1/savings`, checked against figures worked by hand."""

from __future__ import annotations

import math

import pytest

from router.ledger import LedgerFormatError, LedgerRecord, aggregate
from router.ledger.savings import SavingsState, feedback_deltas, record_deltas
from router.ledger.series import MAX_FINE, MAX_POINTS
from tests.router.ledger.conftest import make_record


def _three() -> list[LedgerRecord]:
    return [
        make_record(
            0,
            time=1000.0,
            profile="direct",
            difficulty="easy",
            prompt_tokens=10,
            completion_tokens=100,
            reference_tokens_estimate=1000.0,
            saved_tokens_estimate=900.0,
            saved_by={"routing": 900.0},
            early_exit=None,
            latency_ms=10.0,
            feedback=True,
            cost=0.0002,
            reference_cost=0.0101,
            saved_cost=0.0099,
        ),
        make_record(
            1,
            time=1059.9,
            profile="think",
            difficulty="hard",
            prompt_tokens=20,
            completion_tokens=600,
            reference_tokens_estimate=1000.0,
            saved_tokens_estimate=400.0,
            saved_by={"early_exit": 400.0},
            early_exit={"tokens_at_exit": 600, "checkpoint": 2, "answer": "7"},
            probe_tokens=25,
            latency_ms=30.04,
            feedback=False,
            cost=0.0061,
            reference_cost=0.0101,
            saved_cost=0.004,
        ),
        make_record(
            2,
            time=1060.0,
            profile="direct",
            difficulty=None,
            prompt_tokens=30,
            completion_tokens=50,
            reference_tokens_estimate=None,  # no reference: counts as spent plus saved
            saved_tokens_estimate=0.0,
            saved_by={},
            early_exit=None,
            latency_ms=20.0,
            feedback=None,
        ),
    ]


def test_figures_of_three_requests() -> None:
    s = aggregate(_three(), 60)
    assert s["requests"] == 3
    assert s["by_profile"] == {
        "direct": {"requests": 2, "prompt_tokens": 40, "completion_tokens": 150, "cost": 0.0002},
        "think": {"requests": 1, "prompt_tokens": 20, "completion_tokens": 600, "cost": 0.0061},
    }
    # The third record predates prices: money counts the two priced ones.
    assert s["money"] == {
        "priced_requests": 2,
        "cost": 0.0063,
        "reference_estimate": 0.0202,
        "saved_estimate": 0.0139,
        "saved_share": round(0.0139 / 0.0202, 4),
        "saved_percent": 68.8,
    }
    assert s["tokens"] == {
        "prompt": 60,
        "completion": 750,
        "probe": 25,
        "reference_estimate": 2050.0,
        "saved_estimate": 1300.0,
        "saved_share": round(1300 / (750 + 1300), 4),
        "saved_percent": 63.4,  # 1300 / 2050 = 0.63415
    }
    assert s["saved_by"] == {"routing": 900.0, "early_exit": 400.0, "sampling": 0.0}
    assert (s["early_exits"], s["early_exit_rate"]) == (1, round(1 / 3, 4))
    assert s["difficulty"] == {"easy": 1, "hard": 1}
    assert s["latency_ms"] == {"p50": 20.0, "p90": 30.0, "p99": 30.0}
    assert s["feedback"] == {"labelled": 2, "correct": 1, "accuracy": 0.5}
    assert s["series"] == [
        {
            "t": 960,
            "requests": 1,
            "completion_tokens": 100,
            "reference_estimate": 1000.0,
            "saved_estimate": 900.0,
            "saved_routing": 900.0,
            "saved_early_exit": 0.0,
            "saved_sampling": 0.0,
            "cost": 0.0002,
            "saved_cost": 0.0099,
        },
        {
            "t": 1020,
            "requests": 2,
            "completion_tokens": 650,
            "reference_estimate": 1050.0,
            "saved_estimate": 400.0,
            "saved_routing": 0.0,
            "saved_early_exit": 400.0,
            "saved_sampling": 0.0,
            "cost": 0.0061,  # the third record predates prices
            "saved_cost": 0.004,
        },
    ]
    assert s["estimate"] is True
    assert set(s["search"].values()) == {0}


def test_searches_sum_their_samples_cancellations_and_verifier_calls() -> None:
    search = {"samples": 3, "max_samples": 8, "cancelled": 1, "cancelled_tokens": 40}
    scored = {**search, "verifier_calls": 3, "verifier_tokens": 900, "verifier_failures": 0}
    records = [
        make_record(0, samples=3, search=search),
        make_record(1, samples=3, search=scored),
        make_record(2),
    ]
    assert aggregate(records, 60)["search"] == {
        "requests": 2,
        "samples": 6,
        "cancelled": 2,
        "cancelled_tokens": 80,
        "verifier_calls": 3,
        "verifier_tokens": 900,
        "verifier_failures": 0,
    }


def test_no_records_give_zeros_and_nulls() -> None:
    s = aggregate([], 60)
    assert s["requests"] == 0 and s["series"] == [] and s["by_profile"] == {}
    assert s["latency_ms"] == {"p50": None, "p90": None, "p99": None}
    assert s["feedback"]["accuracy"] is None
    assert s["tokens"]["saved_share"] == 0.0 and s["tokens"]["saved_percent"] == 0.0


def test_rebucketing_sums_the_same_requests() -> None:
    records = [make_record(i) for i in range(50)]
    for bucket in (1, 7, 60, 86400):
        series = aggregate(records, bucket)["series"]
        assert sum(row["requests"] for row in series) == 50
        assert all(row["t"] % bucket == 0 for row in series)
    assert len(aggregate(records, 86400)["series"]) == 1


def test_relabelling_deltas_cancel_out() -> None:
    state = SavingsState()
    state.apply(record_deltas(make_record(0, feedback=None)))
    for old, new in [(None, True), (True, False), (False, True)]:
        state.apply(feedback_deltas(old, new))
    assert state.summary()["feedback"] == {"labelled": 1, "correct": 1, "accuracy": 1.0}


def test_counters_read_back_as_text_give_the_same_summary() -> None:
    state = SavingsState()
    for record in _three():
        state.apply(record_deltas(record))
    as_text = {
        table: {k: str(v) for k, v in getattr(state, table).items()}
        for table in ("counters", "latency", "series")
    }
    restored = SavingsState.from_tables(as_text, str(state.last_second))
    assert restored.summary(60) == aggregate(_three(), 60)


def _brute_series(records: list[LedgerRecord], bucket: int, points: int) -> dict[int, int]:
    end = max(math.floor(r.time) for r in records) // bucket * bucket
    first = end - (points - 1) * bucket
    counts: dict[int, int] = {}
    for r in records:
        t = math.floor(r.time) // bucket * bucket
        if first <= t <= end:
            counts[t] = counts.get(t, 0) + 1
    return counts


@pytest.mark.parametrize(
    ("bucket", "points"),
    [(60, MAX_POINTS), (7, MAX_POINTS), (30, MAX_FINE // 30), (3600, MAX_POINTS), (86400, 600)],
)
def test_a_long_history_reports_a_bounded_window_ending_at_the_latest_record(
    bucket: int, points: int
) -> None:
    # Five days of traffic, one request every 97 s: far more buckets than one answer holds.
    records = [make_record(i, time=1_700_000_000.0 + 97.3 * i) for i in range(4500)]
    series = aggregate(records, bucket)["series"]
    assert {row["t"]: row["requests"] for row in series} == _brute_series(records, bucket, points)
    assert len(series) <= MAX_POINTS
    assert series[-1]["t"] == math.floor(records[-1].time) // bucket * bucket


def test_memory_for_the_series_stays_bounded() -> None:
    state = SavingsState()
    for i in range(20_000):
        state.apply(record_deltas(make_record(i, time=1_700_000_000.0 + 13.0 * i)))
    assert len(state.series) <= 60_000


@pytest.mark.parametrize("bucket", [0, -5, 1.5, True, 86_399])
def test_bucket_seconds_must_be_a_positive_whole_number(bucket: object) -> None:
    with pytest.raises(LedgerFormatError):
        aggregate([], bucket)  # type: ignore[arg-type]


def test_requests_break_down_by_key_name_worked_by_hand() -> None:
    a, b, c = _three()
    records = [
        LedgerRecord.from_json({**a.to_json(), "key": "team"}),
        LedgerRecord.from_json({**b.to_json(), "key": "team"}),
        LedgerRecord.from_json({**c.to_json(), "key": "default"}),
        LedgerRecord.from_json({k: v for k, v in a.to_json().items() if k != "key"}),  # older
    ]
    by_key = aggregate(records, 60)["by_key"]
    assert by_key == {
        "default": {"requests": 1, "prompt_tokens": 30, "completion_tokens": 50,
                    "saved_estimate": 0.0, "saved_percent": 0.0, "cost": 0.0, "saved_cost": 0.0},
        # 1300 saved of 700 spent + 1300 saved: 65.0%; money 0.0063 spent, 0.0139 saved
        "team": {"requests": 2, "prompt_tokens": 30, "completion_tokens": 700,
                 "saved_estimate": 1300.0, "saved_percent": 65.0, "cost": 0.0063,
                 "saved_cost": 0.0139},
    }  # fmt: skip
    # Read back as text (Redis' hashes), the same breakdown.
    state = SavingsState()
    for record in records:
        state.apply(record_deltas(record))
    tables = {"counters": {k: str(v) for k, v in state.counters.items()}}
    assert SavingsState.from_tables(tables).summary(60)["by_key"] == by_key
