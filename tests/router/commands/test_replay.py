"""`thinkgate replay`: report keys, sweep, exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from difficulty.traces import Trace, write_traces
from router.cli import main

PAD = "I go over the arithmetic once more, slowly, line by line, to be thorough here. "


def _traces(path: Path, n: int = 6) -> Path:
    rows = [
        Trace(
            id=f"item-{i}",
            prompt="q",
            gold=str(i),
            reasoning=PAD * 2 + f"So the answer is {i}. " + PAD * 10,
            final=f"\\boxed{{{i}}}",
        )
        for i in range(n)
    ]
    write_traces(rows, path)
    return path


def test_replay_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traces = _traces(tmp_path / "tiny.jsonl")
    report = tmp_path / "report.json"
    args = ["replay", "--traces", str(traces), "--k", "2", "--interval", "20"]
    assert main([*args, "--min-tokens", "10", "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    figures = data["datasets"]["tiny"]
    for key in ("tokens_saved", "accuracy_full", "accuracy_exit", "exits", "n"):
        assert key in figures
    assert figures["n"] == 6 and figures["exits"] == 6
    assert figures["accuracy_exit"] == figures["accuracy_full"] == 1.0
    assert figures["tokens_saved"] > 0.3
    assert data["params"]["k"] == 2 and data["params"]["interval_tokens"] == 20
    assert "tiny" in capsys.readouterr().out


def _settling(path: Path, n: int) -> Path:
    # Checked, confirmed and restated: what the learned rule scores high.
    check = (
        "Let me double-check: {i} plus 0 is {i}. Yes, that checks out. So the answer is {i}.\n\n"
    )
    rows = [
        Trace(f"item-{i}", "q", str(i), PAD * 2 + check.format(i=i) * 12, f"\\boxed{{{i}}}")
        for i in range(n)
    ]
    write_traces(rows, path)
    return path


def test_default_is_cold_start_with_online_calibration(tmp_path: Path) -> None:
    traces = _settling(tmp_path / "tiny.jsonl", n=12)
    report = tmp_path / "online.json"
    assert main(["replay", "--traces", str(traces), "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["params"]["rule"] == "learned" and data["settings"]["max_changed_answers"] == 0.01
    tiny = data["datasets"]["tiny"]
    assert tiny["exits"] == 0 and tiny["certified_after"] is None  # 12 < 230 streams
    # A loose guarantee certifies after four shadow streams (its first look spends half the
    # miss probability: ceil(log .25 / log .7)); the rest may exit, none changed.
    loose = ["--max-changed", "0.3", "--miss-probability", "0.5", "--shadow-share", "0"]
    assert main(["replay", "--traces", str(traces), *loose, "--report", str(report)]) == 0
    tiny = json.loads(report.read_text())["datasets"]["tiny"]
    assert tiny["certified_after"] == 4 and tiny["exits"] == 8
    assert tiny["changed"] == 0 and tiny["saved"] > 0.3
    assert tiny["accuracy_full"] == tiny["accuracy_used"] == 1.0
    data = json.loads(report.read_text())
    assert tiny["served_exits"] == 8 and data["settings"]["changed_rate_over"] == "streams"
    over = ["--changed-rate-over", "exits"]
    assert main(["replay", "--traces", str(traces), *loose, *over, "--report", str(report)]) == 0
    assert json.loads(report.read_text())["settings"]["changed_rate_over"] == "exits"


def test_fixed_learned_rule_and_its_confidence_can_be_set(tmp_path: Path) -> None:
    traces = _traces(tmp_path / "tiny.jsonl")
    report = tmp_path / "learned.json"
    assert main(["replay", "--traces", str(traces), "--fixed", "--report", str(report)]) == 0
    assert json.loads(report.read_text())["params"]["rule"] == "learned"
    argv = ["replay", "--traces", str(traces), "--confidence", "0.999999"]
    assert main([*argv, "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["params"]["confidence"] == 0.999999
    assert data["datasets"]["tiny"]["exits"] == 0  # nothing is that sure


def test_sweep_chooses_on_one_half_and_reports_the_other(tmp_path: Path) -> None:
    traces = _traces(tmp_path / "tiny.jsonl.gz", n=12)
    report = tmp_path / "sweep.json"
    assert main(["replay", "--traces", str(traces), "--sweep", "--report", str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["sweep"]["frontier"] and data["sweep"]["chosen"] == data["params"]
    assert 0 < data["datasets"]["tiny"]["n"] < 12  # only the held-out half is reported


def test_bundled_dataset(tmp_path: Path) -> None:
    report = tmp_path / "ta.json"
    argv = ["replay", "--dataset", "thought-anchors", "--fixed", "--report", str(report)]
    assert main(argv) == 0
    figures = json.loads(report.read_text())["datasets"]["thought-anchors"]
    assert figures["n"] == 20
    assert "savings_share_of_oracle" in figures and "premature_exits" in figures


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--dataset", "no-such-traces"], "unknown trace dataset 'no-such-traces'"),
        (["--traces", "{missing}"], "No such file or directory"),
        (["--traces", "{bad}"], "bad.jsonl:2: not valid JSON"),
        (["--traces", "{good}", "--k", "0"], "k must be at least 1"),
        (["--traces", "{good}", "--kinds", "hunch"], "kinds must be"),
        (["--traces", "{good}", "--confidence", "2"], "confidence must lie in"),
        (["--traces", "{good}", "--max-drop", "5"], "--max-drop"),
        (["--traces", "{empty}"], "no traces in 'empty'"),
    ],
)
def test_errors_are_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "a", "reasoning": "r"}) + "\n{oops\n")
    (tmp_path / "empty.jsonl").write_text("")
    paths = {
        "missing": str(tmp_path / "missing.jsonl"),
        "bad": str(bad),
        "good": str(_traces(tmp_path / "good.jsonl", n=2)),
        "empty": str(tmp_path / "empty.jsonl"),
    }
    assert main(["replay", *[a.format(**paths) for a in argv]]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_trace_source_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["replay"])
    assert info.value.code == 2
    assert "--traces" in capsys.readouterr().err
