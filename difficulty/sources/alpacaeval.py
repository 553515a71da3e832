"""AlpacaEval 2.0: 12 models on 563 everyday instructions, judged against GPT-4-Turbo.

Each annotation row holds the model's output (``output_2``), the reference GPT-4-1106 output
(``output_1``) and ``preference`` = 1 + P(the judge prefers the model's output). The continuous
quality ``extra.quality`` = P(win vs GPT-4-Turbo); the reference scores exactly 0.5 against
itself. ``correct`` (good enough) is ``quality >= GOOD_ENOUGH``: the judge gives the answer at
least one chance in four against the reference (odds no worse than 3:1). The judge's
probabilities are strongly bimodal (70-90% of every model's judgments lie outside 0.1-0.9), so
the label moves little with the tolerance; SOURCES.md records the measured sensitivity. The
reference (0.5) is good enough on every instruction, so it is the strong end of every pair.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens

__all__ = ["GOOD_ENOUGH", "REFERENCE", "MODELS", "quality", "good_enough", "alpacaeval_outcomes"]

RESULTS = Path("alpacaeval") / "results"
DERIVED = Path("alpacaeval") / "derived" / "general_outcomes.jsonl.gz"
ANNOTATOR = "weighted_alpaca_eval_gpt4_turbo"
REFERENCE = "gpt4_1106_preview"
GOOD_ENOUGH = 0.25
# Result folder -> profile name (the folder names are the leaderboard's).
MODELS = {
    "gpt4_1106_preview": "gpt-4-1106",
    "gpt-3.5-turbo-1106": "gpt-3.5-turbo-1106",
    "gpt-3.5-turbo-1106_concise": "gpt-3.5-turbo-1106-concise",
    "gpt-3.5-turbo-1106_verbose": "gpt-3.5-turbo-1106-verbose",
    "claude-2.1": "claude-2.1",
    "claude-instant-1.2": "claude-instant-1.2",
    "Mixtral-8x7B-Instruct-v0.1_concise": "mixtral-8x7b-concise",
    "FuseChat-Llama-3.2-1B-Instruct": "fusechat-llama-3.2-1b",
    "FuseChat-Llama-3.2-3B-Instruct": "fusechat-llama-3.2-3b",
    "FuseChat-Llama-3.1-8B-Instruct": "fusechat-llama-3.1-8b",
    "FuseChat-Qwen-2.5-7B-Instruct": "fusechat-qwen-2.5-7b",
    "FuseChat-Gemma-2-9B-Instruct": "fusechat-gemma-2-9b",
}


def quality(preference: str | float | None) -> float | None:
    """P(the judge prefers the model's output) from AlpacaEval's ``preference`` (1 + P)."""
    if preference is None or preference == "":
        return None
    return min(1.0, max(0.0, float(preference) - 1.0))


def good_enough(value: float | None) -> bool | None:
    """The answer is good enough when the judge's win probability reaches ``GOOD_ENOUGH``."""
    return None if value is None else value >= GOOD_ENOUGH


def _ids(shared: Path) -> dict[str, tuple[str, str]]:
    """Instruction text -> (id, category), from the derived file (ids kept for cross-checks)."""
    out: dict[str, tuple[str, str]] = {}
    with gzip.open(shared / DERIVED, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out[row["prompt"]] = (row["id"], row["category"])
    return out


def alpacaeval_outcomes(shared: Path) -> Iterator[Outcome]:
    """Rows of ``alpacaeval``: 563 instructions x 12 models, quality in ``extra.quality``."""
    ids = _ids(shared)
    for folder, profile in MODELS.items():
        path = shared / RESULTS / folder / ANNOTATOR / "annotations.json.gz"
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows: list[dict[str, Any]] = json.load(fh)
        for row in rows:
            item_id, category = ids[row["instruction"]]
            value = 0.5 if folder == REFERENCE else quality(row["preference"])
            output = str(row["output_2"] or "")
            yield Outcome(
                id=item_id,
                prompt=row["instruction"],
                profile=profile,
                correct=good_enough(value),
                tokens=count_tokens(output),
                dataset="alpacaeval",
                extra={"quality": value, "category": category},
            )
