"""`thinkgate ledger export|stats`: labelled traffic becomes an outcome table `train` can read."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from difficulty.outcomes import read_outcomes
from router.cli import main
from router.ledger import LedgerRecord, RedisLedger, labelled_outcomes, open_ledger
from tests.router.ledger.conftest import make_record


def _records() -> list[LedgerRecord]:
    return [
        make_record(0, prompt="What is 2+3?", completion="5", gold="5", feedback=True),
        make_record(1, prompt="Integrate x^2", feedback=False),
        make_record(2, prompt=None, feedback=True),  # text not stored: cannot be exported
        make_record(3, prompt="Hi", status=502, error="upstream 5xx", feedback=False),
        make_record(4, prompt="Unlabelled", feedback=None),
    ]


def test_only_labelled_successful_records_with_text_become_outcomes() -> None:
    result = labelled_outcomes(_records())
    assert [(o.id, o.profile, o.correct, o.tokens) for o in result.outcomes] == [
        ("req-0", "direct", True, 100),
        ("req-1", "cot", False, 110),
    ]
    first = result.outcomes[0]
    assert (first.prompt, first.dataset, first.gold, first.response) == (
        "What is 2+3?",
        "ledger",
        "5",
        "5",
    )
    assert (result.skipped_without_prompt, result.skipped_failed) == (1, 1)


async def _fill(url: str) -> None:
    ledger = open_ledger(url)
    try:
        for record in _records():
            await ledger.append(record)
        await ledger.set_feedback("req-1", True)  # relabelled after the fact
    finally:
        await ledger.close()


async def _drop(url: str) -> None:
    ledger = open_ledger(url)
    if isinstance(ledger, RedisLedger):
        await ledger.drop()
    await ledger.close()


def test_export_writes_an_outcome_table_and_reports_skips(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(_fill(store_url))
    out = tmp_path / "traffic.jsonl"
    try:
        assert main(["ledger", "export", "--ledger", store_url, "--out", str(out)]) == 0
        printed = capsys.readouterr().out
        assert main(["ledger", "stats", "--ledger", store_url, "--bucket-seconds", "3600"]) == 0
        stats = json.loads(capsys.readouterr().out)
    finally:
        asyncio.run(_drop(store_url))
    assert "wrote 2 labelled records" in printed
    assert "skipped 1 labelled records without stored prompt text" in printed
    assert "skipped 1 labelled records of failed requests" in printed
    rows = read_outcomes(out)
    assert [(o.id, o.correct, o.dataset) for o in rows] == [
        ("req-0", True, "ledger"),
        ("req-1", True, "ledger"),
    ]
    assert stats["requests"] == 5 and stats["feedback"]["labelled"] == 4
    assert stats["bucket_seconds"] == 3600


def test_a_bad_ledger_url_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ledger", "stats", "--ledger", "mysql://x"])
    assert code == 2
    assert capsys.readouterr().err.startswith("thinkgate: error: ledger URL 'mysql://x'")


def test_a_missing_ledger_file_is_not_created_by_readers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "typo.db"
    assert main(["ledger", "stats", "--ledger", f"sqlite:///{missing}"]) == 2
    assert "ledger file not found" in capsys.readouterr().err
    assert not missing.exists()
