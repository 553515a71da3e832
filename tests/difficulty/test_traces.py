"""The trace table: round trips, line-numbered errors, bundled trace datasets."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from difficulty.datasets import load_dataset
from difficulty.errors import NotFoundError, OutcomeFormatError
from difficulty.traces import (
    Chunk,
    Trace,
    load_traces,
    parse_traces,
    read_traces,
    trace_dataset_names,
    traces_from_outcomes,
    write_traces,
)

TRACE = Trace(
    id="t1",
    prompt="What is 2+3?",
    gold="5",
    reasoning="2 plus 3 is 5. So the answer is 5.",
    final="The answer is \\boxed{5}.",
    model="tiny",
    chunks=(Chunk("2 plus 3 is 5. ", 0.95), Chunk("So the answer is 5.", 1.0)),
)


@pytest.mark.parametrize("name", ["t.jsonl", "t.jsonl.gz"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    assert write_traces([TRACE, Trace(id="t2", prompt="", gold=None, reasoning="r")], path) == 2
    back = read_traces(path)
    assert back[0] == TRACE
    assert back[1].gold is None and back[1].chunks is None
    if name.endswith(".gz"):
        with gzip.open(path, "rt") as fh:
            assert json.loads(fh.readline())["chunks"][1] == {
                "text": "So the answer is 5.",
                "accuracy": 1.0,
            }


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not valid JSON"),
        ('["a"]', "expected a JSON object"),
        ('{"id": "a"}', "missing field(s): reasoning"),
        ('{"id": "", "reasoning": "r"}', "'id' must be a non-empty string"),
        ('{"id": "a", "reasoning": "  "}', "'reasoning' must be a non-empty string"),
        ('{"id": "a", "reasoning": "r", "chunks": {}}', "'chunks' must be a list"),
        ('{"id": "a", "reasoning": "r", "chunks": [{"accuracy": 1}]}', "needs a 'text'"),
        ('{"id": "a", "reasoning": "r", "chunks": [{"text": "x", "accuracy": 2}]}', "in [0, 1]"),
        ('{"id": "a", "reasoning": "r", "gold": [1]}', "'gold' must be"),
    ],
)
def test_malformed_rows_name_their_line(line: str, reason: str) -> None:
    good = json.dumps(TRACE.to_json())
    with pytest.raises(OutcomeFormatError) as info:
        list(parse_traces([good, "", line], source="f.jsonl"))
    assert info.value.line == 3
    assert reason in info.value.message
    assert info.value.message.startswith("f.jsonl:3:")


def test_numeric_ids_and_golds_become_strings() -> None:
    (trace,) = parse_traces(['{"id": 7, "reasoning": "r", "gold": 540}'])
    assert (trace.id, trace.gold) == ("7", "540")


def test_unknown_bundled_name_lists_the_valid_ones() -> None:
    with pytest.raises(NotFoundError, match="mip-gsm8k-QwQ-32B"):
        load_traces("mip-gsm8k-gpt-5")
    assert "thought-anchors" in trace_dataset_names()


def test_thought_anchors_bundle_has_the_oracle_chunks() -> None:
    traces = load_traces("thought-anchors")
    assert len(traces) == 20
    for trace in traces:
        assert trace.chunks and trace.gold
        # Chunks are exact spans of the reasoning, so exit offsets map onto them.
        assert "".join(c.text for c in trace.chunks) == trace.reasoning
        assert all(c.accuracy is not None and 0 <= c.accuracy <= 1 for c in trace.chunks)
    # The same file reads as an outcome table (one profile), so `datasets list` shows it.
    rows = load_dataset("thought-anchors-traces")
    assert {r.profile for r in rows} == {"R1-Distill-Llama-8B"}
    assert sum(bool(r.correct) for r in rows) == 10


def test_mip_traces_are_derived_from_the_outcome_tables() -> None:
    traces = load_traces("mip-math-QwQ-32B")
    assert len(traces) == 52
    assert all(t.model == "QwQ-32B" and t.reasoning and t.gold for t in traces)
    assert "</think>" not in traces[0].reasoning
    assert load_traces("MIP-MATH-qwq-32b") == traces  # names are case-insensitive
    premise = load_traces("mip-missing-premise-R1-Distill-Qwen-32B")
    # Streams that never closed their thinking are kept, their whole text as reasoning.
    assert len(premise) == 52
    assert all(t.gold is None for t in premise)


def test_traces_from_outcomes_skips_models_without_thinking() -> None:
    rows = load_dataset("mip-math")
    assert traces_from_outcomes(rows, "gpt-4o") == []
