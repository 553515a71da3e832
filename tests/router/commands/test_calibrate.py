"""`thinkgate calibrate`: a seed from offline traces (held-out items left out) in the store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from difficulty.split import is_holdout
from policies.convergence import CalibrationSettings
from router.calibrator import ExitCalibrator
from router.cli import main
from router.ledger import open_ledger
from tests.router.commands.test_replay import _settling

# Three unchanged exits certify at the seed's look (half the miss probability):
# ceil(log .25 / log .6) = 3.
LOOSE = {"max_changed_answers": 0.4, "miss_probability": 0.5}
LOOSE_ARGS = ["--max-changed", "0.4", "--miss-probability", "0.5"]


async def _book_from_store(url: str) -> tuple[bool, list[dict[str, object]], int]:
    ledger = open_ledger(url)
    try:
        calibrator = ExitCalibrator(ledger)
        book = calibrator.book(CalibrationSettings(**LOOSE))
        await calibrator.refresh(force=True)
        rows = await ledger.shadow_records()  # type: ignore[attr-defined]
        return book.certified("QwQ-32B", "gsm8k/history"), calibrator.summary(), len(rows)
    finally:
        await ledger.close()


def test_seed_certifies_and_is_shared_through_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    traces = _settling(tmp_path / "own.jsonl", n=12)
    held = sum(is_holdout(f"item-{i}") for i in range(12))
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    argv = ["calibrate", "--traces", str(traces), "--model", "QwQ-32B", "--family", "gsm8k"]
    assert main([*argv, *LOOSE_ARGS, "--ledger", url]) == 0
    out = capsys.readouterr().out
    assert f"seed: {12 - held} streams of QwQ-32B (gsm8k), {held} held-out items left out" in out
    assert "certifies threshold" in out and f"stored {12 - held} seed records" in out
    certified, summary, stored = asyncio.run(_book_from_store(url))
    assert certified and stored == 12 - held
    row = summary[0]
    # Certified at the seed's end, not at the next scheduled look; a seed is no shadow cost.
    assert row["sample_size"] == 12 - held and row["certified_at"] == 12 - held
    assert row["shadow_tokens"] == 0 and row["shadow_tokens_forgone"] == 0


def test_without_a_ledger_it_only_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    traces = _settling(tmp_path / "own.jsonl", n=12)
    argv = ["calibrate", "--traces", str(traces), "--model", "m", "--include-holdout"]
    assert main(argv) == 0  # the default guarantee: 12 streams certify nothing
    out = capsys.readouterr().out
    assert "seed: 12 streams of m (default), 0 held-out items left out" in out
    assert "certifies no threshold at <= 1.0% of the streams changed" in out
    assert "stored" not in out


def test_bad_settings_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traces = _settling(tmp_path / "own.jsonl", n=2)
    argv = ["calibrate", "--traces", str(traces), "--model", "m", "--max-changed", "2"]
    assert main(argv) == 2
    assert "max_changed_answers and miss_probability must lie in" in capsys.readouterr().err


def test_the_seed_is_keyed_by_the_score_it_certifies(tmp_path: Path) -> None:
    traces = _settling(tmp_path / "own.jsonl", n=12)
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    argv = ["calibrate", "--traces", str(traces), "--model", "QwQ-32B", "--family", "gsm8k"]
    assert main([*argv, *LOOSE_ARGS, "--score", "rule", "--ledger", url]) == 0
    certified, summary, _ = asyncio.run(_book_from_store(url))
    assert not certified  # nothing under the history score's key
    assert [row["family"] for row in summary] == ["gsm8k"]
