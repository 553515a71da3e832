"""The trace table: recorded reasoning streams, for replaying early exit offline.

One JSONL row per stream: id, prompt, gold, reasoning (the full thinking text), final (the
text after thinking), model, and optionally chunks with the oracle accuracy of each.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from difficulty.datasets import DATA_DIR, load_dataset
from difficulty.errors import NotFoundError, OutcomeFormatError
from difficulty.outcomes import json_rows, read_jsonl, write_jsonl

__all__ = [
    "Chunk",
    "Trace",
    "TRACE_MODELS",
    "parse_traces",
    "read_traces",
    "write_traces",
    "trace_dataset_names",
    "load_traces",
    "traces_from_outcomes",
]

# The MiP models that record their full thinking text.
TRACE_MODELS: tuple[str, ...] = ("QwQ-32B", "R1-Distill-Qwen-32B", "s1.1")
_MIP_SOURCES = ("mip-gsm8k", "mip-math", "mip-missing-premise")
THOUGHT_ANCHORS = "thought-anchors"
_THOUGHT_ANCHORS_FILE = "thought-anchors-traces.jsonl.gz"


@dataclass(frozen=True)
class Chunk:
    """A sentence-sized piece of a trace and the share of continuations from it that end right."""

    text: str
    accuracy: float | None = None


@dataclass(frozen=True)
class Trace:
    """One recorded reasoning stream with its question, gold answer and final text."""

    id: str
    prompt: str
    gold: str | None
    reasoning: str
    final: str = ""
    model: str = ""
    dataset: str = ""
    chunks: tuple[Chunk, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON-ready dict; empty optional fields left out."""
        row: dict[str, Any] = {
            "id": self.id,
            "prompt": self.prompt,
            "gold": self.gold,
            "reasoning": self.reasoning,
            "final": self.final,
            "model": self.model,
        }
        if self.dataset:
            row["dataset"] = self.dataset
        if self.chunks is not None:
            row["chunks"] = [{"text": c.text, "accuracy": c.accuracy} for c in self.chunks]
        return row


def _chunks(value: Any, source: str, line: int) -> tuple[Chunk, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise OutcomeFormatError(source, line, "field 'chunks' must be a list")
    chunks = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise OutcomeFormatError(source, line, "each chunk needs a 'text' string")
        accuracy = item.get("accuracy")
        if accuracy is not None and (
            isinstance(accuracy, bool)
            or not isinstance(accuracy, int | float)
            or not 0 <= accuracy <= 1
            or math.isnan(accuracy)
        ):
            raise OutcomeFormatError(source, line, "chunk 'accuracy' must be a number in [0, 1]")
        chunks.append(Chunk(item["text"], None if accuracy is None else float(accuracy)))
    return tuple(chunks)


def _row_to_trace(row: Any, source: str, line: int) -> Trace:
    if not isinstance(row, dict):
        raise OutcomeFormatError(source, line, "expected a JSON object")
    missing = [key for key in ("id", "reasoning") if key not in row]
    if missing:
        raise OutcomeFormatError(source, line, f"missing field(s): {', '.join(missing)}")
    item_id = row["id"]
    if isinstance(item_id, int) and not isinstance(item_id, bool):
        item_id = str(item_id)
    if not isinstance(item_id, str) or not item_id.strip():
        raise OutcomeFormatError(source, line, "field 'id' must be a non-empty string")
    if not isinstance(row["reasoning"], str) or not row["reasoning"].strip():
        raise OutcomeFormatError(source, line, "field 'reasoning' must be a non-empty string")
    for key in ("prompt", "final", "model", "dataset"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise OutcomeFormatError(source, line, f"field '{key}' must be a string")
    gold = row.get("gold")
    if gold is not None and not isinstance(gold, str | int | float):
        raise OutcomeFormatError(source, line, "field 'gold' must be a string or null")
    return Trace(
        id=item_id,
        prompt=row.get("prompt") or "",
        gold=None if gold is None else str(gold),
        reasoning=row["reasoning"],
        final=row.get("final") or "",
        model=row.get("model") or "",
        dataset=row.get("dataset") or "",
        chunks=_chunks(row.get("chunks"), source, line),
    )


def parse_traces(lines: Iterable[str], source: str = "<traces>") -> Iterator[Trace]:
    """Parse JSONL lines into traces; a malformed row raises with its line number."""
    for number, row in json_rows(lines, source):
        yield _row_to_trace(row, source, number)


def read_traces(path: str | Path) -> list[Trace]:
    """Read a trace table (JSONL, optionally gzip-compressed)."""
    return read_jsonl(path, parse_traces)


def write_traces(traces: Iterable[Trace], path: str | Path) -> int:
    """Write traces as JSONL (gzip when the name ends in .gz); returns the row count."""
    return write_jsonl((trace.to_json() for trace in traces), path)


def trace_dataset_names() -> list[str]:
    """Every bundled trace dataset name `load_traces` accepts."""
    names = [f"{source}-{model}" for source in _MIP_SOURCES for model in TRACE_MODELS]
    return [*names, THOUGHT_ANCHORS]


def traces_from_outcomes(rows: Iterable[Any], model: str) -> list[Trace]:
    """Traces of one model from outcome rows that recorded its thinking text."""
    traces = []
    for row in rows:
        if row.profile != model:
            continue
        reasoning, final = row.reasoning, row.response or ""
        if not reasoning and final and row.dataset == "mip-missing-premise":
            # The model never closed its thinking: the whole response is reasoning.
            reasoning, final = final, ""
        if not reasoning or not reasoning.strip():
            continue
        traces.append(
            Trace(
                id=row.id,
                prompt=row.prompt,
                gold=row.gold,
                reasoning=reasoning,
                final=final,
                model=model,
                dataset=row.dataset,
            )
        )
    return traces


def load_traces(name: str) -> list[Trace]:
    """A bundled trace dataset: `mip-gsm8k-QwQ-32B`, `mip-math-s1.1`, `thought-anchors`, ..."""
    if name == THOUGHT_ANCHORS:
        return read_traces(DATA_DIR / _THOUGHT_ANCHORS_FILE)
    lowered = {n.lower(): n for n in trace_dataset_names()}
    canonical = lowered.get(name.lower())
    if canonical is None:
        valid = ", ".join(trace_dataset_names())
        raise NotFoundError(f"unknown trace dataset '{name}' (available: {valid})", param="name")
    source = next(s for s in _MIP_SOURCES if canonical.startswith(s + "-"))
    model = canonical[len(source) + 1 :]
    return traces_from_outcomes(load_dataset(source), model)
