"""Outcome rows pivoted to items: one prompt per item id, a column per profile."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from difficulty.errors import InvalidInputError, NotFoundError
from difficulty.outcomes import Outcome

__all__ = ["ItemTable"]


@dataclass(frozen=True, eq=False)
class ItemTable:
    """Items in first-seen order; `correct` and `tokens` are (n_items, n_profiles), nan if absent.

    Repeated (item, profile) rows are averaged, so `correct` may hold a success rate.
    """

    item_ids: list[str]
    prompts: list[str]
    profiles: list[str]
    correct: np.ndarray
    tokens: np.ndarray

    @classmethod
    def from_outcomes(
        cls, outcomes: Sequence[Outcome], profiles: Sequence[str] | None = None
    ) -> ItemTable:
        """Pivot outcome rows; `profiles` keeps only those (unknown names raise NotFoundError)."""
        if not outcomes:
            raise InvalidInputError("no outcome rows to learn from")
        seen_profiles = list(dict.fromkeys(o.profile for o in outcomes))
        if profiles is None:
            chosen = seen_profiles
        else:
            missing = [p for p in profiles if p not in seen_profiles]
            if missing:
                known = ", ".join(seen_profiles)
                raise NotFoundError(f"unknown profile '{missing[0]}' (the outcomes have: {known})")
            chosen = list(profiles)
        col = {p: j for j, p in enumerate(chosen)}
        index: dict[str, int] = {}
        prompts: list[str] = []
        for o in outcomes:
            if o.profile not in col:
                continue
            if o.id not in index:
                index[o.id] = len(prompts)
                prompts.append(o.prompt)
            elif prompts[index[o.id]] != o.prompt:
                raise InvalidInputError(f"item '{o.id}' appears with two different prompts")
        shape = (len(prompts), len(chosen))
        c_sum, c_n = np.zeros(shape), np.zeros(shape)
        t_sum, t_n = np.zeros(shape), np.zeros(shape)
        for o in outcomes:
            j = col.get(o.profile)
            if j is None:
                continue
            i = index[o.id]
            if o.correct is not None:
                c_sum[i, j] += float(o.correct)
                c_n[i, j] += 1
            if o.tokens is not None:
                t_sum[i, j] += float(o.tokens)
                t_n[i, j] += 1
        with np.errstate(invalid="ignore", divide="ignore"):
            correct = np.where(c_n > 0, c_sum / np.maximum(c_n, 1), np.nan)
            tokens = np.where(t_n > 0, t_sum / np.maximum(t_n, 1), np.nan)
        return cls(list(index), prompts, chosen, correct, tokens)

    def __len__(self) -> int:
        return len(self.item_ids)

    def subset(self, rows: np.ndarray) -> ItemTable:
        """The items at integer positions or boolean mask `rows`, order kept."""
        idx = np.arange(len(self))[rows]
        return ItemTable(
            [self.item_ids[i] for i in idx],
            [self.prompts[i] for i in idx],
            list(self.profiles),
            self.correct[idx],
            self.tokens[idx],
        )

    def fingerprint(self) -> str:
        """A sha256 of the training data (ids, prompts, labels), stored with a saved model."""
        h = hashlib.sha256()
        h.update(json.dumps(self.profiles).encode())
        for i, (item, prompt) in enumerate(zip(self.item_ids, self.prompts, strict=True)):
            h.update(item.encode() + b"\0" + prompt.encode() + b"\0")
            h.update(np.nan_to_num(self.correct[i], nan=-1.0).tobytes())
            h.update(np.nan_to_num(self.tokens[i], nan=-1.0).tobytes())
        return h.hexdigest()
