"""Profile descriptions: parsing, refusals, and the bundled sources' mapping."""

from __future__ import annotations

import pytest

from difficulty.datasets import load_dataset
from difficulty.descriptions import SOURCE_MODELS, Description, parse_description
from difficulty.errors import InvalidInputError
from difficulty.transfer import SOURCE_PAIRS


def test_parse_description_reads_effort_and_strength() -> None:
    d = parse_description(" think : strong ")
    assert (d.effort, d.strength, d.strength_level, str(d)) == (
        "think",
        "strong",
        2.0,
        "think:strong",
    )
    assert parse_description("direct:weak").strength_level == 0.0


@pytest.mark.parametrize(
    ("text", "param"),
    [("deep:strong", "effort"), ("think:huge", "strength"), ("think", "describe")],
)
def test_bad_descriptions_name_what_is_wrong(text: str, param: str) -> None:
    with pytest.raises(InvalidInputError) as err:
        parse_description(text)
    assert err.value.param == param


def test_every_judged_pair_and_its_table_profiles_are_described() -> None:
    for source, pairs in SOURCE_PAIRS.items():
        present = {o.profile for o in load_dataset(source)}
        for weak, strong in pairs:
            assert {weak, strong} <= present, source
            assert weak in SOURCE_MODELS and strong in SOURCE_MODELS
    # Same model, more effort: faithful-cot's pairs differ in effort only.
    assert SOURCE_MODELS["gpt-4:cot"] == Description("cot", "strong")
    assert SOURCE_MODELS["QwQ-32B"] == Description("think", "strong")
