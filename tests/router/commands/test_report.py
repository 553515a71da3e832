"""`thinkgate report`: a ledger's savings rendered as one static dashboard file."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from router.cli import main
from router.ledger import RedisLedger, open_ledger
from tests.router.test_dashboard import REQUIRED_METRICS, _parse
from tests.router.test_metrics import make_record


async def _fill(url: str) -> dict[str, Any]:
    ledger = open_ledger(url)
    try:
        for i in range(6):
            await ledger.append(
                make_record(
                    request_id=f"req-{i}",
                    time=1_700_000_000.0 + 40 * i,
                    profile=("direct", "think")[i % 2],
                    difficulty=("easy", "hard")[i % 2],
                    saved_by={"routing": 100.0 * i, "early_exit": 10.0},
                    saved_tokens_estimate=100.0 * i + 10,
                )
            )
        await ledger.set_feedback("req-1", True)
        return await ledger.savings(bucket_seconds=60)
    finally:
        await ledger.close()


async def _drop(url: str) -> None:
    ledger = open_ledger(url)
    assert isinstance(ledger, RedisLedger)
    await ledger.drop()
    await ledger.close()


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_report_writes_the_ledger_savings_into_the_page(
    store: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if store == "sqlite":
        url = f"sqlite:///{tmp_path}/ledger.db"
    else:
        url = f"redis://127.0.0.1:6379/0?prefix=test-report-{uuid.uuid4().hex}"
    try:
        savings = asyncio.run(_fill(url))
        out = tmp_path / "report.html"
        assert main(["report", "--ledger", url, "--out", str(out)]) == 0
    finally:
        if store == "redis":
            asyncio.run(_drop(url))
    page = _parse(out.read_text("utf-8"))
    assert json.loads(page.scripts["savings-data"]) == savings
    assert page.metrics >= REQUIRED_METRICS
    assert page.loads == []
    assert savings["requests"] == 6
    printed = capsys.readouterr().out
    assert f"{out}: 6 requests" in printed
    assert f"{savings['tokens']['saved_estimate']:.0f} saved (estimate" in printed


def test_missing_ledger_file_fails_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/nope.db"
    assert main(["report", "--ledger", url, "--out", str(tmp_path / "r.html")]) == 2
    assert "ledger file not found" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()
    assert not (tmp_path / "r.html").exists()
