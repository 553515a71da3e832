"""The reasoning benefit: targets from items answered both ways, and the gains that read it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from difficulty.descriptions import Description
from difficulty.general import GeneralModel, _paired
from difficulty.general_benefit import benefit_targets
from difficulty.general_data import DescribedRows
from difficulty.general_gain import LinearGain, gain_inputs
from difficulty.train_general import training_rows


def _rows(table: list[tuple[int, float, str, float, str]]) -> DescribedRows:
    """Rows of (prompt, strength, effort, correct, source)."""
    return DescribedRows(
        prompts=[f"p{i}" for i in range(1 + max(r[0] for r in table))],
        prompt_index=np.asarray([r[0] for r in table]),
        strength=np.asarray([r[1] for r in table]),
        effort=[r[2] for r in table],
        correct=np.asarray([r[3] for r in table]),
        tokens=np.full(len(table), np.nan),
        source=[r[4] for r in table],
    )


ROWS = _rows(
    [
        (0, 1.0, "direct", 0.0, "faithful-cot"),  # CoT fixes it
        (0, 1.0, "cot", 1.0, "faithful-cot"),
        (1, 2.0, "direct", 1.0, "faithful-cot"),  # CoT breaks it
        (1, 2.0, "cot", 0.0, "faithful-cot"),
        (2, 2.0, "direct", 0.5, "mip-gsm8k"),  # half the direct answers wrong, thinking none
        (2, 2.0, "direct", 0.0, "mip-gsm8k"),
        (2, 2.0, "think", 1.0, "mip-gsm8k"),
        (2, 1.0, "think", 1.0, "mip-gsm8k"),  # no direct answer at this strength: no evidence
        (3, 2.0, "direct", 1.0, "alpacaeval"),  # every strong answer good enough
        (4, 1.0, "direct", 1.0, "alpacaeval"),  # good, but not at the strong tier
    ]
)


def test_targets_are_effort_minus_direct_at_the_same_strength() -> None:
    index, strength, target, source = benefit_targets(ROWS, rule="pairs")
    got = {(int(i), float(s)): float(t) for i, s, t in zip(index, strength, target, strict=True)}
    assert got == {(0, 1.0): 1.0, (1, 2.0): -1.0, (2, 2.0): 0.75}
    assert sorted(set(source)) == ["faithful-cot", "mip-gsm8k"]


def test_answers_pair_only_within_their_own_source() -> None:
    rows = _rows(
        [
            (0, 2.0, "direct", 0.0, "faithful-cot"),  # answer-only prompting, wrong
            (0, 2.0, "direct", 1.0, "routellm-gsm8k"),  # a chat answer to the same prompt, right
            (0, 2.0, "cot", 1.0, "faithful-cot"),
            (1, 2.0, "direct", 1.0, "routellm-gsm8k"),  # no effortful answer in this source
            (1, 2.0, "think", 1.0, "mip-gsm8k"),  # no direct answer in this source
        ]
    )
    index, strength, target, source = benefit_targets(rows, rule="pairs")
    assert list(zip(index.tolist(), strength.tolist(), target.tolist(), source, strict=True)) == [
        (0, 2.0, 1.0, "faithful-cot")
    ]
    assert _paired(rows).tolist() == [False, False, True, False, False]


def test_relative_targets_and_alpacaeval_nothing_to_gain() -> None:
    index, strength, target, _ = benefit_targets(ROWS, rule="alpaca-rel")
    got = {(int(i), float(s)): float(t) for i, s, t in zip(index, strength, target, strict=True)}
    assert got == {(0, 1.0): 1.0, (1, 2.0): -1.0, (2, 2.0): 1.0, (3, 2.0): 0.0}
    with pytest.raises(ValueError, match="benefit rule"):
        benefit_targets(ROWS, rule="keywords")


def test_a_gain_with_a_fixed_input_adds_its_weight_times_that_input() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(50, 2))
    gain = LinearGain(np.array([0.3, -0.2]), 0.1, z.mean(axis=0), z.std(axis=0))
    b = rng.uniform(-1, 1, size=50)
    wider = gain.with_input(2, 2.5)
    assert np.allclose(wider.predict(np.column_stack([z, b])), gain.predict(z) + 2.5 * b)
    assert LinearGain.from_json(wider.to_json()).to_json()["inputs"][2] == "benefit"


def test_fit_with_benefit_round_trips_and_thinking_reuses_the_cot_weight(tmp_path: Path) -> None:
    from difficulty.encoder import STATIC_ENCODER, Encoder

    rows = training_rows(("faithful-cot", "mip-gsm8k"), cap=200)
    model = GeneralModel(
        n_estimators=30, index_size=100, benefit="pairs", encoder=Encoder(STATIC_ENCODER)
    ).fit(rows)
    cot, think = model.gains_["cot"], model.gains_["think"]
    assert len(cot.weights) == len(think.weights) == 3 and "benefit" in model.boosters_
    assert think.weights[2] / think.scale[2] == pytest.approx(cot.weights[2] / cot.scale[2])
    model.save(tmp_path / "m")
    again = GeneralModel.load(tmp_path / "m")
    ds = [Description("direct", "strong"), Description("think", "strong")]
    a, _ = model.predict(["What is 2 + 3?", "hello"], ds)
    b, _ = again.predict(["What is 2 + 3?", "hello"], ds)
    assert np.allclose(a, b) and again.benefit == "pairs"
    z = gain_inputs(np.zeros((1, 18)), np.array([2.0]), np.array([1.0]), np.array([0.5]))
    assert z.shape == (1, 3)
