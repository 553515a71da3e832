"""MiP-Overthinking responses: thinking and non-thinking models on GSM8K, MATH and MiP variants."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from difficulty.answers import answers_match, extract_answer
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens

__all__ = ["MODEL_NAMES", "THINKING_MODELS", "mip_outcomes", "missing_premise_outcomes"]

ROOT = "mip-overthinking"

# Folder name -> the model's real name (the MiP paper and the files' own response keys).
MODEL_NAMES = {
    "QwQ": "QwQ-32B",
    "DSQ": "R1-Distill-Qwen-32B",
    "s1.1": "s1.1",
    "Limo": "LIMO",
    "Qwen32": "Qwen2.5-32B",
    "gpt4o": "gpt-4o",
    "gpt3_5": "gpt-3.5-turbo",
    "gemini1_5": "gemini-1.5-flash",
    "gemini2": "gemini-2.0-flash",
    "Gemma227": "Gemma-2-27B",
    "phi3": "Phi-3",
    "o1": "o1",
    "o1mini_medium": "o1-mini",
    "o3mini_medium": "o3-mini",
}
THINKING_MODELS = frozenset({"QwQ-32B", "R1-Distill-Qwen-32B", "s1.1", "LIMO"})
_S1_ANSWER = re.compile(r"\nanswer\n")


def _key(question: str) -> str:
    return " ".join(question.split())


def split_thinking(text: str) -> tuple[str | None, str]:
    """Split a recorded response into (thinking, visible answer) by the marker the model used."""
    if "</think>" in text:
        head, _, tail = text.rpartition("</think>")
        return head.replace("<think>", "", 1).strip("\n"), tail.strip("\n")
    if text.startswith("think\n"):  # s1.1: "think\n...\nanswer\n..."
        matches = list(_S1_ANSWER.finditer(text))
        if matches:
            cut = matches[-1]
            return text[len("think\n") : cut.start()], text[cut.end() :]
        return text[len("think\n") :], ""
    return None, text


def _final_answer(reasoning: str | None, response: str) -> str | None:
    found = extract_answer(response) if response.strip() else None
    if found is None and reasoning:
        found = extract_answer(reasoning)
    return found


def _label(raw: Any) -> bool | None:
    """The file's own correctness label (eval_result: "1" correct, anything else not)."""
    if raw is None:
        return None
    return str(raw).strip() == "1"


def _gold(dataset: str, answer: str) -> str:
    return answer.split("####")[-1].strip() if dataset == "gsm8k" else answer.strip()


def _response_of(row: dict[str, Any], variant: str) -> tuple[str, int | None, int | None]:
    """(text, all tokens, thinking tokens) of a row; API rows name their response key."""
    if "model_answer" in row:
        return str(row["model_answer"]), None, None
    field = "(question)" if variant == "normal" else "(insufficient_question)"
    for key, value in row.items():
        if key.endswith(field):
            total = row.get(f"{key} all_token_count")
            thinking = row.get(f"{key} thinking_token_count")
            return (
                str(value),
                None if total is None else int(total),
                None if thinking is None else int(thinking),
            )
    raise KeyError(f"no response field in row with keys {sorted(row)}")


def _load(shared: Path, dataset: str, variant: str) -> dict[str, list[dict[str, Any]]]:
    base = shared / ROOT / "response" / dataset / variant
    return {
        folder.name: json.loads((folder / "response.json").read_text(encoding="utf-8"))
        for folder in sorted(base.iterdir())
        if (folder / "response.json").is_file() and folder.name in MODEL_NAMES
    }


def _outcome(
    *,
    item_id: str,
    prompt: str,
    folder: str,
    row: dict[str, Any],
    dataset_name: str,
    variant: str,
    gold: str | None,
    extra: dict[str, Any],
) -> Outcome:
    text, total_tokens, thinking_tokens = _response_of(row, variant)
    profile = MODEL_NAMES[folder]
    reasoning, response = split_thinking(text) if profile in THINKING_MODELS else (None, text)
    answer = _final_answer(reasoning, response)
    row_extra: dict[str, Any] = dict(extra)
    row_extra["answer"] = answer
    label = _label(row.get("eval_result"))
    if "eval_result" in row:
        row_extra["eval_result"] = str(row["eval_result"])
    if variant == "normal":
        correct: bool | None = answers_match(answer, gold)
        if label is not None:
            row_extra["source_correct"] = label
    else:
        correct = None  # an ill-posed question has no right answer
    if total_tokens is not None:
        tokens = total_tokens  # o-series: the API's count, hidden thinking included
        row_extra["thinking_tokens"] = thinking_tokens
    else:
        tokens = count_tokens(text)
    return Outcome(
        id=item_id,
        prompt=prompt,
        profile=profile,
        correct=correct,
        tokens=tokens,
        dataset=dataset_name,
        gold=gold,
        reasoning=reasoning,
        response=response,
        extra=row_extra,
    )


def mip_outcomes(shared: Path, dataset: str) -> Iterator[Outcome]:
    """Rows of ``mip-gsm8k`` or ``mip-math``: every model's answer to every well-posed question."""
    files = _load(shared, dataset, "normal")
    # API files carry the full record (question, level, unique_id); they fix the item order.
    ordered = next(
        rows
        for rows in files.values()
        if all("unique_id" in r or "insufficient_question" in r for r in rows)
    )
    index = {_key(r["question"]): i for i, r in enumerate(ordered)}
    name = f"mip-{dataset}"
    for folder, rows in files.items():
        for position, row in enumerate(rows):
            # GSM8K files of local models are in another order: join them by question text.
            # MATH files of local models lack the question but share the API files' order.
            k = index[_key(row["question"])] if dataset == "gsm8k" else position
            ref = ordered[k]
            if str(ref["answer"]) != str(row["answer"]):
                raise ValueError(f"{folder} row {position}: gold differs from the joined item")
            extra: dict[str, Any] = {}
            if dataset == "math":
                extra = {"level": int(ref["level"]), "subject": ref["subject"]}
                extra["unique_id"] = ref["unique_id"]
            yield _outcome(
                item_id=f"{name}-{k:03d}",
                prompt=ref["question"],
                folder=folder,
                row=row,
                dataset_name=name,
                variant="normal",
                gold=_gold(dataset, str(row["answer"])),
                extra=extra,
            )


def missing_premise_outcomes(shared: Path) -> Iterator[Outcome]:
    """Rows of ``mip-missing-premise``: MATH questions with a premise removed; no right answer."""
    files = _load(shared, "math", "MiP")
    name = "mip-missing-premise"
    for folder, rows in files.items():
        for position, row in enumerate(rows):
            yield _outcome(
                item_id=f"{name}-{position:02d}",
                prompt=str(row["insufficient_question"]),
                folder=folder,
                row=row,
                dataset_name=name,
                variant="MiP",
                gold=None,
                extra={"original_gold": str(row["answer"]).strip()},
            )
