"""`thinkgate replay`'s default: traces met in file order with cold start and online calibration."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = ["run_online"]


def _pct(value: float | None) -> str:
    return "   -  " if value is None else f"{100 * value:5.1f}%"


def run_online(args: argparse.Namespace, params: Any, sets: dict[str, list[Any]]) -> int:
    """Replay each set through a fresh calibration book; print and optionally write the figures."""
    from dataclasses import asdict

    from difficulty.errors import InvalidInputError
    from policies.convergence import CalibrationSettings, PreparedTrace
    from policies.convergence.online import replay_cold, shadow_record

    try:
        settings = CalibrationSettings(
            max_changed_answers=args.max_changed,
            miss_probability=args.miss_probability,
            shadow_share=args.shadow_share,
            changed_rate_over=args.changed_rate_over,
        )
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    print(
        f"self-calibrating replay: cold start, shadow share {settings.shadow_share:.0%} once "
        f"certified, changed answers <= {settings.max_changed_answers:.1%} of the "
        f"{settings.changed_rate_over} with miss "
        f"probability {settings.miss_probability:.0%} (>= {settings.streams_needed} shadow "
        "streams per model and family)"
    )
    report: dict[str, Any] = {"settings": asdict(settings), "params": params.to_config()}
    report["datasets"] = {}
    for name, traces in sets.items():
        records = [
            shadow_record(PreparedTrace.of(t), params, family=t.dataset or "default")
            for t in traces
        ]
        summary = replay_cold(records, [t.id for t in traces], [t.gold for t in traces], settings)
        first = summary.certified_after
        report["datasets"][name] = asdict(summary)
        calibrated = f"after {first} streams" if first else "never (too few streams)"
        print(
            f"{name:<36} n={summary.n:<4} exits={summary.exits:<4} "
            f"saved (net of shadow)={_pct(summary.saved)} shadow cost={_pct(summary.shadow_cost)} "
            f"acc full={_pct(summary.accuracy_full)} served={_pct(summary.accuracy_used)} "
            f"changed={summary.changed} ({_pct(summary.changed_rate)}, bound "
            f"{_pct(summary.changed_bound)}) calibrated {calibrated}"
        )
    if args.report is not None:
        args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0
