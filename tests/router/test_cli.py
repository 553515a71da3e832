"""The command line: every command is registered (a module that fails to import fails here)."""

from __future__ import annotations

import pytest

from router.cli import build_parser, main

COMMANDS = {
    "datasets",
    "train",
    "route",
    "simulate",
    "replay",
    "calibrate",
    "serve",
    "replay-upstream",
    "ledger",
    "demo",
    "report",
}


def test_every_command_is_registered() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert set(subparsers.choices) == COMMANDS  # type: ignore[arg-type]


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


def test_an_error_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ledger", "stats", "--ledger", "nosuch://x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("thinkgate: error: ") and "\n" not in err and "nosuch" in err
