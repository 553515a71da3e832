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
