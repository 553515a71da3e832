"""Tests of the answer normaliser: extraction, normal forms and equivalence."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from difficulty.answers import (
    answer_value,
    answers_match,
    extract_answer,
    normalize_answer,
    stated_answer,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so the total is \\boxed{42}.", "42"),
        ("first \\boxed{1} then \\boxed{\\frac{a}{b^{2}}} done", "\\frac{a}{b^{2}}"),
        ("He runs 9*60=<<9*60=540>>540 meters\n#### 540", "540"),
        ("#### 1,234", "1,234"),
        ("The answer is 540 meters per week.", "540"),
        ("The answer is: 42", "42"),
        ("Final Answer: The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
        ("Reasoning...\nAnswer: (C) because of X", "C"),
        ("The answer is B.", "B"),
        ("We get 3 and then 4.5 in the end", "4.5"),
        ("<think>the answer is 3</think> So \\boxed{4}.", "4"),
        ("<think>I think \\boxed{7}</think>", "7"),
        ("The value is 2.5, so the answer is 2.5.", "2.5"),
        ("The answer is 3. Miranda spent $21, while Savannah spent $18.", "3"),
        ("The answer is 24 - 6 = 18.", "18"),
        ("If 2016, the answer is 02/29/2016. If 2020, the answer is 02/29/2020.", "02/29/2020"),
        ("So the final answer is 720 / 6. So the answer is (b).", "B"),
        ("**Answer:** Cynthia will spend $16.00 on ice cream after 60 days.", "16.00"),
        ("**Answer:** Gerald can now run the 400-meter hurdles in 36 seconds.", "36"),
        ("Then 7x = 392, so x = 56.\n\nTherefore, Frank answered 56 questions correctly.", "56"),
        ("Thus, the rotated point is w = 6 − 5i.", "6 - 5i"),
        ("So 9 * $2 = $<<9*2=18>>18 every day.", "18"),
        ("Thus x = 2. Then we add 5 and get 7 in the end", "7"),
        ("Thus, the rotated point is  \nw = 6 − 5i.", "6 - 5i"),
        ("Therefore, the correct choice is\n\n(B).", "B"),
        ("Thus, the radius is:\n\u2003r = √5 meters.", "\\sqrt{5}"),
        ("**Answer:** The 720 grams of cat food will last for **4 days**.", "4"),
        ("**Answer:** Mr. Josue now has $17000 in capital.", "17000"),
        # An "Answer:" line that heads an explanation (s1.1's form): the value comes at the end.
        (
            "Answer: There are 50 books in total. Half of them are in English, 25 books. "
            "\n\nThus, the number of Spanish books is **20**.",
            "20",
        ),
        (
            "Answer: The toy's price in November was $40. Then it rose by 80% to $72 and fell "
            "by half. Therefore, the final price was **$36**.",
            "36",
        ),
        # ... but one whose sentence marks its value, or states a bare value, is the answer.
        (
            "**Answer:** The difference between their scores is **-25**. This means Emma "
            "scored 25 points higher.",
            "-25",
        ),
        ("Answer: 42\n\nBecause 40 + 2 = 42 and thus 42 it is.", "42"),
        ("**Answer:** Ali now has $71.\n", "71"),  # short words are prose around a value too
        ('**Answer:** Jackie was 67" tall before summer.', "67"),  # inches
        ("Answer: The total is 12. Working: 5 + 7 = 12, and 12 - 0 = 12.", "12"),
        ("no digits here at all", None),
        ("", None),
        # A clock time is one value, not its minutes ("45").
        ("You should leave at 3:45 pm.", "3:45 pm."),
        ("So the train arrives at 10:30 am.", "10:30 am"),
        ("By 16:00, 1000 people had not voted, so the polls closed at 16:00", "16:00"),
        ("The ratio is 1:2", "2"),
    ],
)
def test_extract_answer(text: str, expected: str | None) -> None:
    found = extract_answer(text)
    if expected is None:
        assert found is None
    else:
        assert answers_match(found, expected), found


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        ("\\tfrac12", "0.5"),
        ("1/2", "\\frac{1}{2}"),
        ("1,000", "1000"),
        ("1{,}000", "1000"),
        ("18.00", "18"),
        ("$18", "18 dollars"),
        ("\\$18.50", "18.5"),
        ("90^\\circ", "90"),
        ("90^{\\circ}", "90 degrees"),
        ("50\\%", "50"),
        ("x = 5", "5"),
        ("\\text{(B)}", "B"),
        ("(b)", "B"),
        ("\\left( 1, 2 \\right)", "(1,2)"),
        ("1, 2", "2,1"),
        ("\\frac{\\sqrt{3}}{2}", "\\sqrt{3}/2"),
        ("2\\sqrt{2}", "\\sqrt{8}"),
        ("\\boxed{7}", "7"),
        ("$\\frac{3}{4}$", "0.75"),
        ("\\text{Evelyn}", "evelyn"),
        ("-0.0", "0"),
        ("5 \\text{ cm}^2", "5"),
        ("\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}", "(-1/3,2/3)"),
        ("\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}", "(1&0,0&1)"),
        ("\\frac9{19}", "9/19"),
        ("\\frac{270}7\\text{ degrees}", "\\frac{270}{7}"),
        ("x \\in [-2,7]", "[-2,7]"),
        ("√66", "\\sqrt{66}"),
        ("20000/π", "\\frac{20000}{\\pi}"),
        ("6 − 5i", "6-5i"),
        ("yes", "True"),
        ("€77", "77"),
        ("\\{1\\pm\\sqrt{5},-2\\}", "\\{-2, 1 - \\sqrt{5}, 1 + \\sqrt{5}\\}"),
        ("{ -2, 1 + \\sqrt{5}, 1 - \\sqrt{5} }", "-2, 1\\pm\\sqrt{5}"),
        ("203,", "203"),
        ("5x - 7y + 11z + 4 = 0", "5x-7y+11z+4=0"),
        ("xy + yz + zx = 6", "6"),
        ("no", "false"),
        ("3:45 pm", "15:45"),
        ("03:45", "3:45 a.m."),
        ("12:05 AM", "0:05"),
    ],
)
def test_equivalent_answers_match(a: str, b: str) -> None:
    assert answers_match(a, b)
    assert answers_match(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("10", "100"),
        ("1/2", "1/3"),
        ("(1,2)", "(2,1)"),
        ("A", "B"),
        ("\\sqrt{2}", "\\sqrt{3}"),
        ("1, 2", "1, 3"),
        (None, "3"),
        ("0", "5x-7y+11z+4=0"),
        ("3R^2", "3"),
        ("sister-in-law", "sister"),
        ("", ""),
        ("3:45 pm", "4:45 pm"),  # read as their minutes, these two once agreed
        ("3:45 pm", "3:45 am"),
        ("2:00 pm", "00"),
    ],
)
def test_different_answers_do_not_match(a: str | None, b: str | None) -> None:
    assert not answers_match(a, b)


def test_answer_value_of_closed_forms() -> None:
    assert answer_value("\\frac{1}{4}") == pytest.approx(0.25)
    assert answer_value("3\\pi") == pytest.approx(9.42477796)
    assert answer_value("x + 1") is None


_integers = st.integers(min_value=-(10**9), max_value=10**9)


def _with_thousands(n: int) -> str:
    return f"{n:,}"


@given(_integers)
def test_integer_spellings_match(n: int) -> None:
    spellings = [
        str(n),
        _with_thousands(n),
        f"{n}.00",
        f"${n}$",
        f"\\boxed{{{n}}}",
        f"{n} dollars",
        f"x = {n}",
        f"\\text{{{n}}}",
    ]
    for s in spellings:
        assert answers_match(s, str(n)), s


@given(st.integers(min_value=-500, max_value=500), st.integers(min_value=1, max_value=500))
def test_fraction_spellings_match(p: int, q: int) -> None:
    value = Fraction(p, q)
    sign = "-" if p < 0 else ""
    spellings = [
        f"{sign}\\frac{{{abs(p)}}}{{{q}}}",
        f"{sign}\\dfrac{{{abs(p)}}}{{{q}}}",
        f"\\tfrac{{{p}}}{{{q}}}",
        f"{p}/{q}",
        f"$\\frac{{{p}}}{{{q}}}$",
    ]
    for s in spellings:
        assert answer_value(s) == pytest.approx(float(value)), s
        assert answers_match(s, f"{value.numerator}/{value.denominator}"), s


@given(st.decimals(min_value=-10000, max_value=10000, places=3, allow_nan=False))
def test_trailing_zeros_do_not_matter(d: object) -> None:
    text = str(d)
    assert answers_match(text, text + "000" if "." in text else text + ".000")


_answer_text = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"\\(d|t)?frac\{-?\d{1,3}\}\{\d{1,3}\}", fullmatch=True),
    st.from_regex(r"-?\d{1,3}(,\d{3}){0,2}(\.\d{1,3})?", fullmatch=True),
    st.from_regex(r"\$?\\boxed\{[a-z0-9+\-=., ]{1,12}\}\$?", fullmatch=True),
)


@given(_answer_text)
def test_normalisation_is_idempotent(s: str) -> None:
    once = normalize_answer(s)
    assert normalize_answer(once) == once


@given(_answer_text, _answer_text)
def test_match_is_symmetric(a: str, b: str) -> None:
    assert answers_match(a, b) == answers_match(b, a)


@given(_answer_text)
def test_match_is_reflexive_for_nonempty_answers(s: str) -> None:
    if normalize_answer(s):
        assert answers_match(s, s)


_prose = st.text(
    alphabet=st.sampled_from(list("ab $=.,:*()-\n1234567890xTheanswris")), max_size=400
)


@given(_prose)
def test_extraction_is_fast_and_total_on_any_text(text: str) -> None:
    # Hypothesis's deadline (200 ms) turns catastrophic regex backtracking into a failure.
    found = extract_answer(text)
    assert found is None or isinstance(found, str)
    answers_match(found, "1")


TIPS = (
    "Here are three tips for better sleep:\n1. Keep a regular schedule.\n"
    "2. Avoid screens before bed.\n3. Keep your room cool."
)
EMAIL = (
    "Dear Ms. Patel,\n\nI am writing to let you know that my son Daniel, in Year 4, has a dentist "
    "appointment on Thursday afternoon, so I will pick him up from school at 1:30. He should be "
    "back in class on Friday morning. Please let me know if there is anything he needs to catch "
    "up on or any form I should sign.\n\nThank you for your understanding,\nAnna"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TIPS * 3, None),  # a long list: its last item number is no answer
        (EMAIL, None),  # a time mentioned in a long email is no answer either
        ("15% of 240 is 36.", "36"),  # short: its value is its answer
        (TIPS, "3"),  # ... even when it is a list (short texts agree only by their values)
        (EMAIL + "\n\n" + "The answer is 42.", "42"),  # an announced answer always counts
        (
            "Aaron has 20 + 5 = 25 jewels. " * 12 + "\n\nSiobhan has 25 - 2 = 23 jewels.",
            "23",  # a long worked answer whose closing line states the value
        ),
    ],
)
def test_stated_answer_ignores_incidental_numbers_of_long_free_form_text(
    text: str, expected: str | None
) -> None:
    assert stated_answer(text) == expected
    assert extract_answer(text) is not None  # the reader still finds a last value
