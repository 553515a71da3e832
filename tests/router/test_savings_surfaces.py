"""One ledger, every surface, one saved share: `/v1/savings` (SQLite and Redis), the dashboard's
binding, `thinkgate ledger stats`, `thinkgate report` and Grafana's stat panel evaluated over the
metrics the gateway exports for the same records, all equal to the last printed digit."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from policies.savings import GRAFANA_SAVED_SHARE, saved_share, share_percent
from router.cli import main
from router.ledger.base import open_ledger
from router.ledger.record import LedgerRecord
from router.metrics import GatewayMetrics
from tests.router.conftest import RunningGateway
from tests.router.test_metrics import make_record

ROOT = Path(__file__).resolve().parents[2]


def _records() -> list[LedgerRecord]:
    """Routed, early-exited, probed (a negative saving) and failed requests over two hours."""
    t0 = 1_700_000_000.0
    return [
        make_record(request_id="a", time=t0, completion_tokens=211, saved_tokens_estimate=1289.5,
                    saved_by={"routing": 1289.5, "early_exit": 0.0, "sampling": 0.0},
                    cost=0.000462, saved_cost=0.0149, reference_cost=0.015362),
        make_record(request_id="b", time=t0 + 60, profile="think", completion_tokens=1733,
                    reference_tokens_estimate=2400.25, saved_tokens_estimate=667.25,
                    saved_by={"routing": 0.0, "early_exit": 667.25, "sampling": 0.0},
                    early_exit={"tokens_at_exit": 1700}, cost=0.01739, saved_cost=0.0066725,
                    reference_cost=0.0240625),
        make_record(request_id="c", time=t0 + 3700, profile="think", completion_tokens=2950,
                    reference_tokens_estimate=2900.0, saved_tokens_estimate=-50.0,
                    saved_by={"routing": 0.0, "early_exit": -50.0, "sampling": 0.0},
                    probe_tokens=50, cost=0.02956, saved_cost=-0.0005,
                    reference_cost=0.02906),
        make_record(request_id="d", time=t0 + 3720, completion_tokens=0, status=502,
                    reference_tokens_estimate=1500.0, saved_tokens_estimate=0.0,
                    saved_by={"routing": 0.0, "early_exit": 0.0, "sampling": 0.0}),
        make_record(request_id="e", time=t0 + 3725, completion_tokens=97,
                    reference_tokens_estimate=1411.0, saved_tokens_estimate=1314.0,
                    saved_by={"routing": 1314.0, "early_exit": 0.0, "sampling": 0.0},
                    cost=0.000234, saved_cost=0.015202, reference_cost=0.015436),
    ]  # fmt: skip


def _fill(url: str, records: list[LedgerRecord]) -> None:
    async def fill() -> None:
        ledger = open_ledger(url)
        try:
            for record in records:
                await ledger.append(record)
        finally:
            await ledger.close()

    asyncio.run(fill())


def counter_totals(metrics_text: str) -> dict[str, float]:
    """Each counter's total over its labels, from one scrape."""
    totals: dict[str, float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name.endswith("_total"):
                totals[sample.name] = totals.get(sample.name, 0.0) + sample.value
    return totals


def grafana_value(expr: str, values: dict[str, float]) -> float:
    """Evaluate a panel's expression over counters that started at zero, where
    `increase(x[$__range])` is the counter's value: enough PromQL for the stat panels."""
    python = re.sub(
        r"sum\(increase\((\w+)\[\$__range\]\)\)", lambda m: repr(values.get(m.group(1), 0.0)), expr
    )
    assert re.fullmatch(r"[\d.e+\-*/() ]+", python), python
    return float(eval(python))  # only numbers and arithmetic are left


def _stat_panel(title_start: str) -> dict[str, Any]:
    board = json.loads((ROOT / "deploy/grafana/dashboards/thinkgate.json").read_text("utf-8"))
    return next(p for p in board["panels"] if p["title"].startswith(title_start))


def test_every_surface_prints_the_same_saved_share(
    tmp_path: Path,
    gateway_factory: Any,
    redis_ledger_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    records = _records()
    spent = sum(r.completion_tokens for r in records)
    saved = sum(r.saved_tokens_estimate for r in records)
    expected = share_percent(saved_share(spent, saved))
    assert expected == 39.2  # 3220.75 / (4991 + 3220.75) = 0.39222

    sqlite_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    figures: dict[str, float] = {}
    money: dict[str, float] = {}
    for name, url in (("sqlite", sqlite_url), ("redis", redis_ledger_url)):
        _fill(url, records)
        config = {
            "profiles": {
                "direct": {"model": "openai/x", "api_base": "http://127.0.0.1:9/v1",
                           "predictor": "Qwen2.5-32B"},
                "think": {"model": "openai/y", "api_base": "http://127.0.0.1:9/v1",
                          "predictor": "QwQ-32B"},
            },
            "reference_profile": "think",
            # A Redis ledger's spool goes to the test's own folder, not the working directory.
            "ledger": {"url": url, "spool": {"path": str(tmp_path / f"{name}-spool.db")}},
        }  # fmt: skip
        gw: RunningGateway = gateway_factory(config)
        body = httpx.get(f"{gw.url}/v1/savings", timeout=10).json()
        figures[f"/v1/savings ({name})"] = body["tokens"]["saved_percent"]
        money[f"/v1/savings ({name})"] = body["money"]["saved_percent"]
        page = httpx.get(f"{gw.url}/dashboard", timeout=10).text
        # The dashboard shows that same number as it is (format "pct": value.toFixed(1) + "%").
        assert 'data-metric="tokens/saved_percent" data-format="pct"' in page

    assert main(["ledger", "stats", "--ledger", sqlite_url]) == 0
    stats = json.loads(capsys.readouterr().out)
    figures["ledger stats"] = stats["tokens"]["saved_percent"]
    money["ledger stats"] = stats["money"]["saved_percent"]

    # The demo prints the same ledger's estimate beside its measured figures.
    from router.demo.report import PromptResult, RecordedPrompt, compute_figures, format_figures

    recorded = [RecordedPrompt("a", "What is 3 + 4?", "7", 900, "7", 100, "7")]
    demo = format_figures(
        compute_figures(
            recorded,
            [PromptResult("a", "direct", 100, "7")],
            think_profile="think",
            ledger_savings=stats,
        )
    )
    estimate = re.search(r"ledger estimate .*?\(([\d.]+)% of spent \+ saved, estimated", demo)
    assert estimate is not None, demo
    figures["demo (ledger estimate)"] = float(estimate.group(1))

    out = tmp_path / "report.html"
    assert main(["report", "--ledger", sqlite_url, "--out", str(out)]) == 0
    printed = re.findall(r"estimate, ([\d.]+)% of spent", capsys.readouterr().out)
    assert len(printed) == 2
    figures["report (printed)"], money["report (printed)"] = map(float, printed)
    embedded = re.search(r'id="savings-data"[^>]*>(.*?)</script>', out.read_text(), re.S)
    assert embedded is not None
    page_data = json.loads(embedded.group(1))
    figures["report (page)"] = page_data["tokens"]["saved_percent"]
    money["report (page)"] = page_data["money"]["saved_percent"]

    metrics = GatewayMetrics()
    for record in records:
        metrics.observe(record)
    panel = _stat_panel("Saved share")
    assert [t["expr"] for t in panel["targets"]] == [GRAFANA_SAVED_SHARE]
    assert panel["fieldConfig"]["defaults"] == {"unit": "percentunit", "decimals": 1}
    totals = counter_totals(metrics.render().decode())
    figures["grafana"] = share_percent(grafana_value(GRAFANA_SAVED_SHARE, totals))

    assert figures == dict.fromkeys(figures, expected), figures
    # Money, by the same definition, on the surfaces that show it.
    money_expected = share_percent(
        saved_share(sum(r.cost or 0 for r in records), sum(r.saved_cost or 0 for r in records))
    )
    assert money_expected == 43.2  # 0.0362745 / (0.047646 + 0.0362745)
    assert money == dict.fromkeys(money, money_expected), money
