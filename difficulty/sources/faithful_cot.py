"""Faithful-CoT: direct answer vs chain-of-thought, six OpenAI models on ten reasoning tasks.

Profiles are ``<model>:direct`` and ``<model>:cot`` on shared item ids, so one model's
two-profile routing table is the rows whose profile starts with ``<model>:``, and items keep
one id across models (cross-validation groups stay intact). ``extra.task`` names the task.
Correctness is recomputed with the answer normaliser, except for saycan (robot plans), where
the derived file's label is kept; the file's labels travel in ``extra.source_correct``.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from difficulty.answers import answers_match, extract_answer
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens

__all__ = ["MODEL_NAMES", "MODES", "faithful_cot_outcomes", "task_answer"]

DERIVED = Path("faithful-cot") / "derived" / "faithfulcot_direct_vs_cot.jsonl.gz"
MODEL_NAMES = {
    "code001": "code-davinci-001",
    "code002": "code-davinci-002",
    "text002": "text-davinci-002",
    "text003": "text-davinci-003",
    "gpt-3.5-turbo": "gpt-3.5-turbo",
    "gpt4": "gpt-4",
}
MODES = ("direct", "cot")
_KEEP_LABEL = frozenset({"saycan"})
_RELATION = re.compile(r"is\s+\[?[\w .'-]+?\]?'s\s+([a-z-]+)", re.IGNORECASE)


def task_answer(task: str, completion: str) -> str | None:
    """The answer in a completion; CLUTRR answers are the relation word ("X is Y's son")."""
    if task == "CLUTRR":
        relations = _RELATION.findall(completion)
        return relations[-1].lower() if relations else extract_answer(completion)
    return extract_answer(completion)


def faithful_cot_outcomes(shared: Path) -> Iterator[Outcome]:
    """Rows of ``faithful-cot``: per item, every model's direct and CoT outcome, item-grouped."""
    by_item: dict[str, list[dict[str, Any]]] = {}
    with gzip.open(shared / DERIVED, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            by_item.setdefault(f"{row['dataset']}-{int(row['id']):04d}", []).append(row)
    for item_id, rows in by_item.items():
        for row in rows:
            task, gold = row["dataset"], str(row["gold"])
            model = MODEL_NAMES[row["model"]]
            for mode in MODES:
                completion = str(row[f"{mode}_completion"] or "")
                label = row[f"{mode}_correct"]
                answer = task_answer(task, completion)
                correct = bool(label) if task in _KEEP_LABEL else answers_match(answer, gold)
                yield Outcome(
                    id=f"faithful-cot-{item_id}",
                    prompt=str(row["question"]),
                    profile=f"{model}:{mode}",
                    correct=correct,
                    tokens=count_tokens(completion),
                    dataset="faithful-cot",
                    gold=gold if task not in _KEEP_LABEL else None,
                    extra={"task": task, "source_correct": label},
                )
