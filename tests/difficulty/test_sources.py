"""Tests of the source readers' pure parts (the raw files themselves are not needed)."""

from __future__ import annotations

import gzip
from pathlib import Path

from difficulty.outcomes import Outcome, Sample, read_outcomes
from difficulty.sources.boinf import JoinReport
from difficulty.sources.build import write_bundle
from difficulty.sources.faithful_cot import task_answer
from difficulty.sources.mip import split_thinking


def test_split_thinking_on_think_tags() -> None:
    reasoning, response = split_thinking(
        "Let me see... 2+2=4.\n</think>\n\nThe answer is \\boxed{4}."
    )
    assert reasoning == "Let me see... 2+2=4."
    assert response == "The answer is \\boxed{4}."


def test_split_thinking_on_s1_markers() -> None:
    text = "think\nFirst, 3*3=9.\n**Final Answer**\n\\boxed{9}\nanswer\nAnswer: 9 sprints."
    reasoning, response = split_thinking(text)
    assert reasoning == "First, 3*3=9.\n**Final Answer**\n\\boxed{9}"
    assert response == "Answer: 9 sprints."


def test_split_thinking_without_markers_keeps_everything_visible() -> None:
    assert split_thinking("Just the answer: 5") == (None, "Just the answer: 5")


def test_clutrr_answers_are_the_relation_word() -> None:
    assert task_answer("CLUTRR", "A is B's son.\nFinal Answer: [Jo] is [Al]'s son-in-law.") == (
        "son-in-law"
    )
    assert task_answer("GSM8K", "So she makes $18. The answer is 18.") == "18"


def test_join_report_rate() -> None:
    assert JoinReport("math500", "index", 200, 190).rate == 0.95
    assert JoinReport("aime2024", "unique answer", 0, 0).rate == 0.0


def test_bundles_are_reproducible_gzip_jsonl(tmp_path: Path) -> None:
    rows = [
        Outcome("a", "What is 1+1?", "think", True, 12, "toy", gold="2"),
        Outcome(
            "a",
            "What is 1+1?",
            "sample",
            False,
            30,
            "toy",
            gold="2",
            samples=(Sample("2", 10), Sample("3", 20)),
        ),
    ]
    first, second = tmp_path / "one.jsonl.gz", tmp_path / "two.jsonl.gz"
    stats = write_bundle(rows, first)
    write_bundle(rows, second)
    assert first.read_bytes() == second.read_bytes()  # no timestamp in the gzip header
    assert stats == {"rows": 2, "items": 1, "profiles": ["sample", "think"]}
    assert read_outcomes(first) == rows
    with gzip.open(first, "rt", encoding="utf-8") as fh:
        assert len(fh.read().splitlines()) == 2


def test_crux_answer_reads_the_first_json_answer() -> None:
    from difficulty.sources.zeroeval_crux import crux_answer

    out = '```json\n{\n "reasoning": "f returns it",\n "answer": "\'UppEr\'"\n}\n```'
    assert crux_answer(out) == "'UppEr'"
    assert crux_answer('{"reasoning": "unclosed "quote", "answer": "[1, 2]"') == "[1, 2]"
    assert crux_answer("no json here") is None


def test_crux_correct_compares_python_literals() -> None:
    from difficulty.sources.zeroeval_crux import crux_correct

    assert crux_correct("[ (2, 10), (3, 1) ]", "[(2, 10), (3, 1)]")
    assert crux_correct("8.50", "8.5")
    assert crux_correct('"abc"', "'abc'")
    assert crux_correct("POO", "'POO'")  # a string value without its quotes
    assert not crux_correct("'xxx ar mmarxx'", "'xxxarmm ar xx'")  # spaces count
    assert not crux_correct("'1'", "1")  # a string is not the number
    assert not crux_correct(None, "1")


def test_crux_hidden_tokens_are_modelled_for_thinking_models_only() -> None:
    from difficulty.sources.zeroeval_crux import modelled_tokens

    assert modelled_tokens("gpt-4o-mini", 100) == (100, 0)
    assert modelled_tokens("o1-mini", 100) == (226, 126)
    assert modelled_tokens("o1-preview", 100) == (417, 317)


def test_alpacaeval_quality_and_good_enough() -> None:
    from difficulty.sources.alpacaeval import good_enough, quality

    assert quality("1.0000164425") == 1.0000164425 - 1.0
    assert quality("2.0") == 1.0 and quality(None) is None
    assert good_enough(0.25) and good_enough(0.5) and not good_enough(0.2499)
    assert good_enough(None) is None


def test_mt_bench_answer_is_cut_out_of_the_judge_prompt() -> None:
    from difficulty.sources.routellm import mt_bench_answer

    one = "[Question]\nQ?\n\n[The Start of Assistant's Answer]\nA one.\n"
    one += "[The End of Assistant's Answer]"
    assert mt_bench_answer(one, 1) == "A one."
    two = (
        "<|The Start of Assistant A's Conversation with User|>\n\n### User:\nQ1\n\n"
        "### Assistant A:\nA1\n\n### User:\nQ2\n\n### Assistant A:\nA2 final\n\n"
        "<|The End of Assistant A's Conversation with User|>"
    )
    assert mt_bench_answer(two, 2) == "A2 final"
    assert mt_bench_answer("nothing", 2) is None
