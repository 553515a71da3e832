"""RouteLLM's recorded GPT-4 / Mixtral outcomes on GSM8K and MMLU (two-model routing)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from difficulty.answers import answers_match, extract_answer
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens

__all__ = ["PROFILES", "gsm8k_outcomes", "mmlu_outcomes", "contaminated_prompts"]

EVALS = Path("routellm") / "routellm" / "evals"
GSM8K_TEST = Path("gsm8k") / "grade_school_math" / "data" / "test.jsonl"
# Column of the CSV -> profile name.
PROFILES = {"mistralai/Mixtral-8x7B-Instruct-v0.1": "mixtral", "gpt-4-1106-preview": "gpt-4"}


def _key(text: str) -> str:
    return " ".join(text.split())


def _csv_rows(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _label(value: str) -> bool:
    if value not in ("True", "False"):
        raise ValueError(f"unexpected correctness label {value!r}")
    return value == "True"


def contaminated_prompts(shared: Path, benchmark: str) -> set[str]:
    """Eval prompts RouteLLM found in its router training data (to be excluded)."""
    path = shared / EVALS / benchmark / "contaminated_prompts.jsonl"
    lines = path.read_text("utf-8").splitlines()
    return {_key(json.loads(line)["eval_prompt"]) for line in lines if line.strip()}


def gsm8k_outcomes(shared: Path) -> Iterator[Outcome]:
    """Rows of ``routellm-gsm8k``: 1,319 GSM8K test prompts x {mixtral, gpt-4}, with responses."""
    gold_lines = (shared / GSM8K_TEST).read_text("utf-8").splitlines()
    gold_rows = [json.loads(line) for line in gold_lines if line.strip()]
    index = {_key(r["question"]): i for i, r in enumerate(gold_rows)}
    contaminated = contaminated_prompts(shared, "gsm8k")
    rows = _csv_rows(shared / EVALS / "gsm8k" / "gsm8k_responses.csv")
    for row in rows:
        k = index[_key(row["prompt"])]  # every prompt is a GSM8K test question
        gold = gold_rows[k]["answer"].split("####")[-1].strip()
        for column, profile in PROFILES.items():
            response = row[f"{column}_response"]
            answer = extract_answer(response)
            extra: dict[str, Any] = {
                "answer": answer,
                "recomputed_correct": answers_match(answer, gold),
            }
            if _key(row["prompt"]) in contaminated:
                extra["contaminated"] = True
            yield Outcome(
                id=f"gsm8k-test-{k:04d}",
                prompt=row["prompt"],
                profile=profile,
                correct=_label(row[column]),
                tokens=count_tokens(response),
                dataset="routellm-gsm8k",
                gold=gold,
                response=response,
                extra=extra,
            )


def mmlu_outcomes(shared: Path, removed: list[int] | None = None) -> Iterator[Outcome]:
    """Rows of ``routellm-mmlu``: MMLU prompts x {mixtral, gpt-4}, correctness only.

    Contaminated prompts are left out; their count is appended to ``removed`` when given.
    """
    contaminated = contaminated_prompts(shared, "mmlu")
    dropped = 0
    for path in sorted((shared / EVALS / "mmlu" / "responses").glob("mmlu_*.csv")):
        subject = path.stem.removeprefix("mmlu_")
        for position, row in enumerate(_csv_rows(path)):
            if _key(row["prompt"]) in contaminated:
                dropped += 1
                continue
            for column, profile in PROFILES.items():
                yield Outcome(
                    id=f"mmlu-{subject}-{position:04d}",
                    prompt=row["prompt"],
                    profile=profile,
                    correct=_label(row[column]),
                    tokens=None,
                    dataset="routellm-mmlu",
                    extra={"subject": subject},
                )
    if removed is not None:
        removed.append(dropped)
