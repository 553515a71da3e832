"""Building the thought-anchors trace bundle from a source laid out like the public repo."""

from __future__ import annotations

import json
from pathlib import Path

from difficulty.outcomes import read_outcomes
from difficulty.sources.thought_anchors import ROOT, align_chunks, main
from difficulty.traces import read_traces

REASONING = "Okay, so 2 plus 3.\n\nThat is  5. So the answer is 5."


def _problem(base: Path, outcome: str, answer: str) -> None:
    folder = base / f"{outcome}_base_solution" / "problem_7"
    folder.mkdir(parents=True)
    (folder / "problem.json").write_text(json.dumps({"problem": "What is 2+3?", "gt_answer": "5"}))
    full = f"Solve. Problem: What is 2+3? <think>\n{REASONING}\n</think>\n\n\\boxed{{{answer}}}"
    (folder / "base_solution.json").write_text(json.dumps({"full_cot": full}))
    chunks = [
        {"chunk_idx": 1, "chunk": "That is 5.", "accuracy": 0.95},  # whitespace normalised
        {"chunk_idx": 0, "chunk": "Okay, so 2 plus 3.", "accuracy": 0.4},
        {"chunk_idx": 2, "chunk": "So the answer is 5.", "accuracy": 1.0},
    ]
    (folder / "chunks_labeled.json").write_text(json.dumps(chunks))


def test_align_chunks_finds_each_piece_in_order() -> None:
    text = "A b. C  d. E f."
    # "C d." is not in the text verbatim (two spaces): its words are matched loosely.
    assert align_chunks(text, ["A b.", "C d.", "E f."]) == [0, 5, 11]
    assert align_chunks("xyz", ["nowhere", "xyz"]) == [0, 0]


def test_build_writes_traces_that_are_also_outcomes(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    base = shared / ROOT / "src/app/data/deepseek-r1-distill-llama-8b"
    _problem(base, "correct", "5")
    _problem(base, "incorrect", "6")
    (shared / ROOT / "LICENSE.md").write_text("MIT License\n")
    out = tmp_path / "out"
    out.mkdir()
    assert main(["--shared", str(shared), "--out-dir", str(out)]) == 0

    traces = read_traces(out / "thought-anchors-traces.jsonl.gz")
    assert [t.id for t in traces] == [
        "thought-anchors-problem-7-correct",
        "thought-anchors-problem-7-incorrect",
    ]
    first = traces[0]
    assert first.reasoning == REASONING and first.gold == "5"
    assert first.chunks is not None
    assert "".join(c.text for c in first.chunks) == REASONING
    assert [c.accuracy for c in first.chunks] == [0.4, 0.95, 1.0]  # ordered by chunk index
    outcomes = read_outcomes(out / "thought-anchors-traces.jsonl.gz")
    assert [o.correct for o in outcomes] == [True, False]
    license_text = (out / "LICENSES" / "thought-anchors-traces.txt").read_text()
    assert "interp-reasoning/thought-anchors.com" in license_text and "MIT License" in license_text
