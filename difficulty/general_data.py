"""Training rows of the general model: every bundled source's outcomes, each source's models
mapped onto descriptions (difficulty.descriptions), the held-out split left out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from difficulty.descriptions import Description, describe_source_model
from difficulty.outcomes import Outcome

__all__ = ["GENERAL_SOURCES", "DescribedRows", "described_rows"]

# Sources with outcomes for described models. Left out: boinf-aime2024 (the held-out
# competition set of bench/general_figures.py), math-train and mip-missing-premise (no
# outcomes), thought-branches and qwen25-math-eval (one averaged profile each: no contrast).
GENERAL_SOURCES: tuple[str, ...] = (
    "faithful-cot",
    "routellm-gsm8k",
    "routellm-mmlu",
    "mip-gsm8k",
    "mip-math",
    "boinf-math500",
    "alpacaeval",
    "zeroeval-crux",
    "routellm-mt-bench",
)


@dataclass(frozen=True, eq=False)
class DescribedRows:
    """One row per (item, described model): prompt index, description, outcome, source."""

    prompts: list[str]  # distinct prompts; rows point into this list
    prompt_index: np.ndarray  # (n,) int
    strength: np.ndarray  # (n,) float: Description.strength_level
    effort: list[str]  # (n,)
    correct: np.ndarray  # (n,) float, nan: unknown
    tokens: np.ndarray  # (n,) float, nan: unknown
    source: list[str]  # (n,)

    def __len__(self) -> int:
        return int(self.prompt_index.shape[0])

    def subset(self, mask: np.ndarray) -> DescribedRows:
        """The rows where `mask` holds (prompts kept whole)."""
        idx = np.flatnonzero(mask)
        return DescribedRows(
            self.prompts,
            self.prompt_index[idx],
            self.strength[idx],
            [self.effort[i] for i in idx],
            self.correct[idx],
            self.tokens[idx],
            [self.source[i] for i in idx],
        )


def described_rows(
    outcomes: Sequence[Outcome],
    *,
    max_items_per_source: int | None = None,
    describe: dict[str, Description] | None = None,
) -> DescribedRows:
    """Rows of `outcomes` whose profile has a description (`describe` first, then the bundled
    mapping); at most `max_items_per_source` items of each dataset (the first by a stable hash)."""
    import hashlib

    keep: set[tuple[str, str]] | None = None
    if max_items_per_source is not None:
        by_source: dict[str, set[str]] = {}
        for o in outcomes:
            by_source.setdefault(o.dataset, set()).add(o.id)
        keep = set()
        for source, ids in by_source.items():
            ranked = sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())
            keep.update((source, i) for i in ranked[:max_items_per_source])
    index: dict[str, int] = {}
    prompts: list[str] = []
    pi, st, ef, co, tk, so = [], [], [], [], [], []
    for o in outcomes:
        d = (describe or {}).get(o.profile) or describe_source_model(o.profile)
        if d is None or (o.correct is None and o.tokens is None):
            continue
        if keep is not None and (o.dataset, o.id) not in keep:
            continue
        j = index.setdefault(o.prompt, len(prompts))
        if j == len(prompts):
            prompts.append(o.prompt)
        pi.append(j)
        st.append(d.strength_level)
        ef.append(d.effort)
        co.append(np.nan if o.correct is None else float(o.correct))
        tk.append(np.nan if o.tokens is None else float(o.tokens))
        so.append(o.dataset)
    return DescribedRows(
        prompts,
        np.asarray(pi, dtype=np.int64),
        np.asarray(st, dtype=np.float64),
        ef,
        np.asarray(co, dtype=np.float64),
        np.asarray(tk, dtype=np.float64),
        so,
    )
