"""The `thinkgate` command line: one subcommand per job, errors as one line and a non-zero exit."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from difficulty.errors import ThinkgateError
from router.commands import (
    calibrate,
    datasets,
    demo,
    ledger,
    replay,
    replay_upstream,
    report,
    route,
    serve,
    simulate,
    train,
)

__all__ = ["main", "build_parser"]

# Each module exposes `register(subparsers)` and imports nothing heavy at module level, so
# `thinkgate --help` stays fast. They are imported, not looked up by name: a command whose
# module is broken fails here, loudly, instead of vanishing from the CLI.
_COMMANDS = (
    datasets,
    train,
    route,
    simulate,
    replay,
    calibrate,
    serve,
    replay_upstream,
    ledger,
    demo,
    report,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="thinkgate",
        description="Adaptive-compute gateway for LLM traffic.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in _COMMANDS:
        command.register(subparsers)
    return parser


def _set_offline_defaults() -> None:
    # thinkgate never downloads weights or price maps at run time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    _set_offline_defaults()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except ThinkgateError as exc:
        print(f"thinkgate: error: {exc.message}", file=sys.stderr)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"thinkgate: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("thinkgate: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
