"""Demo prompts: items recorded for both profiles, held-out split for bundled data."""

from __future__ import annotations

import pytest

from difficulty.outcomes import Outcome
from difficulty.split import is_holdout
from router.demo.prompts import NoDemoPromptsError, pair_prompts, recorded_text


def row(item_id: str, profile: str, prompt: str | None = None, **text: str) -> Outcome:
    return Outcome(
        id=item_id,
        prompt=prompt or f"What is {item_id}?",
        profile=profile,
        correct=True,
        tokens=10,
        gold="1",
        reasoning=text.get("reasoning"),
        response=text.get("response", "\\boxed{1}"),
    )


def both(item_id: str, prompt: str | None = None) -> list[Outcome]:
    return [row(item_id, "fast", prompt), row(item_id, "slow", prompt, reasoning="hmm")]


def test_pairs_items_recorded_for_both_profiles_in_id_order() -> None:
    rows = both("b") + both("a") + [row("c", "fast")] + [row("d", "slow", reasoning="x")]
    prompts = pair_prompts(rows, direct_profile="fast", think_profile="slow", holdout_only=False)
    assert [p.item_id for p in prompts] == ["a", "b"]
    assert prompts[0].direct.profile == "fast" and prompts[0].think.profile == "slow"
    assert prompts[0].gold == "1"


def test_holdout_only_keeps_the_held_out_split() -> None:
    ids = [f"item-{i}" for i in range(60)]
    rows = [o for i in ids for o in both(i)]
    prompts = pair_prompts(rows, direct_profile="fast", think_profile="slow", holdout_only=True)
    assert {p.item_id for p in prompts} == {i for i in ids if is_holdout(i)}
    assert 0 < len(prompts) < len(ids)


def test_rows_without_text_are_skipped_and_prompts_deduplicated_and_limited() -> None:
    silent = Outcome("z", "What is z?", "fast", True, 1)
    rows = both("a", "Same?") + both("b", "Same?") + both("c") + both("e") + [silent]
    rows += [row("z", "slow", reasoning="r")]
    prompts = pair_prompts(
        rows, direct_profile="fast", think_profile="slow", holdout_only=False, limit=2
    )
    assert [p.item_id for p in prompts] == ["a", "c"]


def test_unknown_profile_and_no_pairs_are_errors() -> None:
    with pytest.raises(NoDemoPromptsError, match="no recordings of profile 'nope'"):
        pair_prompts(both("a"), direct_profile="nope", think_profile="slow", holdout_only=False)
    rows = [row("a", "fast"), row("b", "slow")]
    with pytest.raises(NoDemoPromptsError, match="no item has recorded text for both"):
        pair_prompts(rows, direct_profile="fast", think_profile="slow", holdout_only=False)


def test_recorded_text_closes_the_thinking_before_the_answer() -> None:
    thinking = row("a", "slow", reasoning="2 - 1 = 1", response="\\boxed{1}")
    assert recorded_text(thinking) == "2 - 1 = 1\n</think>\n\n\\boxed{1}"
    assert recorded_text(row("a", "fast")) == "\\boxed{1}"
