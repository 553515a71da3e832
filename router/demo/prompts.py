"""The demo's prompts: items recorded for both a direct and a thinking profile.

Bundled datasets are cut to the held-out split, the prompts the shipped difficulty model was
never trained on; a user's own outcome table is used whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from difficulty.answers import with_thinking
from difficulty.errors import InvalidInputError
from difficulty.outcomes import Outcome
from router.replay.catalog import normalise_prompt

__all__ = ["DemoPrompt", "NoDemoPromptsError", "pair_prompts", "recorded_text"]


class NoDemoPromptsError(InvalidInputError):
    """No item has recordings of both profiles."""

    code = "no_demo_prompts"


@dataclass(frozen=True)
class DemoPrompt:
    """One item with its direct and thinking recordings."""

    item_id: str
    prompt: str
    gold: str | None
    direct: Outcome
    think: Outcome


def recorded_text(outcome: Outcome) -> str:
    """A recording as one text: reasoning, closed, then the answer (how answers are graded)."""
    return with_thinking(outcome.reasoning, outcome.response or "")


def pair_prompts(
    outcomes: Sequence[Outcome],
    *,
    direct_profile: str,
    think_profile: str,
    holdout_only: bool,
    limit: int | None = None,
) -> list[DemoPrompt]:
    """Items recorded (with text) for both profiles, in id order, one per distinct prompt."""
    from difficulty.split import is_holdout

    profiles = {o.profile for o in outcomes}
    for name, option in ((direct_profile, "direct_profile"), (think_profile, "think_profile")):
        if name not in profiles:
            known = ", ".join(sorted(profiles)) or "none"
            raise NoDemoPromptsError(
                f"no recordings of profile {name!r} (recorded: {known})", param=option
            )
    rows: dict[str, dict[str, Outcome]] = {}
    for outcome in outcomes:
        if outcome.profile not in (direct_profile, think_profile):
            continue
        if outcome.reasoning is None and outcome.response is None:
            continue
        if holdout_only and not is_holdout(outcome.id):
            continue
        rows.setdefault(outcome.id, {}).setdefault(outcome.profile, outcome)
    prompts: list[DemoPrompt] = []
    seen: set[str] = set()
    for item_id in sorted(rows):
        pair = rows[item_id]
        if direct_profile not in pair or think_profile not in pair:
            continue
        think = pair[think_profile]
        key = normalise_prompt(think.prompt)
        if key in seen:  # the replay answers a prompt with its first recording only
            continue
        seen.add(key)
        direct = pair[direct_profile]
        prompts.append(DemoPrompt(item_id, think.prompt, think.gold or direct.gold, direct, think))
    if not prompts:
        split = " in the held-out split" if holdout_only else ""
        raise NoDemoPromptsError(
            f"no item{split} has recorded text for both {direct_profile!r} and {think_profile!r}"
        )
    return prompts[:limit] if limit is not None else prompts
