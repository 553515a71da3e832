"""Tests of the bundled datasets: they load, their sizes, and the joins they were built with."""

from __future__ import annotations

from collections import Counter
from functools import cache

import pytest

from difficulty.answers import answers_match, extract_answer
from difficulty.datasets import DatasetInfo, dataset_path, list_datasets, load_dataset
from difficulty.errors import NotFoundError
from difficulty.outcomes import Outcome


@cache
def _rows(name: str) -> tuple[Outcome, ...]:
    return tuple(load_dataset(name))


def _info(name: str) -> DatasetInfo:
    return next(i for i in list_datasets() if i.name == name)


def test_unknown_dataset_names_the_valid_ones() -> None:
    with pytest.raises(NotFoundError, match="mip-gsm8k"):
        dataset_path("no-such-dataset")


def test_index_agrees_with_the_files() -> None:
    for info in list_datasets():
        if info.rows > 20000:
            continue  # the big ones are checked by their own tests
        rows = _rows(info.name)
        assert len(rows) == info.rows, info.name
        assert len({r.id for r in rows}) == info.items, info.name
        assert tuple(sorted({r.profile for r in rows})) == info.profiles, info.name
        assert len({(r.id, r.profile) for r in rows}) == len(rows), info.name


@pytest.mark.parametrize(
    ("name", "items", "profiles"),
    [("mip-gsm8k", 582, 11), ("mip-math", 52, 14), ("mip-missing-premise", 52, 12)],
)
def test_mip_sizes(name: str, items: int, profiles: int) -> None:
    info = _info(name)
    assert info.items == items
    assert len(info.profiles) == profiles
    assert info.rows == items * profiles


def test_mip_profiles_are_real_model_names() -> None:
    profiles = set(_info("mip-gsm8k").profiles)
    assert {"QwQ-32B", "R1-Distill-Qwen-32B", "s1.1", "Qwen2.5-32B", "o1", "gpt-4o"} <= profiles
    assert "LIMO" in _info("mip-math").profiles


def test_mip_thinking_is_split_from_the_answer() -> None:
    for row in _rows("mip-math"):
        if row.profile in {"QwQ-32B", "R1-Distill-Qwen-32B", "s1.1"}:
            assert row.reasoning and len(row.reasoning) > len(row.response or "") / 4
            assert "</think>" not in (row.response or "")
        if row.profile in {"gpt-4o", "Qwen2.5-32B"}:
            assert row.reasoning is None and row.response


def test_mip_correctness_is_the_normalisers_verdict() -> None:
    for row in _rows("mip-gsm8k")[:800] + _rows("mip-math"):
        answer = extract_answer(row.response or "")
        if answer is None and row.reasoning:
            answer = extract_answer(row.reasoning)
        assert row.correct == answers_match(answer, row.gold), (row.id, row.profile)


def test_mip_thinking_models_spend_more_tokens() -> None:
    tokens: Counter[str] = Counter()
    for row in _rows("mip-gsm8k"):
        tokens[row.profile] += row.tokens or 0
    assert tokens["QwQ-32B"] > 3 * tokens["Qwen2.5-32B"]


def test_missing_premise_rows_have_no_verdict() -> None:
    rows = _rows("mip-missing-premise")
    assert all(r.correct is None and r.gold is None for r in rows)
    assert all(r.prompt != r.extra.get("original_gold") for r in rows)
