"""`thinkgate report`: the savings dashboard as one static HTML file, read from a ledger."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the `report` subcommand."""
    parser = subparsers.add_parser(
        "report",
        help="write the savings dashboard of a ledger as one self-contained HTML file",
        description=(
            "Read the savings figures of a ledger (the same JSON as GET /v1/savings) and write "
            "the dashboard with them embedded: a page to mail, with nothing to serve."
        ),
    )
    parser.add_argument(
        "--ledger",
        required=True,
        metavar="URL",
        help="sqlite:///path/to/ledger.db or redis://host:port/db?prefix=NAME",
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="HTML file to write")
    parser.add_argument(
        "--bucket-seconds",
        type=int,
        default=60,
        metavar="N",
        help="width of the time-series buckets (default 60)",
    )
    parser.set_defaults(func=run)


def _check_exists(url: str) -> None:
    # Opening a SQLite ledger creates the file; a mistyped path must not yield an empty report.
    from pathlib import Path
    from urllib.parse import urlsplit

    from difficulty.errors import NotFoundError

    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if path and not Path(path).is_file():
            raise NotFoundError(f"ledger file not found: {path}", param="ledger")


async def _savings(url: str, bucket_seconds: int) -> dict[str, Any]:
    from router.ledger import open_ledger

    _check_exists(url)
    ledger = open_ledger(url)
    try:
        return await ledger.savings(bucket_seconds=bucket_seconds)
    finally:
        await ledger.close()


def run(args: argparse.Namespace) -> int:
    """Write the report and print a one-line summary."""
    import asyncio
    from datetime import UTC, datetime
    from pathlib import Path

    from router.dashboard import render_dashboard

    savings = asyncio.run(_savings(args.ledger, args.bucket_seconds))
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = Path(args.out)
    out.write_text(render_dashboard(savings, generated=generated), encoding="utf-8")
    tokens = savings["tokens"]
    print(
        f"wrote {out}: {savings['requests']} requests, {tokens['completion']} completion tokens, "
        f"{tokens['saved_estimate']:.0f} saved (estimate, {tokens['saved_percent']:.1f}% of "
        "spent + saved)"
    )
    money = savings["money"]
    if money["priced_requests"]:
        print(
            f"money: {money['cost']:.6g} spent, {money['saved_estimate']:.6g} saved (estimate, "
            f"{money['saved_percent']:.1f}% of spent + saved)"
        )
    return 0
