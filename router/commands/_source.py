"""The `--outcomes FILE | --dataset NAME...` choice that several commands share."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_outcome_source"]


def add_outcome_source(parser: argparse.ArgumentParser, outcomes_help: str) -> Any:
    """Add the required choice between one outcome file and repeatable bundled datasets; the
    group, for a command that offers a third source."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--outcomes", metavar="FILE", help=outcomes_help)
    source.add_argument(
        "--dataset",
        metavar="NAME",
        action="append",
        help="a bundled dataset (repeat to combine; see `thinkgate datasets list`)",
    )
    return source
