"""MATH train (7,474 problems with level 1-5 and subject): difficulty labels, no model outcomes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from difficulty.outcomes import Outcome

__all__ = ["PROFILE", "math_train_outcomes"]

JSON = Path("math-rllm") / "rllm" / "data" / "train" / "math" / "math.json"
# No model answered these; the single profile marks rows as reference labels only.
PROFILE = "reference"


def math_train_outcomes(shared: Path) -> Iterator[Outcome]:
    """One ``reference`` row per problem: correct and tokens null, gold answer, extra.level."""
    problems = json.loads((shared / JSON).read_text("utf-8"))
    for i, problem in enumerate(problems):
        level = int(problem["difficulty"])
        yield Outcome(
            id=f"math-train-{i:04d}",
            prompt=str(problem["problem"]),
            profile=PROFILE,
            correct=None,
            tokens=None,
            dataset="math-train",
            gold=str(problem["answer"]),
            # Two problems are "Level ?" in MATH (stored as 0): their level is unknown.
            extra={"level": level if 1 <= level <= 5 else None, "subject": problem["type"]},
        )
