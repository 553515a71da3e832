"""`thinkgate ledger export|stats`: retraining data and savings figures from a ledger store."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the `ledger` subcommand with its `export` and `stats` actions."""
    parser = subparsers.add_parser("ledger", help="export or summarise a request ledger")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export", help="write labelled records as an outcome table (for `thinkgate train`)"
    )
    stats = actions.add_parser("stats", help="print the savings JSON (as GET /v1/savings)")
    for action in (export, stats):
        action.add_argument(
            "--ledger",
            required=True,
            metavar="URL",
            help="sqlite:///path/to/ledger.db or redis://host:port/db?prefix=NAME",
        )
    export.add_argument("--out", required=True, help="output file (.jsonl, or .jsonl.gz)")
    export.add_argument(
        "--pairs",
        action="store_true",
        help="write the exploration share's labelled pairs instead (two profiles per prompt)",
    )
    stats.add_argument(
        "--bucket-seconds", type=int, default=60, help="width of the series buckets (default 60)"
    )
    parser.set_defaults(func=run)


async def _export(url: str, out: str) -> int:
    from difficulty.outcomes import write_outcomes
    from router.ledger import open_ledger
    from router.ledger.export import labelled_outcomes

    ledger = open_ledger(url, create=False)
    try:
        result = labelled_outcomes(await ledger.records(labelled_only=True))
    finally:
        await ledger.close()
    written = write_outcomes(result.outcomes, out)
    print(f"wrote {written} labelled records to {out}")
    if result.skipped_without_prompt:
        print(
            f"skipped {result.skipped_without_prompt} labelled records without stored prompt text "
            "(enable storing prompts in the gateway config to export them)"
        )
    if result.skipped_failed:
        print(f"skipped {result.skipped_failed} labelled records of failed requests")
    return 0


async def _export_pairs(url: str, out: str) -> int:
    from difficulty.outcomes import write_outcomes
    from router.commands.train_ledger import ledger_rows, pair_outcomes, read_pairs

    pairs, feedback = await read_pairs(url)
    rows, counts = ledger_rows(pairs, feedback)
    written = write_outcomes(pair_outcomes(rows), out)
    print(f"wrote {written} rows of {counts['labelled']} labelled pairs to {out}")
    if counts["unlabelled"] or counts["no_prompt"]:
        print(
            f"skipped {counts['unlabelled']} unlabelled pairs and {counts['no_prompt']} without "
            "stored prompt text"
        )
    return 0


async def _stats(url: str, bucket_seconds: int) -> int:
    import json

    from router.ledger import open_ledger

    ledger = open_ledger(url, create=False)
    try:
        savings = await ledger.savings(bucket_seconds=bucket_seconds)
    finally:
        await ledger.close()
    print(json.dumps(savings, indent=2))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen `ledger` action."""
    import asyncio

    if args.action == "export" and args.pairs:
        return asyncio.run(_export_pairs(args.ledger, args.out))
    if args.action == "export":
        return asyncio.run(_export(args.ledger, args.out))
    return asyncio.run(_stats(args.ledger, args.bucket_seconds))
