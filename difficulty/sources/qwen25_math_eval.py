"""Qwen2.5-Math's reward-model example: 100 MATH problems x 8 sampled solutions, each scored.

`eval_rm_maj_example/math_cot_100.jsonl` is the file Qwen2.5-Math's harness computes maj@8 and
rm@8 on. Each row holds 8 sampled chain-of-thought responses, the harness's extracted answers
(`pred`), its verdicts (`score`) and one reward-model score per response (`pred_score`); the
file names neither the generator nor the reward model.

One outcome row per problem: ``samples`` keep every response with its answer, tokens (counted
by `difficulty.tokens`) and reward score; ``correct`` is whether the FIRST sample is right by
thinkgate's normaliser (the harness's verdicts are kept in ``extra.source_correct``);
``tokens`` is the mean sample cost.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from difficulty.answers import answers_match
from difficulty.outcomes import Outcome, Sample
from difficulty.tokens import count_tokens

__all__ = ["FILE", "PROFILE", "DATASET", "qwen25_math_eval_outcomes"]

FILE = Path("qwen25-math-eval/evaluation/data/eval_rm_maj_example/math_cot_100.jsonl")
DATASET = "qwen25-math-eval"
# The generator is not named in the file: the profile says what it is, sampled CoT.
PROFILE = "math-cot-sampled"


def _level(raw: Any) -> int | None:
    text = str(raw or "").removeprefix("Level ").strip()
    return int(text) if text.isdigit() else None


def _outcome(record: dict[str, Any]) -> Outcome:
    gold = str(record["gt"])
    samples = tuple(
        Sample(
            answer=str(pred) if pred not in (None, "") else None,
            tokens=count_tokens(text),
            score=float(score[0]),
            text=text,
        )
        for pred, text, score in zip(
            record["pred"], record["response"], record["pred_score"], strict=True
        )
    )
    spent = [s.tokens or 0 for s in samples]
    return Outcome(
        id=f"math-cot-100-{int(record['idx']):03d}",
        prompt=str(record["question"]),
        profile=PROFILE,
        correct=answers_match(samples[0].answer, gold),
        tokens=round(sum(spent) / len(spent)),
        dataset=DATASET,
        gold=gold,
        samples=samples,
        extra={
            "level": _level(record.get("level")),
            "system": record.get("system"),
            "source_correct": [bool(s) for s in record["score"]],
        },
    )


def qwen25_math_eval_outcomes(shared: Path) -> Iterator[Outcome]:
    """Rows of ``qwen25-math-eval``: one per problem, with its 8 scored samples."""
    with (shared / FILE).open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield _outcome(json.loads(line))
