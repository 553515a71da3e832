"""Self-calibrating replay: cold start shadows everything, exits only once certified."""

from __future__ import annotations

from difficulty.traces import Trace
from policies.convergence.calibration import CalibrationSettings
from policies.convergence.candidates import clean_value, statements
from policies.convergence.online import replay_online, shadow_record, summarize_online
from policies.convergence.simulator import PreparedTrace
from policies.convergence.watcher import ConvergenceWatcher

FILLER = "I add the numbers step by step and keep track of every partial sum carefully. "


def _trace(i: int) -> Trace:
    reasoning = FILLER * 3 + "So the answer is 540. Therefore the total is 540. " + FILLER * 12
    return Trace(str(i), "q", "540", reasoning, "The answer is $\\boxed{540}$.", "m", "gsm8k")


def test_shadow_watcher_keeps_a_rising_trail_and_never_exits() -> None:
    watcher = ConvergenceWatcher(shadow=True)
    text = _trace(0).reasoning
    assert all(watcher.feed(text[i : i + 5]) is None for i in range(0, len(text), 5))
    scores = [score for score, _, _ in watcher.trail]
    assert scores and scores == sorted(scores) and len(set(scores)) == len(scores)
    assert watcher.trail[-1][1] == "540"


def test_cold_start_then_exits_with_net_savings() -> None:
    prepared = PreparedTrace.of(_trace(0))
    record = shadow_record(prepared, family="gsm8k")
    assert record.final == "540" and record.trail
    n = 500
    records = [record] * n
    certified: list[int] = []
    settings = CalibrationSettings(shadow_share=0.1)
    outcomes = replay_online(
        records, [str(i) for i in range(n)], ["540"] * n, settings, on_certified=certified.append
    )
    assert certified == [settings.streams_needed]
    assert not any(o.exited for o in outcomes[: settings.streams_needed])
    late = outcomes[settings.streams_needed :]
    assert any(o.exited for o in late) and any(o.shadow for o in late)
    summary = summarize_online(outcomes, records, certified_after=certified[0])
    assert summary.changed == 0 and 0 < summary.saved < 0.5
    assert summary.shadow_cost > 0
    assert summary.accuracy_full == summary.accuracy_used == 1.0


def test_choice_and_polar_answers_are_candidates() -> None:
    assert clean_value("(B)") == "B" and clean_value("option c") == "C"
    assert clean_value("Yes") == "yes"
    assert clean_value("a bit more than 3") is None or clean_value("a bit more than 3") == "3"
    found = statements("So the answer is (C). Then \\boxed{Paris}.")
    assert [v for _, _, v in found] == ["C", "Paris"]
