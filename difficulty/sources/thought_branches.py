"""Thought-branches: how long R1-Distill-Qwen-14B thinks on 1,010 MATH level-5 problems."""

from __future__ import annotations

import ast
import csv
from collections.abc import Iterator
from pathlib import Path

from difficulty.answers import answers_match
from difficulty.outcomes import Outcome

__all__ = ["PROFILE", "thought_branches_outcomes"]

CSV = Path("thought-branches") / "faithfulness" / "dfs" / "math_cots_summary_qwen14.csv"
PROFILE = "R1-Distill-Qwen-14B"


def _answers(raw: str) -> list[str]:
    try:
        parsed = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return []
    return [str(a) for a in parsed] if isinstance(parsed, list) else []


def thought_branches_outcomes(shared: Path) -> Iterator[Outcome]:
    """One row per problem: tokens = mean reasoning tokens over ~10 runs; correct = accuracy >= .5.

    The CSV carries the problem text itself, so no join is needed.
    """
    with (shared / CSV).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        accuracy = float(row["accuracy"])
        answers = _answers(row["answers"])
        gold = row["gt_answer"]
        recomputed = (
            sum(answers_match(a, gold) for a in answers) / len(answers) if answers else None
        )
        yield Outcome(
            id=f"math-level5-{int(row['pn']):05d}",
            prompt=row["problem"],
            profile=PROFILE,
            correct=accuracy >= 0.5,
            tokens=round(float(row["M_tokens"])),
            dataset="thought-branches",
            gold=gold,
            extra={
                "accuracy": accuracy,
                "recomputed_accuracy": recomputed,
                "median_tokens": float(row["med_tokens"]),
                "runs": int(row["total_runs"]),
                "level": int(row["level"].removeprefix("Level ")),
                "subject": row["type"],
            },
        )
