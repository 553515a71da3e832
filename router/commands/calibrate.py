"""`thinkgate calibrate`: seed early exit's calibration book from offline traces of a model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the `calibrate` subcommand."""
    parser = subparsers.add_parser(
        "calibrate",
        help="seed early exit's calibration from offline traces of the same upstream model",
        description=(
            "Run the convergence watcher in shadow over recorded traces of an upstream model and "
            "store what it would have done in the ledger store the gateway reads (the same "
            "records live shadow streams write), so a deployment starts calibrated instead of "
            "cold and every replica shares the seed. Items of the documented held-out split "
            "(difficulty.split, the demo's and evaluations' part) are left out unless "
            "--include-holdout; the seed costs nothing live and counts as no shadow cost."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--traces", type=Path, help="a trace table (JSONL, optionally .gz)")
    source.add_argument(
        "--dataset", action="append", metavar="NAME", help="a bundled trace dataset (repeatable)"
    )
    parser.add_argument(
        "--model",
        required=True,
        help="the upstream model the traces are of, as the gateway names it (the profile's "
        "model without its provider, e.g. QwQ-32B for openai/QwQ-32B)",
    )
    parser.add_argument(
        "--family", default="default", help="task family key (the profile's convergence.family)"
    )
    parser.add_argument(
        "--ledger",
        metavar="URL",
        help="ledger store to seed: sqlite:///path/to/ledger.db or redis://host:port/db?prefix=N "
        "(omit: only print what the seed would certify)",
    )
    parser.add_argument(
        "--include-holdout",
        action="store_true",
        help="also use items of the held-out split (your own traces: their ids mean nothing "
        "to the bundled split)",
    )
    parser.add_argument("--max-changed", type=float, default=0.01, help="default 0.01")
    parser.add_argument("--miss-probability", type=float, default=0.1, help="default 0.1")
    parser.add_argument(
        "--changed-rate-over",
        choices=("streams", "exits"),
        default="streams",
        help="what --max-changed is a rate of (default streams: points of accuracy; "
        "exits is stricter)",
    )
    parser.add_argument(
        "--score",
        choices=("history", "rule"),
        default="history",
        help="the score the profile certifies (its convergence.score; default history)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the seed, print what it certifies, store it when --ledger is given."""
    import asyncio

    from difficulty.errors import InvalidInputError
    from difficulty.traces import load_traces, read_traces
    from policies.convergence import CalibrationBook, CalibrationSettings, WatcherParams
    from router.calibrator import seed_records, store_seed, training_traces

    try:
        settings = CalibrationSettings(
            max_changed_answers=args.max_changed,
            miss_probability=args.miss_probability,
            changed_rate_over=args.changed_rate_over,
        )
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None
    if args.traces is not None:
        traces = read_traces(args.traces)
    else:
        traces = [t for name in dict.fromkeys(args.dataset) for t in load_traces(name)]
    used = training_traces(traces, args.include_holdout)
    if not used:
        raise InvalidInputError("no traces left to calibrate on (all in the held-out split?)")
    records = seed_records(used, args.model, args.family, WatcherParams(score=args.score))
    book = CalibrationBook(settings)
    book.seed(records)
    row = book.summary()[0]
    threshold = row["threshold"]
    print(
        f"seed: {len(records)} streams of {args.model} ({args.family}), "
        f"{len(traces) - len(used)} held-out items left out"
    )
    if threshold is None:
        print(
            f"certifies no threshold at <= {settings.max_changed_answers:.1%} of the "
            f"{settings.changed_rate_over} changed (miss probability "
            f"{settings.miss_probability:.0%}): the gateway keeps shadowing until live "
            "streams add enough evidence"
        )
    else:
        print(
            f"certifies threshold {threshold} at <= {settings.max_changed_answers:.1%} of the "
            f"{settings.changed_rate_over} changed (seen {row['changed_rate']:.2%}, bound "
            f"{row['changed_rate_bound']:.2%}, miss probability {settings.miss_probability:.0%}); "
            f"it would have saved {row['saved_share_on_shadow']:.1%} of their thinking"
        )
    if args.ledger:
        stored = asyncio.run(store_seed(args.ledger, records))
        print(f"stored {stored} seed records in {args.ledger}")
    return 0
