"""Reasoning dialects: every recorded dialect reads back to the same thinking and answer."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from typing import Any

import pytest

from difficulty.datasets import load_dataset
from policies.convergence import ConvergenceWatcher
from router.dialects import DialectReader, DialectWriter, reasoning_tokens
from tests.data.dialects.build import FIXTURE_DIR, ITEMS

WATCHED = ("reasoning_content", "reasoning", "think_tags", "think_close", "anthropic")


def fixture(dialect: str) -> dict[str, list[dict[str, Any]]]:
    """The recorded chunks of one dialect, by item."""
    streams: dict[str, list[dict[str, Any]]] = defaultdict(list)
    with gzip.open(FIXTURE_DIR / f"{dialect}.jsonl.gz", "rt") as fh:
        for line in fh:
            row = json.loads(line)
            streams[row["item"]].append(row["chunk"])
    return streams


def read(chunks: list[dict[str, Any]], reader: DialectReader) -> tuple[str, str, Any]:
    thought, said, usage = [], [], None
    for chunk in chunks:
        usage = chunk.get("usage") or usage
        for choice in chunk["choices"]:
            r, a = reader.read(choice["delta"])
            thought.append(r)
            said.append(a)
    r, a = reader.flush()
    reader.finish(usage, saw_reasoning=bool("".join(thought)))
    return "".join(thought + [r]), "".join(said + [a]), usage


TRACES = {r.id: r for r in load_dataset("mip-gsm8k") if r.profile == "QwQ-32B" and r.id in ITEMS}


@pytest.mark.parametrize("dialect", WATCHED)
def test_each_dialect_reads_back_the_recorded_thinking_and_answer(dialect: str) -> None:
    for item, chunks in fixture(dialect).items():
        reader = DialectReader(thinking=True)
        reasoning, answer, _ = read(chunks, reader)
        assert reader.dialect == dialect
        assert reasoning.strip() == (TRACES[item].reasoning or "").strip()
        assert answer.strip() == (TRACES[item].response or "").strip()


def test_template_opened_thinking_is_answer_text_on_a_profile_that_does_not_think() -> None:
    chunks = fixture("think_close")[ITEMS[0]]
    reader = DialectReader(thinking=False)
    reasoning, answer, _ = read(chunks, reader)
    assert reasoning == ""
    assert "</think>" in answer  # relayed as the upstream wrote it


def test_declared_think_close_reads_thinking_without_detection() -> None:
    chunks = fixture("think_close")[ITEMS[0]]
    reasoning, _, _ = read(chunks, DialectReader("think_close", thinking=False))
    assert reasoning.strip() == (TRACES[ITEMS[0]].reasoning or "").strip()


def test_hidden_reasoning_is_counted_from_the_usage() -> None:
    for chunks in fixture("hidden").values():
        reader = DialectReader(thinking=False)
        reasoning, answer, usage = read(chunks, reader)
        assert reasoning == "" and answer
        assert reader.dialect == "hidden"
        assert reasoning_tokens(usage) in (64, 192)


def test_the_watcher_exits_at_the_same_point_in_every_dialect() -> None:
    exits: dict[str, list[int]] = {}
    for dialect in WATCHED:
        points = []
        for item in ITEMS:
            reader, watcher = DialectReader(thinking=True), ConvergenceWatcher()
            decision = None
            for chunk in fixture(dialect)[item]:
                for choice in chunk["choices"]:
                    thought, _ = reader.read(choice["delta"])
                    if thought and not reader.answering:
                        decision = watcher.feed(thought) or decision
            assert decision is not None, (dialect, item)
            points.append(decision.tokens_at_exit)
        exits[dialect] = points
    assert len({tuple(p) for p in exits.values()}) == 1, exits


@pytest.mark.parametrize("output", ["reasoning_content", "reasoning", "think_tags", "none"])
def test_the_writer_puts_thinking_where_the_client_wants_it(output: str) -> None:
    chunks = fixture("think_close")[ITEMS[0]]
    reader, writer = DialectReader(thinking=True), DialectWriter(output)
    client = DialectReader(thinking=False)
    thought, said = [], []
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = writer.write(choice["delta"], *reader.read(choice["delta"]))
            r, a = client.read(delta)
            thought.append(r)
            said.append(a)
    expected = "" if output == "none" else (TRACES[ITEMS[0]].reasoning or "").strip()
    assert "".join(thought).strip() == expected
    assert "".join(said).strip() == (TRACES[ITEMS[0]].response or "").strip()
