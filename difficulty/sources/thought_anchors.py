"""Thought Anchors traces: 20 R1-Distill-Llama-8B streams with per-chunk resampled accuracy.

Builds the bundled `thought-anchors` trace dataset (a developer tool; the product reads only the
bundled file):

    python -m difficulty.sources.thought_anchors --shared /work/shared/data
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from difficulty.answers import answers_match, extract_answer
from difficulty.datasets import DATA_DIR
from difficulty.tokens import count_tokens
from difficulty.traces import Chunk, Trace

__all__ = [
    "MODEL",
    "align_chunks",
    "thought_anchors_traces",
    "outcome_fields",
    "write_rows",
    "main",
]

ROOT = "thought-anchors-traces"
MODEL = "R1-Distill-Llama-8B"
_DATA = Path("src/app/data/deepseek-r1-distill-llama-8b")
OUTPUT = "thought-anchors-traces.jsonl.gz"
ATTRIBUTION = (
    "thought-anchors-traces.jsonl.gz: traces and per-chunk resampled accuracy from "
    "interp-reasoning/thought-anchors.com @ 68acc04 (src/app/data), MIT License."
)


def align_chunks(reasoning: str, pieces: Sequence[str]) -> list[int]:
    """Start offset of each chunk in the reasoning (chunks were whitespace-normalised)."""
    starts: list[int] = []
    position = 0
    for piece in pieces:
        stripped = piece.strip()
        found = reasoning.find(stripped, position) if stripped else -1
        length = len(stripped)
        if found < 0 and stripped:
            # The chunker collapsed whitespace ("x\n\ny" became "x y"): match words loosely.
            loose = re.compile(r"\s*".join(re.escape(word) for word in stripped.split()))
            match = loose.search(reasoning, position)
            if match:
                found, length = match.start(), match.end() - match.start()
        if found < 0:
            # Not located: it starts where the previous one ended and runs to the next one.
            starts.append(position)
            continue
        starts.append(found)
        position = found + length
    return starts


def _thinking(full_cot: str) -> tuple[str, str]:
    head, _, final = full_cot.partition("</think>")
    reasoning = head.split("<think>", 1)[-1]
    return reasoning.strip("\n"), final.strip("\n")


def _trace(folder: Path, outcome: str) -> Trace:
    problem: dict[str, Any] = json.loads((folder / "problem.json").read_text("utf-8"))
    base: dict[str, Any] = json.loads((folder / "base_solution.json").read_text("utf-8"))
    labeled: list[dict[str, Any]] = json.loads((folder / "chunks_labeled.json").read_text("utf-8"))
    reasoning, final = _thinking(str(base["full_cot"]))
    labeled.sort(key=lambda c: int(c["chunk_idx"]))
    starts = align_chunks(reasoning, [str(c["chunk"]) for c in labeled])
    # Chunk text is the exact span of the reasoning up to the next chunk, so the chunks
    # concatenate back to the reasoning and exit offsets map onto chunks.
    starts[0] = 0
    ends = [*starts[1:], len(reasoning)]
    chunks = tuple(
        Chunk(reasoning[start:end], None if c.get("accuracy") is None else float(c["accuracy"]))
        for start, end, c in zip(starts, ends, labeled, strict=True)
    )
    return Trace(
        id=f"thought-anchors-{folder.name.replace('_', '-')}-{outcome}",
        prompt=str(problem["problem"]),
        gold=str(problem["gt_answer"]),
        reasoning=reasoning,
        final=final,
        model=MODEL,
        dataset="thought-anchors",
        chunks=chunks,
    )


def thought_anchors_traces(shared: Path) -> Iterator[Trace]:
    """The 20 traces (10 problems, a correct and an incorrect base solution each)."""
    base = shared / ROOT / _DATA
    for outcome in ("correct", "incorrect"):
        for folder in sorted((base / f"{outcome}_base_solution").glob("problem_*")):
            yield _trace(folder, outcome)


def outcome_fields(trace: Trace) -> dict[str, Any]:
    """The outcome-table fields of a trace, so the bundled file is also a valid outcome table."""
    answer = extract_answer(trace.final) or extract_answer(trace.reasoning)
    return {
        "profile": trace.model,
        "correct": answers_match(answer, trace.gold),
        "tokens": count_tokens(trace.reasoning) + count_tokens(trace.final),
        "response": trace.final,
    }


def write_rows(traces: Sequence[Trace], path: Path) -> int:
    """Write traces with their outcome fields (gzip JSONL); `datasets list` can then read it."""
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        for trace in traces:
            row = {**trace.to_json(), **outcome_fields(trace)}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(traces)


def main(argv: Sequence[str] | None = None) -> int:
    """Write the bundled file and its license."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, required=True, help="the shared data directory")
    parser.add_argument("--out-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)
    rows = list(thought_anchors_traces(args.shared))
    n = write_rows(rows, args.out_dir / OUTPUT)
    licenses = args.out_dir / "LICENSES"
    licenses.mkdir(parents=True, exist_ok=True)
    license_text = (args.shared / ROOT / "LICENSE.md").read_text("utf-8")
    (licenses / "thought-anchors-traces.txt").write_text(
        ATTRIBUTION + "\n\n" + license_text, "utf-8"
    )
    print(f"{OUTPUT}: {n} traces", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
