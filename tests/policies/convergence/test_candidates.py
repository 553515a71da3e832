"""Answer candidates in partial reasoning text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policies.convergence.candidates import KINDS, StatementScanner, clean_value, latest_candidate


def test_clean_value_keeps_the_answer_itself() -> None:
    assert clean_value("$12 left") == "$12"
    assert clean_value("6 mph") == "6"
    assert clean_value("likely 70 minutes") == "70"
    assert clean_value("$\\frac{1}{2}$") == "\\frac{1}{2}"
    assert clean_value("32 + 5*10 = 82 degrees") == "82"
    assert clean_value("400/11 seconds") == "400/11"
    assert clean_value("2x+3") == "2x+3"


def test_vague_or_hedged_values_are_not_candidates() -> None:
    assert clean_value("correct") is None
    assert clean_value("either 450 or 900") is None
    assert clean_value("not 50") is None
    assert latest_candidate("So the answer would be $600? But maybe not.", ("answer",)) is None


def test_formulas_in_words_and_unevaluated_arithmetic_are_not_candidates() -> None:
    assert clean_value("20000 over pi") is None
    assert clean_value("2! * 5! * 5!") is None
    assert clean_value("sqrt(66)") == "\\sqrt{66}"
    assert clean_value("√5 meters") == "\\sqrt5 meters"


def test_hedged_statements_are_hypotheses() -> None:
    assert latest_candidate("If the answer is 168, then it is the total. ", ("answer",)) is None
    assert latest_candidate("Maybe the answer is 318. ", ("answer",)) is None
    assert latest_candidate("The answer is 5 or 6 days. ", ("answer",)) is None
    stated = latest_candidate("So the answer is 318. But let me check. ", ("answer",))
    assert stated is not None and stated.text == "318"


def test_strongest_kind_wins_over_later_weaker_statements() -> None:
    text = "Therefore the total is 30. So the answer is 42. Then 2 + 3 = 5.\n"
    candidate = latest_candidate(text)
    assert candidate is not None
    assert (candidate.text, candidate.kind) == ("42", "answer")
    only_equals = latest_candidate(text, ("equals",))
    assert only_equals is not None and only_equals.text == "5"


def test_value_still_being_streamed_is_not_taken() -> None:
    assert latest_candidate("the answer is 54", ("answer",)) is None
    assert latest_candidate("the answer is 540.", ("answer",)) is not None
    assert latest_candidate("x = 54", ("equals",)) is None


def test_candidates_are_normalised() -> None:
    candidate = latest_candidate("The final answer is $1,200.00.\n")
    assert candidate is not None and candidate.normalized == "1200"


@given(st.lists(st.sampled_from(["So the answer is 12. ", "x = 3.\n", "hmm ", "\\boxed{7} "])))
def test_incremental_scanner_agrees_with_a_full_scan(parts: list[str]) -> None:
    scanner = StatementScanner(KINDS)
    text = ""
    for part in parts:
        text += part
        assert scanner.latest(text) == latest_candidate(text, KINDS)
