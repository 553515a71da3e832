"""Labelled ledger records as an outcome table, so a deployment retrains on its own traffic."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from difficulty.outcomes import Outcome
from router.ledger.record import LedgerRecord

__all__ = ["ExportResult", "labelled_outcomes", "LEDGER_DATASET"]

LEDGER_DATASET = "ledger"


@dataclass(frozen=True)
class ExportResult:
    """The outcome rows, and how many labelled records could not become one."""

    outcomes: list[Outcome]
    skipped_without_prompt: int  # prompt text was not stored (the config did not opt in)
    skipped_failed: int  # the request failed, so its label says nothing about a profile


def labelled_outcomes(records: Iterable[LedgerRecord]) -> ExportResult:
    """One outcome row per labelled, successful record whose prompt text was stored."""
    outcomes: list[Outcome] = []
    without_prompt = failed = 0
    for record in records:
        if record.feedback is None:
            continue
        if record.status >= 400 or record.error is not None:
            failed += 1
            continue
        if not record.prompt or not record.prompt.strip():
            without_prompt += 1
            continue
        outcomes.append(
            Outcome(
                id=record.request_id,
                prompt=record.prompt,
                profile=record.profile,
                correct=record.feedback,
                tokens=record.completion_tokens,
                dataset=LEDGER_DATASET,
                gold=record.gold,
                response=record.completion,
                extra={
                    "time": record.time,
                    "model": record.model,
                    "tokens_counted": record.tokens_counted,
                },
            )
        )
    return ExportResult(outcomes, without_prompt, failed)
