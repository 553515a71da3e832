"""The `--outcomes FILE | --dataset NAME...` choice that several commands share."""

from __future__ import annotations

import argparse

__all__ = ["add_outcome_source"]


def add_outcome_source(parser: argparse.ArgumentParser, outcomes_help: str) -> None:
    """Add the required choice between one outcome file and repeatable bundled datasets."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--outcomes", metavar="FILE", help=outcomes_help)
    source.add_argument(
        "--dataset",
        metavar="NAME",
        action="append",
        help="a bundled dataset (repeat to combine; see `thinkgate datasets list`)",
    )
