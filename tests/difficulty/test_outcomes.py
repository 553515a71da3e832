"""The outcome table: round trips, and malformed rows named by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from difficulty.errors import OutcomeFormatError
from difficulty.outcomes import Outcome, Sample, parse_outcomes, read_outcomes, write_outcomes


def _rows() -> list[Outcome]:
    return [
        Outcome("q1", "What is 2+3?", "direct", True, 12, dataset="toy", gold="5"),
        Outcome(
            "q1",
            "What is 2+3?",
            "search",
            False,
            40,
            dataset="toy",
            samples=(Sample("5", 20, score=0.75, text="so \\boxed{5}"), Sample("6", 20)),
            reasoning="2+3 is 5",
            response="5",
            extra={"note": 1},
        ),
        Outcome("q2", "Name a prime.", "direct", None, None),
    ]


@pytest.mark.parametrize("name", ["table.jsonl", "table.jsonl.gz"])
def test_write_then_read_round_trips(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    assert write_outcomes(_rows(), path) == 3
    assert read_outcomes(path) == _rows()


def test_optional_fields_are_left_out_when_empty() -> None:
    row = _rows()[2].to_json()
    assert set(row) == {"id", "prompt", "profile", "correct", "tokens", "dataset"}


def test_a_sample_keeps_its_score_and_text_only_when_recorded() -> None:
    scored, plain = _rows()[1].to_json()["samples"]
    assert scored == {"answer": "5", "tokens": 20, "score": 0.75, "text": "so \\boxed{5}"}
    assert plain == {"answer": "6", "tokens": 20}


def test_integer_ids_and_zero_one_labels_are_accepted() -> None:
    line = json.dumps({"id": 7, "prompt": "p", "profile": "a", "correct": 1, "tokens": 3.0})
    (outcome,) = parse_outcomes([line])
    assert outcome.id == "7" and outcome.correct is True and outcome.tokens == 3


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"id": "a", "prompt": "p", "profile": "x", "correct": true}', "missing field(s): tokens"),
        ('{"id": "a", "prompt": " ", "profile": "x", "correct": true, "tokens": 1}', "'prompt'"),
        ('{"id": "a", "prompt": "p", "profile": "x", "correct": "yes", "tokens": 1}', "'correct'"),
        ('{"id": "a", "prompt": "p", "profile": "x", "correct": true, "tokens": -1}', "'tokens'"),
        (
            '{"id": "a", "prompt": "p", "profile": "x", "correct": true, "tokens": 1, '
            '"samples": {"a": 1}}',
            "'samples'",
        ),
        (
            '{"id": "a", "prompt": "p", "profile": "x", "correct": true, "tokens": 1, '
            '"samples": [{"answer": "1", "score": "high"}]}',
            "'score'",
        ),
    ],
)
def test_a_malformed_row_names_its_line(tmp_path: Path, row: str, reason: str) -> None:
    good = json.dumps(_rows()[0].to_json())
    path = tmp_path / "bad.jsonl"
    path.write_text(f"{good}\n\n{row}\n", encoding="utf-8")
    with pytest.raises(OutcomeFormatError) as info:
        read_outcomes(path)
    assert info.value.line == 3
    assert info.value.message.startswith(f"{path}:3: ")
    assert reason in info.value.message


def test_a_binary_file_is_a_format_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "table.jsonl.gz"
    path.write_bytes(b"\x00\xff not gzip at all")
    with pytest.raises(OutcomeFormatError, match="not a readable JSONL file"):
        read_outcomes(path)
