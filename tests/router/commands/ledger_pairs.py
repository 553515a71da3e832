"""Counterfactual ledgers built from a bundled dataset: each item's outcomes on two of its
models become one pair, written through the ledger API (for the `train --from-ledger` tests)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from difficulty.datasets import load_dataset
from difficulty.descriptions import SOURCE_MODELS, Description
from difficulty.outcomes import Outcome
from difficulty.split import is_holdout
from router.ledger.base import open_ledger
from router.ledger.counterfactual import CounterfactualRecord, PairSide


def dataset_pairs(
    dataset: str,
    chosen: str,
    alternative: str,
    limit: int,
    *,
    unseen: bool = True,
    describe: dict[str, Description] | None = None,
) -> list[CounterfactualRecord]:
    """Up to `limit` pairs with both models' recorded labels, as a judge would have given them,
    and the general model's descriptions of the two models. `unseen`: only items of the held-out
    split (difficulty.split), which no shipped model trained on, as an operator's prompts are.
    `describe` overrides a model's description (as an operator's config might state it)."""
    rows: dict[str, dict[str, Outcome]] = defaultdict(dict)
    for row in load_dataset(dataset):
        if row.correct is not None:
            rows[row.id][row.profile] = row
    pairs: list[CounterfactualRecord] = []
    items = [i for i, by in rows.items() if chosen in by and alternative in by]
    if unseen:
        items = [i for i in items if is_holdout(i)]
    for n, item in enumerate(items[:limit]):
        sides = []
        for name in (chosen, alternative):
            row, d = rows[item][name], (describe or SOURCE_MODELS)[name]
            sides.append(
                PairSide(
                    name,
                    None,
                    bool(row.correct),
                    0,
                    int(row.tokens or 0),
                    0.0,
                    grade=10.0 if row.correct else 0.0,
                    description={"effort": d.effort, "strength": d.strength},
                )
            )
        pairs.append(
            CounterfactualRecord(
                f"{dataset}-{item}", 1_700_000_000.0 + n, sides[0], sides[1], "judge", None,
                prompt=rows[item][chosen].prompt,
            )
        )  # fmt: skip
    return pairs


def write_pairs(url: str, pairs: list[CounterfactualRecord]) -> None:
    """Append the pairs to the ledger at `url`."""

    async def write() -> None:
        ledger = open_ledger(url)
        try:
            for pair in pairs:
                await ledger.append_counterfactual(pair)  # type: ignore[attr-defined]
        finally:
            await ledger.close()

    asyncio.run(write())
