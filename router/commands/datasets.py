"""`thinkgate datasets list|export`: the bundled outcome datasets."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the `datasets` subcommand with its `list` and `export` actions."""
    parser = subparsers.add_parser("datasets", help="list or export the bundled outcome datasets")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="name, rows, items and profiles of every bundled dataset")
    export = actions.add_parser("export", help="write a bundled dataset as plain JSONL")
    export.add_argument("name", help="dataset name (see `thinkgate datasets list`)")
    export.add_argument("--out", required=True, help="output file (.jsonl, or .jsonl.gz)")
    parser.set_defaults(func=run)


def _list() -> int:
    from difficulty.datasets import list_datasets

    infos = list_datasets()
    width = max((len(i.name) for i in infos), default=4)
    print(f"{'name':<{width}}  {'rows':>7}  {'items':>6}  profiles")
    for info in infos:
        shown = ", ".join(info.profiles[:6]) + (" ..." if len(info.profiles) > 6 else "")
        print(
            f"{info.name:<{width}}  {info.rows:>7}  {info.items:>6}  {len(info.profiles)}: {shown}"
        )
        if info.description:
            print(f"{'':<{width}}  {info.description}")
    return 0


def _export(name: str, out: str) -> int:
    from difficulty.datasets import load_dataset
    from difficulty.outcomes import write_outcomes

    n = write_outcomes(load_dataset(name), out)
    print(f"wrote {n} rows of {name} to {out}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen `datasets` action."""
    if args.action == "export":
        return _export(args.name, args.out)
    return _list()
