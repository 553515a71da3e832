"""A counterfactual record: one explored request answered by its chosen profile and, in the
background, by one other, with how each was labelled and what the second run cost.

The stores keep these beside the ledger records (SQLite table `counterfactual`, a Redis list)
and count their cost into the savings counters (`counterfactual_deltas`), which
`exploration_summary` renders for `/v1/savings`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from router.ledger.errors import LedgerFormatError

__all__ = ["PairSide", "CounterfactualRecord", "counterfactual_deltas", "exploration_summary"]


@dataclass
class PairSide:
    """One profile's answer to an explored request."""

    profile: str
    answer: str | None  # the extracted final answer (difficulty.answers), if any
    good: bool | None  # the label (None: unknown)
    prompt_tokens: int
    completion_tokens: int
    cost: float  # in money, at the profile's prices
    grade: float | None = None  # the judge's 0-10 grade, when it was asked
    description: dict[str, str] | None = None  # {"effort", "strength"} as configured
    p_correct: float | None = None  # what the serving model predicted at decision time


@dataclass
class CounterfactualRecord:
    """The pair for one request id; `prompt` is kept only when the ledger stores text (training
    on these pairs needs it: the difficulty model reads the prompt)."""

    request_id: str
    time: float
    chosen: PairSide
    alternative: PairSide
    label: str | None  # "agreement", "judge" or None (awaiting client feedback)
    agree: bool | None
    judge: str | None = None
    judge_prompt_tokens: int = 0
    judge_completion_tokens: int = 0
    judge_cost: float = 0.0
    prompt: str | None = None
    error: str | None = None  # why the alternative (or judge) failed, if it did

    @property
    def cost(self) -> float:
        """What exploring this request cost beyond answering it: the second run and the judge."""
        return self.alternative.cost + self.judge_cost

    def dumps(self) -> str:
        """The record as one line of compact JSON."""
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, row: Mapping[str, Any] | str | bytes) -> CounterfactualRecord:
        """Read a record from a dict or JSON text; unknown keys are ignored."""
        try:
            data = json.loads(row) if isinstance(row, str | bytes) else dict(row)
            known = {f.name for f in fields(cls)}
            values = {k: v for k, v in data.items() if k in known}
            sides = {f.name for f in fields(PairSide)}
            for side in ("chosen", "alternative"):
                values[side] = PairSide(**{k: v for k, v in data[side].items() if k in sides})
            return cls(**values)
        except (ValueError, TypeError, KeyError) as exc:
            raise LedgerFormatError(f"counterfactual record is not valid: {exc}") from None


def counterfactual_deltas(
    record: CounterfactualRecord,
) -> list[tuple[Literal["counters"], str, int | float]]:
    """The savings counters one counterfactual record moves (router.ledger.savings)."""
    alt = record.alternative
    deltas: list[tuple[Literal["counters"], str, int | float]] = [
        ("counters", "exploration:runs", 1),
        ("counters", "exploration:prompt_tokens", int(alt.prompt_tokens)),
        ("counters", "exploration:completion_tokens", int(alt.completion_tokens)),
        ("counters", "exploration:cost", float(record.cost)),
    ]
    if record.judge_prompt_tokens or record.judge_completion_tokens:
        deltas += [
            ("counters", "exploration:judge_prompt_tokens", int(record.judge_prompt_tokens)),
            ("counters", "exploration:judge_tokens", int(record.judge_completion_tokens)),
        ]
    if record.label is not None:
        deltas.append(("counters", f"exploration:label:{record.label}", 1))
    if record.error is not None:
        deltas.append(("counters", "exploration:failed", 1))
    return deltas


def exploration_summary(
    counters: Mapping[str, float], saved_tokens: float, saved_cost: float
) -> dict[str, Any]:
    """`/v1/savings`' `exploration` block: what the background runs and judge calls spent, and
    the savings net of it (completion tokens; money counts prompt tokens too)."""
    c = counters
    completion = int(round(c.get("exploration:completion_tokens", 0)))
    judge = int(round(c.get("exploration:judge_tokens", 0)))
    cost = round(float(c.get("exploration:cost", 0.0)), 9) + 0.0
    labels = {
        name.rsplit(":", 1)[1]: int(round(v))
        for name, v in sorted(c.items())
        if name.startswith("exploration:label:")
    }
    return {
        "runs": int(round(c.get("exploration:runs", 0))),
        "labelled": labels,
        "failed": int(round(c.get("exploration:failed", 0))),
        "prompt_tokens": int(round(c.get("exploration:prompt_tokens", 0))),
        "completion_tokens": completion,
        "judge_prompt_tokens": int(round(c.get("exploration:judge_prompt_tokens", 0))),
        "judge_completion_tokens": judge,
        "cost": cost,
        "net_saved_tokens": round(saved_tokens - completion - judge, 3) + 0.0,
        "net_saved_cost": round(saved_cost - cost, 9) + 0.0,
    }
