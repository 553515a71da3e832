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

__all__ = [
    "PROFILES",
    "MT_BENCH_GOOD_ENOUGH",
    "gsm8k_outcomes",
    "mmlu_outcomes",
    "mt_bench_answer",
    "mt_bench_outcomes",
    "contaminated_prompts",
]

EVALS = Path("routellm") / "routellm" / "evals"
GSM8K_TEST = Path("gsm8k") / "grade_school_math" / "data" / "test.jsonl"
# Column of the CSV -> profile name.
PROFILES = {"mistralai/Mixtral-8x7B-Instruct-v0.1": "mixtral", "gpt-4-1106-preview": "gpt-4"}
# MT-Bench's GPT-4 judge grades 1-10; an answer graded 8 or more is good enough. GPT-4-1106's
# own answers reach it on 133 of the 144 uncontaminated turns (92%), Mixtral's on 113 (78%);
# SOURCES.md has the rates at the neighbouring thresholds.
MT_BENCH_GOOD_ENOUGH = 8.0
_ANSWER_START = "[The Start of Assistant's Answer]"
_ANSWER_END = "[The End of Assistant's Answer]"
_CONVERSATION_START = "<|The Start of Assistant A's Conversation with User|>"
_CONVERSATION_END = "<|The End of Assistant A's Conversation with User|>"
_TURN = "### Assistant A:"


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


def mt_bench_answer(judge_prompt: str, turn: int) -> str | None:
    """The judged answer inside a judge prompt: turn 1's answer, or turn 2's last reply."""
    if turn == 1:
        start = judge_prompt.find(_ANSWER_START)
        end = judge_prompt.find(_ANSWER_END, start)
        if start < 0 or end < 0:
            return None
        return judge_prompt[start + len(_ANSWER_START) : end].strip()
    start = judge_prompt.find(_CONVERSATION_START)
    end = judge_prompt.find(_CONVERSATION_END, start)
    if start < 0 or end < 0:
        return None
    conversation = judge_prompt[start:end]
    last = conversation.rfind(_TURN)
    return conversation[last + len(_TURN) :].strip() if last >= 0 else None


def mt_bench_outcomes(shared: Path, removed: list[int] | None = None) -> Iterator[Outcome]:
    """Rows of ``routellm-mt-bench``: (question, turn) x {mixtral, gpt-4}, GPT-4 judge scores.

    ``correct`` = score >= MT_BENCH_GOOD_ENOUGH; the score in ``extra.score`` and as
    ``extra.quality`` (score / 10). A turn-2 item's prompt is the second user message, the first
    in ``extra.history``. Contaminated questions are left out (count appended to ``removed``).
    """
    folder = shared / EVALS / "mt_bench"
    questions = {
        q["question_id"]: q
        for q in map(json.loads, (folder / "question.jsonl").read_text("utf-8").splitlines())
    }
    contaminated = contaminated_prompts(shared, "mt_bench")
    dropped = {k for k, q in questions.items() if _key(q["turns"][0]) in contaminated}
    lines = (folder / "judgements.jsonl").read_text("utf-8").splitlines()
    judgements = sorted(
        (json.loads(line) for line in lines if line.strip()),
        key=lambda j: (j["question_id"], j["turn"], j["model"]),
    )
    for j in judgements:
        if j["question_id"] in dropped:
            continue
        question, turn = questions[j["question_id"]], int(j["turn"])
        answer = mt_bench_answer(j["user_prompt"], turn)
        score = float(j["score"])
        extra: dict[str, Any] = {
            "score": score,
            "quality": score / 10.0,
            "category": question["category"],
            "turn": turn,
        }
        if turn == 2:
            extra["history"] = [question["turns"][0]]
        yield Outcome(
            id=f"mt-bench-{j['question_id']:03d}-t{turn}",
            prompt=question["turns"][turn - 1],
            profile=PROFILES[j["model"]],
            correct=score >= MT_BENCH_GOOD_ENOUGH,
            tokens=count_tokens(answer) if answer is not None else None,
            dataset="routellm-mt-bench",
            response=answer,
            extra=extra,
        )
    if removed is not None:
        removed.append(len(dropped))
