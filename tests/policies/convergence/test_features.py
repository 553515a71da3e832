"""Checkpoint features: every stated value is a candidate, described by how settled it looks."""

from __future__ import annotations

from policies.convergence.features import FEATURE_NAMES, FeatureTracker


def _features(text: str, tokens: int = 200) -> dict[str, dict[str, float]]:
    seen = FeatureTracker().update(text, tokens)
    return {c.normalized: dict(zip(FEATURE_NAMES, f, strict=True)) for c, f in seen.options}


def test_every_stated_value_is_a_candidate_with_all_features() -> None:
    text = "First 4 + 5 = 9 apples.\nSo she has 9 apples. Then 9 * 2 = 18.\nSo the answer is 18.\n"
    options = _features(text)
    assert set(options) >= {"9", "18"}
    assert all(len(f) == len(FEATURE_NAMES) for f in options.values())
    assert options["18"]["explicit"] == 1.0 and options["9"]["explicit"] == 0.0
    assert options["18"]["latest_explicit"] == 1.0
    assert options["9"]["stated_result"] == 1.0
    # Statements of other values since 9 was last stated: the "= 18" step and the answer.
    assert options["9"]["log_others_after"] > options["18"]["log_others_after"]


def test_checks_and_doubts_are_counted_after_the_value() -> None:
    calm = _features("So the answer is 7.\nLet me verify that. Yes, correct.\n")["7"]
    doubt = _features("So the answer is 7.\nWait, alternatively maybe it is not.\n")["7"]
    assert calm["log_verify_after"] > 0 and calm["confirmed"] == 1.0
    checked = _features("So the answer is 7.\nLet me verify: 3 + 4 = 7. Correct.\n")["7"]
    assert checked["survived_check"] == 1.0  # restated after the check began
    assert calm["survived_check"] == 0.0
    assert doubt["log_alternatives_after"] > 0 and doubt["log_hesitation_after"] > 0
    assert doubt["confirmed"] == 0.0


def test_incremental_updates_match_one_update_on_the_whole_text() -> None:
    text = ("So the total is 12 dollars.\nWait, let me check: 5 + 7 = 12. Yes. " * 30) + "Done."
    tracker = FeatureTracker()
    for end in range(100, len(text), 173):
        tracker.update(text[:end], end // 4)
    last = tracker.update(text, len(text) // 4)
    whole = FeatureTracker().update(text, len(text) // 4)
    assert [c.normalized for c, _ in last.options] == [c.normalized for c, _ in whole.options]
    # Phrase counts and statements agree; only the checkpoint streak differs.
    streak = FEATURE_NAMES.index("log_streak")
    for (_, a), (_, b) in zip(last.options, whole.options, strict=True):
        assert a[:streak] + a[streak + 1 :] == b[:streak] + b[streak + 1 :]


def test_no_candidates_without_statements() -> None:
    assert FeatureTracker().update("I think about the problem for a while.", 10).options == ()


def test_intermediate_values_fed_into_later_steps_are_operands() -> None:
    text = (
        "Second year sales: 200 - 135 = 65. So 65 books were sold.\n"
        "65 books times $20 = $1300. So she earned $1,300 in total.\n"
        "Let me check again with more words after it so the numbers are read.\n"
    )
    options = _features(text)
    names = ("log_operand_after", "operand_share")
    assert all(options["65"][n] > options["1300"][n] for n in names)


def test_numbers_read_from_the_question_and_what_if_answers_are_marked() -> None:
    text = (
        "Together they caught 339. Let x be the count, so 9x - 21 = 339.\n"
        "So x = 40 and the total is 339.\n\n"
        "Alternatively, the count could be 121 and then the answer would be 111.\n\n"
        "So the answer is 147. And a few more words so every number is read here.\n"
    )
    options = _features(text)
    assert options["339"]["given"] == 1.0 and options["147"]["given"] == 0.0
    assert options["111"]["latest_conditional"] == 1.0
    assert options["147"]["latest_conditional"] == 0.0
