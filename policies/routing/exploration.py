"""The exploration share: which requests also run on a second profile, and how a pair is labelled.

Pure: the draws come in (the gateway seeds them per request id), the decisions go out. The
same functions serve the live gateway and anything that replays its choices offline.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from difficulty.answers import answers_match

__all__ = ["PairLabel", "exploration_draws", "choose_alternative", "label_pair"]


def exploration_draws(request_id: str, seed: int = 0) -> tuple[float, float]:
    """Two uniform draws in [0, 1) fixed by the request id and the seed: whether to explore,
    and which alternative."""
    rng = random.Random(f"{seed}:{request_id}")
    return rng.random(), rng.random()


def choose_alternative(
    share: float, draws: tuple[float, float], chosen: str, candidates: Sequence[str]
) -> str | None:
    """The profile to also run this request on (None: not explored). Explored when the first
    draw falls below `share`; the alternative is drawn uniformly from the other candidates
    (sorted, so the same draw picks the same profile whatever order the config lists)."""
    explore, pick = draws
    others = sorted(set(candidates) - {chosen})
    if not others or explore >= share:
        return None
    return others[min(int(pick * len(others)), len(others) - 1)]


@dataclass(frozen=True)
class PairLabel:
    """Whether each side of a pair was good (None: unknown) and what said so."""

    chosen: bool | None
    alternative: bool | None
    source: str | None  # "agreement", "judge" or None (awaiting client feedback)
    agree: bool | None  # whether the extracted answers agree (None: not both extracted)


def label_pair(
    chosen_answer: str | None,
    alternative_answer: str | None,
    chosen_grade: float | None = None,
    alternative_grade: float | None = None,
    judge_pass: float = 5.0,
) -> PairLabel:
    """Label a pair: two answers that agree are both counted good (two profiles rarely agree on
    a wrong answer; it happens on hard multiple choice); otherwise the judge's grades of both
    sides when both came; otherwise unlabelled."""
    agree = None
    if chosen_answer is not None and alternative_answer is not None:
        agree = answers_match(chosen_answer, alternative_answer)
        if agree:
            return PairLabel(True, True, "agreement", True)
    if chosen_grade is not None and alternative_grade is not None:
        good = (chosen_grade >= judge_pass, alternative_grade >= judge_pass)
        return PairLabel(*good, "judge", agree)
    return PairLabel(None, None, None, agree)
