"""ZeroEval's CRUXEval run: 560 "what does this Python function return?" questions x 4 models.

gpt-4o-mini and gpt-4o answer directly (their visible reasoning is the whole output); o1-mini
and o1-preview think first, and their hidden reasoning tokens are not in the files. Their cost
is modelled: ``tokens`` = visible output tokens x (1 + HIDDEN_RATIO[model]), where the ratio is
hidden thinking tokens per visible completion token measured on the same models' API counts in
MiP-Overthinking (GSM8K + MATH-500, ratio of sums: o1-mini 201,088 / 159,542 = 1.26; o1
252,736 / 79,706 = 3.17, used for o1-preview, which has no recorded counts). Both parts travel
in ``extra`` (``visible_tokens``, ``hidden_tokens_modelled``). This is an assumption: code
tracing may make the models think more or less per visible token than math does.

Correctness is recomputed by :func:`crux_correct` on the answer field of the first complete
JSON object of the output (ZeroEval's protocol); the derived file's label is kept in
``extra.source_correct``.
"""

from __future__ import annotations

import ast
import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens

__all__ = [
    "HIDDEN_RATIO",
    "MODELS",
    "crux_answer",
    "crux_correct",
    "modelled_tokens",
    "crux_outcomes",
]

RESULTS = Path("zeroeval-crux") / "result_dirs" / "crux"
DERIVED = Path("zeroeval-crux") / "derived" / "general_outcomes.jsonl.gz"
# File stem -> (profile, effort).
MODELS = {
    "gpt-4o-mini-2024-07-18": ("gpt-4o-mini", "direct"),
    "gpt-4o-2024-08-06": ("gpt-4o", "direct"),
    "o1-mini-2024-09-12": ("o1-mini", "think"),
    "o1-preview-2024-09-12": ("o1-preview", "think"),
}
HIDDEN_RATIO = {"o1-mini": 1.26, "o1-preview": 3.17}
_ANSWER = re.compile(r'"answer"\s*:\s*"((?:[^"\\]|\\.)*)"', re.DOTALL)


def _first_json(text: str) -> dict[str, Any] | None:
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and "answer" in value:
            return value
    return None


def crux_answer(output: str) -> str | None:
    """The ``answer`` field of the output's first JSON object (a regex when it is not valid)."""
    parsed = _first_json(output)
    if parsed is not None:
        return str(parsed["answer"])
    match = _ANSWER.findall(output)
    return match[-1].encode().decode("unicode_escape", "ignore") if match else None


def _literal(text: str) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def crux_correct(answer: str | None, gold: str) -> bool:
    """Equal as Python literals (``[1, 2]`` = ``[1,2]``, ``'a'`` = ``"a"``), else as text.

    Spaces inside strings count (``'a b'`` is not ``'ab'``), unlike a space-stripped compare.

    A string answered without its quotes (``POO`` for ``'POO'``) counts: the JSON field is
    itself a string, and models often give the value rather than its literal.
    """
    if answer is None:
        return False
    if answer.strip() == gold.strip():
        return True
    ok_a, value_a = _literal(answer)
    ok_g, value_g = _literal(gold)
    if ok_g and isinstance(value_g, str) and not (ok_a and isinstance(value_a, str)):
        return answer == value_g
    return bool(ok_a and ok_g and type(value_a) is type(value_g) and value_a == value_g)


def modelled_tokens(profile: str, visible: int) -> tuple[int, int]:
    """(total, hidden) completion tokens: visible plus the modelled hidden reasoning."""
    hidden = round(visible * HIDDEN_RATIO.get(profile, 0.0))
    return visible + hidden, hidden


def _source_labels(shared: Path) -> dict[tuple[str, str], bool]:
    out: dict[tuple[str, str], bool] = {}
    with gzip.open(shared / DERIVED, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out[(row["id"], row["model"])] = bool(row["correct"])
    return out


def crux_outcomes(shared: Path) -> Iterator[Outcome]:
    """Rows of ``zeroeval-crux``: 560 questions x 4 models, hidden o1 tokens modelled."""
    labels = _source_labels(shared)
    for stem, (profile, effort) in MODELS.items():
        with gzip.open(shared / RESULTS / f"{stem}.json.gz", "rt", encoding="utf-8") as fh:
            rows: list[dict[str, Any]] = json.load(fh)
        for row in rows:
            output = str(row["output"][0] if row["output"] else "")
            answer = crux_answer(output)
            visible = count_tokens(output)
            total, hidden = modelled_tokens(profile, visible)
            yield Outcome(
                id=str(row["id"]),
                prompt=str(row["question"]),
                profile=profile,
                correct=crux_correct(answer, str(row["answer"])),
                tokens=total,
                dataset="zeroeval-crux",
                gold=str(row["answer"]),
                extra={
                    "answer": answer,
                    "effort": effort,
                    "visible_tokens": visible,
                    "hidden_tokens_modelled": hidden,
                    "source_correct": labels.get((str(row["id"]), stem)),
                },
            )
