"""The general model: shipped forecasts by description, the headroom gain, save and load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from difficulty.descriptions import Description
from difficulty.errors import ModelFormatError
from difficulty.general import GENERAL_MODEL_DIR, GeneralModel
from difficulty.train_general import training_rows

DIRECT, THINK = Description("direct", "strong"), Description("think", "strong")
AIME = json.loads(
    (Path(__file__).parents[2] / "bench" / "data" / "competition_math.jsonl")
    .read_text()
    .split("\n")[0]
)["prompt"]


@pytest.fixture(scope="module")
def shipped() -> GeneralModel:
    return GeneralModel.load(GENERAL_MODEL_DIR)


def test_shipped_model_thinks_on_competition_math_not_on_a_greeting(shipped: GeneralModel) -> None:
    p, tokens = shipped.predict(["hello", AIME], [DIRECT, THINK])
    hello, aime = p
    assert hello[0] > 0.9 and hello[1] - hello[0] < 0.03  # a direct answer is good enough
    assert aime[1] - aime[0] > 0.2  # thinking pays on an AIME problem
    assert tokens[1, 1] > 3 * tokens[1, 0] and tokens[1, 1] > tokens[0, 1]


def test_gain_of_thinking_shrinks_with_headroom(shipped: GeneralModel) -> None:
    # From an even chance of a good direct answer upwards, the less headroom is left, the
    # less thinking adds. (Below that the gain in probability also falls towards 0, by the
    # logistic form, whatever the logit gain: it peaks somewhere under P(direct) = 0.5.)
    base = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    from difficulty.general_gain import gain_inputs

    for member in shipped.members_:
        _assert_gain_shrinks(member, base, gain_inputs)


def _assert_gain_shrinks(member: GeneralModel, base: np.ndarray, gain_inputs: Any) -> None:
    gain = member.gains_["think"]
    benefit = np.zeros(5) if "benefit" in member.boosters_ else None  # held fixed
    z = gain_inputs(np.zeros((5, 18)), np.full(5, 2.0), base, benefit)
    g = gain.predict(z)
    p_direct, p_think = 1 / (1 + np.exp(-base)), 1 / (1 + np.exp(-(base + g)))
    assert np.all(np.diff(p_think - p_direct) < 0)
    assert p_think[-1] - p_direct[-1] < 0.01  # a near-certain direct answer: nothing to add


def test_stronger_profiles_are_never_forecast_worse(shipped: GeneralModel) -> None:
    tiers = [Description("direct", s) for s in ("weak", "mid", "strong")]
    p, _ = shipped.predict(["hi", "What is the capital of Australia?", AIME], tiers)
    assert np.all(np.diff(p, axis=1) >= -1e-9)


def test_predict_one_reports_novelty(shipped: GeneralModel) -> None:
    found, novelty = shipped.predict_one(AIME, {"direct": DIRECT, "think": THINK})
    assert set(found) == {"direct", "think"} and found["think"].tokens > found["direct"].tokens
    _, strange = shipped.predict_one("東京の天気はどうですか", {"d": DIRECT})
    assert novelty < shipped.novelty_.threshold < strange


def test_profiles_sharing_a_description_get_the_same_forecast(shipped: GeneralModel) -> None:
    three, _ = shipped.predict_one(AIME, {"direct": DIRECT, "search": DIRECT, "think": THINK})
    two, _ = shipped.predict_one(AIME, {"direct": DIRECT, "think": THINK})
    assert three["search"] == three["direct"] == two["direct"] and three["think"] == two["think"]
    p, t = shipped.predict([AIME], [DIRECT, THINK])
    assert three["think"].p_correct == pytest.approx(p[0, 1]) and three["think"].tokens == (
        pytest.approx(t[0, 1])
    )


def test_fit_save_load_round_trip(tmp_path: Path) -> None:
    from difficulty.encoder import STATIC_ENCODER, Encoder

    rows = training_rows(("routellm-gsm8k", "mip-gsm8k", "mip-math"), cap=150)
    model = GeneralModel(n_estimators=30, index_size=100, encoder=Encoder(STATIC_ENCODER))
    with pytest.raises(NotFittedError):
        model.predict(["x"], [DIRECT])
    model.fit(rows)
    assert set(model.gains_) == {"cot", "think"}
    model.save(tmp_path / "m")
    again = GeneralModel.load(tmp_path / "m")
    a, _ = model.predict(["What is 2 + 3?"], [DIRECT, THINK])
    b, _ = again.predict(["What is 2 + 3?"], [DIRECT, THINK])
    assert np.allclose(a, b)
    with pytest.raises(ModelFormatError):
        GeneralModel.load(tmp_path)


@pytest.fixture(scope="module")
def small_rows() -> Any:
    return training_rows(("routellm-gsm8k", "mip-gsm8k", "mip-math"), cap=150)


def _small(n_bags: int, random_state: int = 0) -> GeneralModel:
    from difficulty.encoder import STATIC_ENCODER, Encoder

    return GeneralModel(
        n_estimators=30,
        index_size=100,
        benefit="pairs",
        encoder=Encoder(STATIC_ENCODER),
        n_bags=n_bags,
        random_state=random_state,
    )


PROMPTS = ["What is 2 + 3?", "hello", AIME]


def test_a_bag_forecasts_the_mean_logit_and_log_tokens_of_its_members(small_rows: Any) -> None:
    from difficulty.features import feature_matrix

    bag = _small(3, random_state=1).fit(small_rows)
    assert [m.random_state for m in bag.members_] == [3, 4, 5]  # disjoint from seed 0's bag
    assert set(bag.stacked_) == {"base", "benefit", "tokens"}  # the bag answers stacked...
    x = feature_matrix(PROMPTS, bag.encoder_.encode(PROMPTS))
    p, t = bag.predict_matrix(x, [DIRECT, THINK])
    each = [m.predict_matrix(x, [DIRECT, THINK]) for m in bag.members_]
    logits = np.log([q / (1 - q) for q, _ in each])
    assert np.ptp(logits, axis=0).max() > 1e-3  # the members differ, so the mean is a test
    assert np.allclose(np.log(p / (1 - p)), logits.mean(axis=0))  # ...as its members alone
    assert np.allclose(np.log1p(t), np.mean([np.log1p(u) for _, u in each], axis=0))


def test_a_bag_round_trips_and_a_missing_member_is_a_format_error(
    small_rows: Any, tmp_path: Path
) -> None:
    bag = _small(2).fit(small_rows)
    bag.save(tmp_path / "bag")
    again = GeneralModel.load(tmp_path / "bag")
    assert (
        again.n_bags == 2 and len(again.members_) == 2 and set(again.stacked_) == set(bag.stacked_)
    )
    assert np.allclose(
        bag.predict(PROMPTS, [DIRECT, THINK])[0], again.predict(PROMPTS, [DIRECT, THINK])[0]
    )
    found, novelty = again.predict_one(AIME, {"think": THINK})
    assert found["think"].p_correct == pytest.approx(bag.predict([AIME], [THINK])[0][0, 0])
    assert novelty == pytest.approx(bag.predict_one(AIME, {"think": THINK})[1])
    (tmp_path / "bag" / "general.tokens.1.txt").unlink()
    with pytest.raises(ModelFormatError, match="cannot read"):
        GeneralModel.load(tmp_path / "bag")


def test_a_single_model_directory_of_the_format_before_bags_still_loads(
    small_rows: Any, tmp_path: Path
) -> None:
    single = _small(1).fit(small_rows)
    single.save(tmp_path / "m")
    meta_path = tmp_path / "m" / "metadata.json"
    meta = json.loads(meta_path.read_text())
    assert meta["format_version"] == 1 and (tmp_path / "m" / "general.base.txt").is_file()
    del meta["params"]["n_bags"]  # as written before bags existed
    meta_path.write_text(json.dumps(meta))
    old = GeneralModel.load(tmp_path / "m")
    assert old.n_bags == 1 and old.members_ == [old]
    assert np.allclose(
        old.predict(PROMPTS, [DIRECT, THINK])[0], single.predict(PROMPTS, [DIRECT, THINK])[0]
    )


def test_saving_over_a_larger_bag_leaves_only_the_new_model_s_boosters(
    small_rows: Any, tmp_path: Path
) -> None:
    folder = tmp_path / "m"
    _small(3).fit(small_rows).save(folder)
    assert len(list(folder.glob("general.*.txt"))) == 9
    (folder / "general.notes.txt").write_text("an operator's file, not a booster")
    _small(2).fit(small_rows).save(folder)
    expected = {f"general.{t}.{k}.txt" for t in ("base", "benefit", "tokens") for k in (0, 1)}
    assert {f.name for f in folder.glob("general.*.txt")} == expected | {"general.notes.txt"}
    _small(1).fit(small_rows).save(folder)
    expected = {f"general.{t}.txt" for t in ("base", "benefit", "tokens")}
    assert {f.name for f in folder.glob("general.*.txt")} == expected | {"general.notes.txt"}
    assert GeneralModel.load(folder).n_bags == 1
