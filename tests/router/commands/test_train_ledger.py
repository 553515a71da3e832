"""`thinkgate train --from-ledger`: refused (exit 2, one line, nothing saved) on too few pairs and
on heads no better than the shipped general model; saved when they beat it.

The ledgers hold real outcomes: bundled datasets' items from the held-out split (no shipped
model trained on them), each written through the ledger API as a pair judged by its recorded
label.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from difficulty.descriptions import Description
from difficulty.model import DifficultyModel
from difficulty.outcomes import read_outcomes
from router.cli import main
from router.commands.train_ledger import ledger_rows
from router.ledger.counterfactual import CounterfactualRecord, PairSide
from tests.router.commands.ledger_pairs import dataset_pairs, write_pairs

CRUX = "zeroeval-crux"
GSM8K = "routellm-gsm8k"


def _train(url: str, out: Path, *extra: str) -> int:
    return main(["train", "--from-ledger", url, "--out", str(out), "--folds", "3", *extra])


@pytest.mark.parametrize("store", ["sqlite", "redis"])
def test_too_few_pairs_are_refused(
    store: str, tmp_path: Path, redis_ledger_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db" if store == "sqlite" else redis_ledger_url
    write_pairs(url, dataset_pairs(CRUX, "gpt-4o-mini", "o1-mini", 50))
    assert _train(url, tmp_path / "heads") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("thinkgate: error: refusing to train: 50 labelled counterfactual pairs")
    assert "fewer than the 200" in err and "\n" not in err
    assert not (tmp_path / "heads").exists()


def test_pairs_without_prompts_say_to_store_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    pairs = dataset_pairs(CRUX, "gpt-4o-mini", "o1-mini", 30)
    for pair in pairs:
        pair.prompt = None
    write_pairs(url, pairs)
    assert _train(url, tmp_path / "heads", "--min-pairs", "10") == 2
    assert "30 labelled pairs lack the prompt (set ledger.store_text)" in capsys.readouterr().err


def test_heads_no_better_than_the_shipped_model_are_not_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # CRUXEval's four models, described as the general model knows them: 238 pairs do not
    # teach the heads more than the general model already knows (AUC ~0.67 vs 0.75).
    url = f"sqlite:///{tmp_path}/ledger.db"
    pairs = dataset_pairs(CRUX, "gpt-4o-mini", "o1-mini", 1000)
    pairs += dataset_pairs(CRUX, "gpt-4o", "o1-preview", 1000)
    write_pairs(url, pairs)
    assert _train(url, tmp_path / "heads", "--min-pairs", "200") == 2
    err = capsys.readouterr().err.strip()
    assert "refusing to save: 238 labelled pairs, 3-fold held out: AUC" in err
    assert err.endswith("the heads are not better than the shipped model")
    assert not (tmp_path / "heads").exists()


def test_heads_that_beat_the_shipped_model_are_saved(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Four models an operator described alike (direct, mid): the general model cannot tell
    # them apart; their own pairs can.
    url = f"sqlite:///{tmp_path}/ledger.db"
    alike = Description("direct", "mid")
    pairs = []
    for data, a, b in ((GSM8K, "mixtral", "gpt-4"), (CRUX, "gpt-4o-mini", "o1-mini")):
        pairs += dataset_pairs(data, a, b, 1000, describe={a: alike, b: alike})
    write_pairs(url, pairs)
    assert _train(url, tmp_path / "heads") == 0
    out = capsys.readouterr().out
    assert "396 labelled pairs, 3-fold held out: AUC" in out
    figures = out.split("AUC ", 1)[1]
    new, shipped = float(figures[:5]), float(figures.split("model ", 1)[1][:5])
    assert new > shipped
    model = DifficultyModel.load(tmp_path / "heads")
    assert sorted(model.profiles_) == ["gpt-4", "gpt-4o-mini", "mixtral", "o1-mini"]
    assert model.metrics_["labelled"] == 396 and model.metrics_["auc"] == pytest.approx(
        new, abs=1e-3
    )


def _pair(
    rid: str, chosen: bool | None, alt: bool | None, agree: bool | None
) -> CounterfactualRecord:
    sides = [PairSide(name, None, good, 10, 20, 0.0) for name, good in (("a", chosen), ("b", alt))]
    return CounterfactualRecord(rid, 0.0, *sides, label=None, agree=agree, prompt="p")


def test_client_feedback_labels_what_agreement_and_the_judge_left_open() -> None:
    pairs = [
        _pair("judged", True, False, False),
        _pair("good-disagreed", None, None, False),  # good chosen answer: the other is wrong
        _pair("bad-disagreed", None, None, False),  # bad chosen answer says nothing of the other
        _pair("no-feedback", None, None, None),
    ]
    feedback = {"good-disagreed": True, "bad-disagreed": False, "judged": False}
    rows, counts = ledger_rows(pairs, feedback)
    assert [(r.pair, r.profile, r.good) for r in rows] == [
        ("judged", "a", True),  # the judge's label stands
        ("judged", "b", False),
        ("good-disagreed", "a", True),
        ("good-disagreed", "b", False),
    ]
    assert counts == {"pairs": 4, "labelled": 2, "unlabelled": 2, "no_prompt": 0}


def test_the_pairs_export_as_an_outcome_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/ledger.db"
    pairs = dataset_pairs(CRUX, "gpt-4o-mini", "o1-mini", 20)
    write_pairs(url, pairs)
    out = tmp_path / "pairs.jsonl"
    assert main(["ledger", "export", "--pairs", "--ledger", url, "--out", str(out)]) == 0
    rows = read_outcomes(out)
    assert len(rows) == 40
    assert [(r.id, r.profile, r.correct) for r in rows[:2]] == [
        (pairs[0].request_id, "gpt-4o-mini", pairs[0].chosen.good),
        (pairs[0].request_id, "o1-mini", pairs[0].alternative.good),
    ]
    assert rows[0].prompt == pairs[0].prompt
