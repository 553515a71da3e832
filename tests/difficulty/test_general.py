"""The general model: shipped forecasts by description, the headroom gain, save and load."""

from __future__ import annotations

import json
from pathlib import Path

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
    gain = shipped.gains_["think"]
    from difficulty.general_gain import gain_inputs

    benefit = np.zeros(5) if "benefit" in shipped.boosters_ else None  # held fixed
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
