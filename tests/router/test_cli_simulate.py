from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from router.cli import main


def _routing_rows(n: int = 60) -> list[dict[str, object]]:
    """Two profiles: `direct` fails on long (hard) prompts, `think` rarely fails but costs 10x."""
    rng = random.Random(0)
    rows: list[dict[str, object]] = []
    for i in range(n):
        hard = i % 3 == 0
        prompt = (
            f"Prove that the sequence {i} converges and compute its limit with full working, "
            "considering every case of the recurrence carefully." * (2 if hard else 1)
            if hard
            else f"What is {i} plus {i + 1}?"
        )
        rows.append(
            {
                "id": f"q{i}",
                "prompt": prompt,
                "profile": "direct",
                "correct": (not hard) or rng.random() < 0.2,
                "tokens": 40 + rng.randint(0, 20),
            }
        )
        rows.append(
            {
                "id": f"q{i}",
                "prompt": prompt,
                "profile": "think",
                "correct": rng.random() < 0.95,
                "tokens": 600 + rng.randint(0, 400),
            }
        )
    return rows


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_simulate_routing_writes_the_report_keys_and_plot(tmp_path: Path) -> None:
    src = _write(tmp_path / "outcomes.jsonl", _routing_rows())
    report, plot = tmp_path / "r.json", tmp_path / "f.png"
    code = main(
        [
            "simulate",
            "--outcomes",
            str(src),
            "--reference",
            "think",
            "--folds",
            "3",
            "--target-accuracy-loss",
            "0.05",
            "--report",
            str(report),
            "--plot",
            str(plot),
        ]
    )
    assert code == 0
    data = json.loads(report.read_text())
    # The baselines need no model: computed by hand from the table, they must agree.
    rows = _routing_rows()
    by = {p: {r["id"]: r for r in rows if r["profile"] == p} for p in ("direct", "think")}
    for profile, items in by.items():
        fixed = data["baselines"][f"fixed:{profile}"]
        assert fixed["accuracy"] == pytest.approx(sum(r["correct"] for r in items.values()) / 60)
        assert fixed["tokens"] == pytest.approx(sum(r["tokens"] for r in items.values()) / 60)
    oracle_rows = []
    for item in by["direct"]:
        pair = [by["direct"][item], by["think"][item]]
        right = [r for r in pair if r["correct"]]
        oracle_rows.append(min(right or pair, key=lambda r: r["tokens"]))
    assert data["oracle"]["accuracy"] == pytest.approx(sum(r["correct"] for r in oracle_rows) / 60)
    assert data["oracle"]["tokens"] == pytest.approx(sum(r["tokens"] for r in oracle_rows) / 60)
    # The operating point's savings are its own tokens against the reference's.
    point, think = data["operating_point"], data["baselines"]["fixed:think"]
    assert point["tokens_saved"] == pytest.approx(1 - point["tokens"] / think["tokens"])
    assert point["accuracy_loss"] == pytest.approx(think["accuracy"] - point["accuracy"])
    assert {"random", "prompt_length"} <= set(data["baselines"])
    assert len(data["frontier"]) >= 2
    assert 0.0 <= data["cpt50"] <= 1.0 and 0.0 <= data["cpt80"] <= 1.0 and "apgr" in data
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The printed policy_config goes into a gateway config verbatim and is the policy it runs.
    from dataclasses import asdict

    from router.pipeline import _policy_config
    from router.settings import settings_from_mapping

    fitted = data["policy_config"]
    assert fitted["recalibration"]  # fitted on the outcomes: the key #17 saw rejected
    profiles = {
        "direct": {"model": "openai/d", "predictor": "direct"},
        "think": {"model": "openai/t", "predictor": "think"},
    }
    settings = settings_from_mapping({"profiles": profiles, "policy": fitted})
    assert json.loads(json.dumps(asdict(_policy_config(settings.policy)))) == fitted


def test_simulate_a_table_without_token_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [{**r, "tokens": None} for r in _routing_rows()]
    src, report = _write(tmp_path / "outcomes.jsonl", rows), tmp_path / "r.json"
    argv = ["simulate", "--outcomes", str(src), "--folds", "3", "--report", str(report)]
    assert main([*argv, "--quiet"]) == 0
    data = json.loads(report.read_text())
    assert data["tokens_recorded"] is False and "apgr" in data and "cpt50" in data
    # cost = share of calls to the stronger profile (think), so fixed:think is 1 and direct 0
    assert data["baselines"]["fixed:think"]["tokens"] == 1.0
    assert data["baselines"]["fixed:direct"]["tokens"] == 0.0
    assert "tokens n/a" in capsys.readouterr().out


def test_simulate_search_on_sampled_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = []
    for i in range(20):
        answers = ["7"] * 40 if i % 2 else ["7", "8"] * 20
        rows.append(
            {
                "id": f"s{i}",
                "prompt": f"p{i}",
                "profile": "sampler",
                "correct": None,
                "tokens": None,
                "gold": "7",
                "samples": [{"answer": a, "tokens": 100} for a in answers],
            }
        )
    src = _write(tmp_path / "sampled.jsonl", rows)
    report = tmp_path / "r.json"
    assert main(["simulate", "--outcomes", str(src), "--report", str(report), "--orders", "2"]) == 0
    search = json.loads(report.read_text())["search"]["sampler"]
    assert set(search) == {
        "majority@1",
        "majority@4",
        "majority@8",
        "majority@16",
        "majority@32",
        "adaptive",
    }
    assert search["majority@16"]["samples"] == 16
    assert search["adaptive"]["samples"] < 16
    assert search["adaptive"]["tokens"] == pytest.approx(100 * search["adaptive"]["samples"])
    assert "search sampler" in capsys.readouterr().out


def test_malformed_file_fails_with_its_line_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _routing_rows(2)
    src = tmp_path / "bad.jsonl"
    src.write_text(json.dumps(rows[0]) + "\n" + json.dumps(rows[1]) + "\n{not json\n")
    assert main(["simulate", "--outcomes", str(src), "--report", str(tmp_path / "r.json")]) == 2
    assert f"{src}:3:" in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_unknown_profile_and_missing_file_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "o.jsonl", _routing_rows(6))
    out = str(tmp_path / "r.json")
    assert (
        main(["simulate", "--outcomes", str(src), "--profiles", "direct,nope", "--report", out])
        == 2
    )
    assert "unknown profile 'nope'" in capsys.readouterr().err
    assert main(["simulate", "--outcomes", str(tmp_path / "none.jsonl"), "--report", out]) == 2
    assert main(["simulate", "--outcomes", str(src), "--profiles", "direct", "--report", out]) == 2
    assert "nothing to simulate" in capsys.readouterr().err


def test_bad_price_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["simulate", "--outcomes", "x", "--price", "think=1", "--report", "r.json"])
    assert exc.value.code == 2


def test_judging_the_shipped_model_reports_apgr_and_each_forecast_s_auc(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    easy = ["hi!", "thanks!", "What is the capital of France?", "Write a haiku about rain."]
    hard = [
        "Find the number of ordered pairs of integers (a, b) with -100 <= a, b <= 100 such that "
        f"a^2 - {k}ab + b^2 is a perfect square and a + b is prime; prove your count."
        for k in range(3, 7)
    ]
    rows = [
        {"id": f"q{i}", "prompt": p, "profile": name, "correct": ok, "tokens": t}
        for i, p in enumerate(easy + hard)
        for name, ok, t in (("small", p in easy, 40), ("big", True, 2000))
    ]
    src = _write(tmp_path / "outcomes.jsonl", rows)
    report = tmp_path / "j.json"
    argv = ["simulate", "--outcomes", str(src), "--model", "shipped", "--report", str(report)]
    described = argv + ["--describe", "small=direct:weak", "--describe", "big=think:strong"]
    assert main(described) == 0
    judged = json.loads(report.read_text())
    assert judged["pair"] == ["small", "big"] and judged["items"] == 8
    assert judged["auc"]["small"] > 0.9 and judged["auc"]["big"] is None
    assert "AUC of each forecast" in capsys.readouterr().out
    assert main(argv + ["--describe", "small=direct:weak"]) == 2  # `big` has no description
    assert "no description for profile 'big'" in capsys.readouterr().err
