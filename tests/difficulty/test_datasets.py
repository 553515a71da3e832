"""Tests of the bundled datasets: they load, their sizes, and the joins they were built with."""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path

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


def test_routellm_gsm8k_keeps_labels_responses_and_gold() -> None:
    rows = _rows("routellm-gsm8k")
    assert len(rows) == 2638 and len({r.id for r in rows}) == 1319
    assert {r.profile for r in rows} == {"mixtral", "gpt-4"}
    assert all(r.response and r.tokens and r.gold for r in rows)
    assert sum(bool(r.extra.get("contaminated")) for r in rows) == 24
    agree = sum(r.correct == r.extra["recomputed_correct"] for r in rows) / len(rows)
    assert agree > 0.95
    accuracy = {
        p: sum(bool(r.correct) for r in rows if r.profile == p) / 1319 for p in ("gpt-4", "mixtral")
    }
    assert accuracy["gpt-4"] > accuracy["mixtral"] > 0.5


def test_routellm_mmlu_excludes_contaminated_prompts() -> None:
    info = _info("routellm-mmlu")
    assert info.items == 14042 - 5
    rows = _rows("routellm-mmlu")
    assert len(rows) == info.rows == 2 * info.items
    assert all(r.tokens is None and r.correct is not None for r in rows)


@pytest.mark.parametrize(
    ("name", "items", "profiles"), [("boinf-math500", 500, 7), ("boinf-aime2024", 28, 11)]
)
def test_boinf_rows_carry_samples(name: str, items: int, profiles: int) -> None:
    rows = _rows(name)
    assert len({r.id for r in rows}) == items
    assert len({r.profile for r in rows}) == profiles
    for row in rows:
        assert row.samples is not None and len(row.samples) >= 80
        spent = [s.tokens or 0 for s in row.samples]
        assert row.tokens == round(sum(spent) / len(spent))
        assert row.correct == answers_match(row.samples[0].answer, row.gold)
        assert row.extra["truncated"] == sum(t >= 100000 for t in spent)


def test_boinf_math500_prompts_are_math500_problems() -> None:
    rows = [r for r in _rows("boinf-math500") if r.profile == "Qwen3-14B"]
    by_num = {r.extra["problem_num"]: r for r in rows}
    # MATH-500 problem 0 asks for polar coordinates of (0,3); its gold is (3, pi/2).
    assert "polar coordinates" in by_num[0].prompt
    assert answers_match(by_num[0].gold, "\\left( 3, \\frac{\\pi}{2} \\right)")
    assert all(1 <= r.extra["level"] <= 5 for r in rows)


def test_qwen25_math_eval_rows_carry_eight_scored_samples() -> None:
    rows = _rows("qwen25-math-eval")
    assert len(rows) == 100 and {r.profile for r in rows} == {"math-cot-sampled"}
    for row in rows:
        assert row.samples is not None and len(row.samples) == 8
        assert all(s.score is not None and s.text and (s.tokens or 0) > 0 for s in row.samples)
        assert row.correct == answers_match(row.samples[0].answer, row.gold)
        verdicts = [answers_match(s.answer, row.gold) for s in row.samples]
        if row.id != "math-cot-100-072":  # the harness rejects 10000 for 10{,}000
            assert verdicts == row.extra["source_correct"], row.id
    # rm@8 (the best of 8 by reward score): the harness reports 94; the normaliser adds 072.
    best = [max(r.samples, key=lambda s: s.score or 0.0) for r in rows]
    assert sum(answers_match(s.answer, r.gold) for s, r in zip(best, rows, strict=True)) == 95


def test_faithful_cot_is_a_two_profile_table_per_model() -> None:
    rows = _rows("faithful-cot")
    profiles = {r.profile for r in rows}
    models = {p.split(":")[0] for p in profiles}
    assert len(models) == 6 and profiles == {
        f"{m}:{mode}" for m in models for mode in ("direct", "cot")
    }
    per_item: Counter[str] = Counter(r.id for r in rows)
    assert set(per_item.values()) == {12}
    cot = [r for r in rows if r.profile == "gpt-4:cot"]
    direct = [r for r in rows if r.profile == "gpt-4:direct"]
    assert sum(r.tokens or 0 for r in cot) > 3 * sum(r.tokens or 0 for r in direct)


def test_thought_branches_rows() -> None:
    rows = _rows("thought-branches")
    assert len(rows) == 1010 and {r.profile for r in rows} == {"R1-Distill-Qwen-14B"}
    assert all(r.correct == (r.extra["accuracy"] >= 0.5) for r in rows)
    assert all(r.extra["level"] == 5 and r.tokens and r.tokens > 100 for r in rows)


def test_math_train_levels() -> None:
    rows = _rows("math-train")
    assert len(rows) == 7474 and {r.profile for r in rows} == {"reference"}
    levels = Counter(r.extra["level"] for r in rows)
    assert set(levels) == {1, 2, 3, 4, 5, None} and levels[None] == 2
    assert all(r.correct is None and r.tokens is None and r.gold is not None for r in rows)


def test_load_outcomes_reads_a_file_or_combines_bundled_datasets(tmp_path: Path) -> None:
    from difficulty.datasets import load_dataset, load_outcomes
    from difficulty.outcomes import write_outcomes

    math = load_dataset("mip-math")
    combined = load_outcomes(datasets=["mip-math", "boinf-aime2024"])
    assert combined == math + load_dataset("boinf-aime2024")
    path = tmp_path / "mine.jsonl"
    write_outcomes(math[:3], path)
    assert load_outcomes(path, ["boinf-aime2024"]) == math[:3]


def test_alpacaeval_rows_carry_quality_and_the_reference_is_always_good_enough() -> None:
    rows = _rows("alpacaeval")
    assert len(rows) == 563 * 12 and len({r.profile for r in rows}) == 12
    assert all(r.correct == (r.extra["quality"] >= 0.25) for r in rows)
    reference = [r for r in rows if r.profile == "gpt-4-1106"]
    assert all(r.extra["quality"] == 0.5 and r.correct for r in reference)
    # gpt-3.5-turbo-1106's mean win probability on these 563: 9.29% (leaderboard, 805: 9.18%)
    cheap = [r.extra["quality"] for r in rows if r.profile == "gpt-3.5-turbo-1106"]
    assert abs(sum(cheap) / len(cheap) - 0.0929) < 0.0005
    assert all((r.tokens or 0) > 0 for r in rows if r.profile == "gpt-4-1106")


def test_zeroeval_crux_accuracy_and_modelled_thinking_tokens() -> None:
    rows = _rows("zeroeval-crux")
    assert len(rows) == 560 * 4
    accuracy = {
        p: sum(bool(r.correct) for r in rows if r.profile == p) / 560
        for p in ("gpt-4o-mini", "gpt-4o", "o1-mini", "o1-preview")
    }
    assert (
        accuracy["o1-preview"] > accuracy["o1-mini"] > accuracy["gpt-4o"] > accuracy["gpt-4o-mini"]
    )
    agree = sum(r.correct == r.extra["source_correct"] for r in rows) / len(rows)
    assert agree >= 0.98
    for r in rows:
        assert r.tokens == r.extra["visible_tokens"] + r.extra["hidden_tokens_modelled"]
        ratio = {"o1-mini": 1.26, "o1-preview": 3.17}.get(r.profile, 0.0)
        assert r.extra["hidden_tokens_modelled"] == round(r.extra["visible_tokens"] * ratio)
        assert (ratio > 0) == (r.extra["effort"] == "think")


def test_routellm_mt_bench_turns_and_scores() -> None:
    rows = _rows("routellm-mt-bench")
    assert len({r.id for r in rows}) == 144 and {r.profile for r in rows} == {"gpt-4", "mixtral"}
    assert all(r.correct == (r.extra["score"] >= 8) and r.tokens for r in rows)
    turn2 = [r for r in rows if r.extra["turn"] == 2]
    assert len(turn2) == 144 and all(len(r.extra["history"]) == 1 for r in turn2)
    good = Counter(r.profile for r in rows if r.correct)
    assert good == {"gpt-4": 133, "mixtral": 113}
