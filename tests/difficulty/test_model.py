"""DifficultyModel: estimator conventions, learning, predicting, saving and loading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from difficulty.encoder import Encoder
from difficulty.errors import InvalidInputError, ModelFormatError, NotFoundError
from difficulty.features import FEATURE_VERSION
from difficulty.model import DifficultyModel
from difficulty.outcomes import Outcome, read_outcomes
from difficulty.predictions import Predictions, ProfilePrediction

ARITH = Path(__file__).resolve().parents[1] / "data" / "difficulty" / "arith.jsonl"
EASY = "Ana has 5 apples. How many apples does Ana have now?"
HARD = (
    "Ben has 40 coins. Then Ben buys 7 more. Then Ben loses 3 more. Then Ben doubles 9 more. "
    "Then Ben finds 12 more. Then Ben gives away 5 more. How many coins does Ben have now?"
)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    return Encoder(cache_dir=tmp_path_factory.getbasetemp() / "embeddings", progress=False)


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return read_outcomes(ARITH)


@pytest.fixture(scope="module")
def model(outcomes: list[Outcome], encoder: Encoder) -> DifficultyModel:
    return DifficultyModel(encoder=encoder, n_estimators=60).fit(outcomes)


@pytest.fixture(scope="module")
def saved(model: DifficultyModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model.save(tmp_path_factory.mktemp("model") / "m")


def test_init_stores_hyperparameters_only() -> None:
    m = DifficultyModel(num_leaves=5, random_state=3)
    assert m.get_params()["num_leaves"] == 5
    assert not [k for k in vars(m) if k.endswith("_")]
    with pytest.raises(NotFittedError):
        m.predict(["x"])
    with pytest.raises(NotFittedError):
        m.save("/tmp/never")


def test_fit_returns_self_with_learned_attributes(model: DifficultyModel) -> None:
    assert model.profiles_ == ["direct", "think"]
    assert set(model.boosters_) == {"direct", "think"}
    assert model.n_features_in_ > 384
    assert len(model.training_hash_) == 64


def test_predict_shapes_and_ranges(model: DifficultyModel) -> None:
    preds = model.predict([EASY, HARD])
    assert isinstance(preds, Predictions)
    assert preds.profiles == ("direct", "think")
    assert preds.p_correct.shape == preds.tokens.shape == (2, 2)
    assert np.all((preds.p_correct >= 0) & (preds.p_correct <= 1))


def test_learns_that_more_steps_is_harder(model: DifficultyModel) -> None:
    preds = model.predict([EASY, HARD])
    direct, think = 0, 1
    assert preds.p_correct[0, direct] > preds.p_correct[1, direct] + 0.2
    assert preds.tokens[1, think] > 2 * preds.tokens[0, think]
    assert preds.tokens[0, direct] < preds.tokens[0, think]


def test_predict_one_matches_predict(model: DifficultyModel) -> None:
    one = model.predict_one(HARD)
    assert set(one) == {"direct", "think"}
    assert isinstance(one["direct"], ProfilePrediction)
    batch = model.predict([HARD]).row(0)
    assert one["direct"].p_correct == pytest.approx(batch["direct"].p_correct, abs=1e-4)
    assert model.predict_one(HARD, profiles=["think"]).keys() == {"think"}


def test_bad_prompts_and_profiles(model: DifficultyModel) -> None:
    for bad in ("", "   "):
        with pytest.raises(InvalidInputError):
            model.predict_one(bad)
    with pytest.raises(InvalidInputError):
        model.predict([EASY, 5])  # type: ignore[list-item]
    with pytest.raises(NotFoundError):
        model.predict_one(EASY, profiles=["nope"])
    with pytest.raises(NotFoundError):
        DifficultyModel(profiles=["nope"]).fit(read_outcomes(ARITH))


def test_profile_without_tokens_predicts_nan(outcomes: list[Outcome], encoder: Encoder) -> None:
    rows = [
        Outcome(o.id, o.prompt, o.profile, o.correct, None if o.profile == "direct" else o.tokens)
        for o in outcomes
    ]
    m = DifficultyModel(encoder=encoder, n_estimators=20).fit(rows)
    one = m.predict_one(EASY)
    assert one["direct"].tokens is None
    assert one["think"].tokens is not None


def test_save_load_roundtrip(model: DifficultyModel, saved: Path, encoder: Encoder) -> None:
    meta = json.loads((saved / "metadata.json").read_text())
    assert meta["feature_version"] == FEATURE_VERSION
    assert [p["name"] for p in meta["profiles"]] == ["direct", "think"]
    assert meta["encoder"] == "all-MiniLM-L6-v2"
    assert meta["training_data_hash"] == model.training_hash_
    assert any(p.suffix == ".txt" for p in saved.iterdir())
    loaded = DifficultyModel.load(saved, encoder=encoder)
    a, b = model.predict([EASY, HARD]), loaded.predict([EASY, HARD])
    np.testing.assert_allclose(a.p_correct, b.p_correct, rtol=1e-6)
    np.testing.assert_allclose(a.tokens, b.tokens, rtol=1e-6)


def test_save_removes_tree_files_it_does_not_use(model: DifficultyModel, tmp_path: Path) -> None:
    out = tmp_path / "m"
    out.mkdir()
    (out / "profile7.correct.txt").write_text("left by an older model")
    (out / "notes.txt").write_text("not a tree file")
    model.save(out)
    assert not (out / "profile7.correct.txt").exists()
    assert (out / "notes.txt").exists()
    meta = json.loads((out / "metadata.json").read_text())
    used = {e[k]["trees"] for e in meta["profiles"] for k in ("correct", "tokens") if e[k]}
    assert {p.name for p in out.glob("profile*.txt")} == used - {None}


def test_routing_head_grid_is_a_saved_hyperparameter(
    outcomes: list[Outcome], encoder: Encoder, tmp_path: Path
) -> None:
    routed = DifficultyModel(encoder=encoder, n_estimators=60, correct_linear_grid=(0.001, 0.01))
    routed.fit(outcomes)
    assert routed.boost_settings(384).linear_grid == (0.001, 0.01)
    loaded = DifficultyModel.load(routed.save(tmp_path / "m"), encoder=encoder)
    assert loaded.get_params()["correct_linear_grid"] == [0.001, 0.01]
    a, b = routed.predict([EASY, HARD]), loaded.predict([EASY, HARD])
    np.testing.assert_allclose(a.p_correct, b.p_correct, rtol=1e-6)
    assert DifficultyModel().boost_settings(384).linear_grid == ()


def test_load_refuses_missing_and_corrupt(saved: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError):
        DifficultyModel.load(tmp_path / "absent")
    bad = tmp_path / "bad"
    shutil.copytree(saved, bad)
    (bad / "metadata.json").write_text("{not json")
    with pytest.raises(ModelFormatError):
        DifficultyModel.load(bad)
    trees = tmp_path / "trees"
    shutil.copytree(saved, trees)
    for f in trees.glob("*.txt"):
        f.write_text("garbage")
    with pytest.raises(ModelFormatError):
        DifficultyModel.load(trees)


def test_load_refuses_other_feature_version(saved: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(saved, other)
    meta = json.loads((other / "metadata.json").read_text())
    meta["feature_version"] = FEATURE_VERSION + 1
    (other / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="feature version"):
        DifficultyModel.load(other)
