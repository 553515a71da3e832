"""`thinkgate demo` end to end: real replay upstream, real gateway, real HTTP, real ledger."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from difficulty.outcomes import Outcome, write_outcomes
from router.cli import main
from router.demo import Demo, DemoOptions
from router.ledger.base import open_ledger


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("thinkgate: error: ")
    return err[0]


def ledger_savings(url: str) -> dict[str, Any]:
    import asyncio

    async def read() -> dict[str, Any]:
        ledger = open_ledger(url, create=False)
        try:
            return await ledger.savings()
        finally:
            await ledger.close()

    return asyncio.run(read())


def test_demo_on_held_out_prompts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, figures_path = tmp_path / "demo", tmp_path / "figures.json"
    args = ["demo", "--limit", "6", "--out", str(out), "--json", str(figures_path)]
    fast = ["--tokens-per-second", "20000", "--concurrency", "3"]
    assert main([*args, "--no-progress", *fast]) == 0
    printed = capsys.readouterr().out
    figures = json.loads(figures_path.read_text())
    assert figures["prompts"] == figures["answered"] == 6 and figures["errors"] == 0
    assert sum(figures["requests_by_profile"].values()) == 6
    tokens = figures["tokens"]
    # The totals are the per-prompt table's sums: always-think is the recorded think cost.
    rows = figures["per_prompt"]
    assert tokens["reference"] == sum(r["think_tokens"] for r in rows)
    assert tokens["spent"] == sum(r["tokens"] for r in rows) > 0
    assert tokens["spent"] + tokens["saved"] == tokens["reference"]
    think = figures["think_profile"]
    routed = sum(r["think_tokens"] - r["tokens"] for r in rows if r["profile"] != think)
    assert tokens["saved_by"]["routing"] == routed
    assert sum(tokens["saved_by"].values()) == tokens["saved"]
    # The replay reports exactly what it streamed: nothing is left unexplained.
    assert tokens["saved_by"]["rest"] == 0
    assert figures["accuracy"]["gateway"] == pytest.approx(sum(r["correct"] for r in rows) / 6)
    for name in ("always_think", "always_direct"):
        assert 0.0 <= figures["accuracy"][name] <= 1.0
    # The ledger saw the same requests and tokens, and the graded feedback.
    savings = ledger_savings(figures["ledger"])
    assert savings["requests"] == 6
    assert savings["tokens"]["completion"] == tokens["spent"]
    assert savings["feedback"]["labelled"] == 6
    # /v1/savings rounds to 4 decimals
    assert savings["feedback"]["accuracy"] == pytest.approx(
        figures["accuracy"]["gateway"], abs=1e-4
    )
    assert figures["ledger_estimate"]["saved_estimate"] == savings["tokens"]["saved_estimate"]
    report = out / "report.html"
    assert report.is_file() and "<html" in report.read_text()
    assert f"dashboard          {report}" in printed
    assert f"tokens spent       {tokens['spent']:,} completion tokens" in printed
    # Early exit's book was seeded from QwQ-32B's training-split traces, none of them replayed.
    assert figures["exit_seed"] == 494
    calibration = figures["exit_calibration"][0]
    assert calibration["model"] == "QwQ-32B" and calibration["sample_size"] >= 494
    assert "exit calibration QwQ-32B:" in printed and "(494 seeded from" in printed


def test_cold_demo_seeds_nothing(tmp_path: Path) -> None:
    figures_path = tmp_path / "figures.json"
    args = ["demo", "--cold", "--limit", "3", "--out", str(tmp_path / "demo")]
    fast = ["--tokens-per-second", "20000", "--no-progress", "--json", str(figures_path)]
    assert main([*args, *fast]) == 0
    figures = json.loads(figures_path.read_text())
    assert figures["exit_seed"] == 0
    thinking = figures["requests_by_profile"].get(figures["think_profile"], 0)
    assert sum(row["sample_size"] for row in figures["exit_calibration"]) == thinking


def _recordings(path: Path) -> Path:
    """A user's own traffic: profiles 'small' and 'large'; one long, settling thought."""
    settle = "Adding them, 48 + 24 = 72, so the answer is \\boxed{72}. " * 40
    rows = []
    prompts = {
        "u1": ("Natalia sold 48 clips in April and half as many in May. How many in all?", "72"),
        "u2": ("What is 6 times 7?", "42"),
    }
    reasoning = {"u1": "Half of 48 is 24. " + settle, "u2": "6 times 7 is 42."}
    for item_id, (prompt, gold) in prompts.items():
        answer = f"The answer is \\boxed{{{gold}}}."
        rows.append(Outcome(item_id, prompt, "small", True, 8, gold=gold, response=answer))
        rows.append(
            Outcome(
                item_id,
                prompt,
                "large",
                True,
                600,
                gold=gold,
                reasoning=reasoning[item_id],
                response=answer,
            )
        )
    write_outcomes(rows, path)
    return path


def _streak_watcher() -> dict[str, Any]:
    """The k-agreeing-checkpoints watcher, whatever the default rule: a sure early exit here."""
    from dataclasses import fields

    from policies.convergence.watcher import WatcherParams

    config: dict[str, Any] = {"k": 2, "interval_tokens": 40, "min_tokens": 40}
    if "rule" in {f.name for f in fields(WatcherParams)}:
        config["rule"] = "streak"
    return config


def _config(path: Path) -> Path:
    """A user's gateway config whose model names are not the recorded profile names."""
    config = {
        "profiles": {
            "quick": {"model": "openai/my-quick", "predictor": "Qwen2.5-32B", "max_tokens": 256},
            "deep": {
                "model": "openai/my-deep",
                "api_base": "http://10.0.0.1:9/v1",  # replaced by the replay upstream
                "predictor": "QwQ-32B",
                "max_tokens": 4096,
                "prefill": True,
                "convergence": _streak_watcher(),
            },
        },
        "policy": {"kind": "fixed", "profile": "deep"},
        "reference_profile": "deep",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def test_demo_on_a_users_recordings_and_config_counts_failures(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    options = DemoOptions(
        outcomes_path=str(_recordings(tmp_path / "traffic.jsonl")),
        direct_profile="small",
        think_profile="large",
        config_path=str(_config(tmp_path / "gateway.yaml")),
        tokens_per_second=None,
        out_dir=tmp_path / "demo",
        port=port,
    )
    with Demo(options) as demo:
        assert demo.gateway_url.endswith(f":{port}")  # --port: the dashboard at a known address
        figures = demo.run()
        assert figures["errors"] == 0
        assert figures["requests_by_profile"] == {"deep": 2}
        assert figures["exit_seed"] == 0  # a user's recordings: no bundled traces to seed from
        assert figures["reference_model"] == "large"
        tokens = figures["tokens"]
        assert figures["early_exits"] == 1  # the long, settled thought is cut
        assert tokens["saved_by"]["routing"] == 0
        cut = [r for r in figures["per_prompt"] if r["early_exit"]]
        assert len(cut) == 1 and tokens["saved"] == cut[0]["think_tokens"] - cut[0]["tokens"] > 0
        assert tokens["saved_by"]["early_exit"] == tokens["saved"]
        assert figures["accuracy"]["gateway"] == 1.0
        assert figures["accuracy"]["early_exited"] == 1.0
        demo.upstream.schedule_fault("500", count=100)
        refused = demo.run()
        httpx.delete(f"{demo.upstream.url}/replay/faults").raise_for_status()
        demo.upstream.schedule_fault("break-after=3", count=100)
        broken = demo.run()  # streams that break half-way must count as failures too
    for failed in (refused, broken):
        assert failed["errors"] == 2 and failed["answered"] == 0, failed["error_messages"]
        assert failed["accuracy"]["gateway"] == 0.0
        assert failed["error_messages"], failed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--concurrency", "0"], "--concurrency must be at least 1"),
        (["--port", "70000"], "--port must be between 0 and 65535"),
        (["--limit", "0"], "--limit must be at least 1"),
        (["--tokens-per-second", "-1"], "--tokens-per-second must be positive"),
        (["--dataset", "no-such-dataset"], "no-such-dataset"),
        (["--think-profile", "o9"], "no recordings of profile 'o9'"),
        (["--config", "/nonexistent/gateway.yaml"], "cannot read config"),
        (["--model-dir", "/nonexistent/model"], "no difficulty model is missing"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path), *args]) == 2
    assert message in error_line(capsys)
    assert not (tmp_path / "report.html").exists()
