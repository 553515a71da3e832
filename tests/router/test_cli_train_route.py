"""`thinkgate train` and `thinkgate route` through the real CLI: outputs, files, exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.cli import main

ARITH = Path(__file__).resolve().parents[1] / "data" / "difficulty" / "arith.jsonl"
PROMPT = "Ana has 5 apples. Then Ana buys 3 more. How many apples does Ana have now?"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    root = tmp_path_factory.mktemp("train")
    out, report = root / "model", root / "report.json"
    with pytest.MonkeyPatch.context() as env:
        # Keep the test's embeddings out of the user's cache.
        env.setenv("THINKGATE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
        args = ["train", "--outcomes", str(ARITH), "--folds", "2", "--quiet"]
        assert main([*args, "--out", str(out), "--report", str(report)]) == 0
        yield out, report


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("thinkgate: error: ")
    return err


def test_train_writes_report_and_model(trained: tuple[Path, Path]) -> None:
    out, report_path = trained
    report = json.loads(report_path.read_text())
    assert set(report["profiles"]) == {"direct", "think"}
    assert report["folds"] == 2
    assert {"auc", "brier", "ece", "tokens_spearman"} <= set(report["profiles"]["direct"])
    assert set(report["baselines"]) == {"constant", "length", "tfidf"}
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["metrics"]["profiles"]["direct"]["auc"] == report["profiles"]["direct"]["auc"]


def test_route_json(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = trained
    capsys.readouterr()
    assert main(["route", PROMPT, "--model", str(out), "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert set(body["profiles"]) == {"direct", "think"}
    assert 0.0 <= body["profiles"]["direct"]["p_correct"] <= 1.0
    assert body["level"] in body["profiles"]
    assert body["order"][0] == "direct"  # direct answers spend fewer tokens


def test_route_console_script(trained: tuple[Path, Path]) -> None:
    out, _ = trained
    exe = Path(sys.executable).with_name("thinkgate")
    done = subprocess.run(
        [str(exe), "route", PROMPT, "--model", str(out)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "difficulty level:" in done.stdout
    assert "direct" in done.stdout and "think" in done.stdout


def test_route_bad_input(trained: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = trained
    capsys.readouterr()
    assert main(["route", "   ", "--model", str(out)]) == 2
    assert "empty" in error_line(capsys)
    assert main(["route", PROMPT, "--model", str(out), "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in error_line(capsys)
    assert main(["route", PROMPT, "--model", str(out.parent / "absent")]) == 2
    assert "no model" in error_line(capsys)


def test_route_refuses_other_feature_version(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    shutil.copytree(trained[0], other)
    meta = json.loads((other / "metadata.json").read_text())
    meta["feature_version"] = -1
    (other / "metadata.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["route", PROMPT, "--model", str(other)]) == 2
    assert "feature version" in error_line(capsys)


def test_train_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    lines = ARITH.read_text().splitlines()[:2] + ['{"id": "x", "prompt": "p"}']
    bad.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["train", "--outcomes", str(bad)]) == 2
    assert ":3:" in error_line(capsys)
    assert main(["train", "--outcomes", str(ARITH), "--profile", "nope"]) == 2
    assert "unknown profile 'nope'" in error_line(capsys)
    assert main(["train", "--outcomes", str(ARITH), "--folds", "1"]) == 2
    assert "folds" in error_line(capsys)
    assert main(["train", "--dataset", "no-such-dataset"]) == 2
    assert "unknown dataset" in error_line(capsys)
    assert main(["train", "--outcomes", str(ARITH), "--encoder", "no-such-encoder"]) == 2
    assert "unknown encoder 'no-such-encoder'" in error_line(capsys)
    assert main(["train", "--outcomes", str(ARITH), "--encoder", str(tmp_path / "x.npz")]) == 2
    assert "no such table" in error_line(capsys)


def test_train_on_the_static_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("THINKGATE_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "model"
    args = ["train", "--outcomes", str(ARITH), "--folds", "2", "--quiet", "--out", str(out)]
    assert main([*args, "--encoder", "minilm-static", "--routing-head"]) == 0
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["encoder"] == "minilm-static"
    assert meta["params"]["correct_linear_grid"] == [0.0005, 0.001, 0.002]
    capsys.readouterr()
    assert main(["route", PROMPT, "--model", str(out), "--json"]) == 0
    routed = json.loads(capsys.readouterr().out)
    assert set(routed["profiles"]) == {"direct", "think"}
