"""Tests of `thinkgate datasets list|export` through the real CLI entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from difficulty.outcomes import read_outcomes
from router.cli import main


def test_list_shows_every_bundled_dataset(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert "mip-gsm8k" in out and "582" in out


def test_export_writes_a_readable_outcome_table(tmp_path: Path) -> None:
    out = tmp_path / "mip-math.jsonl"
    assert main(["datasets", "export", "mip-math", "--out", str(out)]) == 0
    rows = read_outcomes(out)
    assert len(rows) == 728
    assert {r.dataset for r in rows} == {"mip-math"}


def test_export_of_an_unknown_dataset_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["datasets", "export", "nope", "--out", str(tmp_path / "x.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("thinkgate: error: unknown dataset 'nope'") and "\n" not in err
