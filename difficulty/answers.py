"""The answer normaliser: pull the final answer out of a response and decide equivalence.

One implementation used everywhere (outcome building, the simulator's votes, the convergence
watcher), so that "correct" means the same thing in every figure thinkgate reports.
"""

from __future__ import annotations

import math
import re

from difficulty._closed_form import closed_form_value
from difficulty._latex import canonical_number, last_boxed, strip_delimiters, unicode_to_latex

__all__ = [
    "THINK_OPEN",
    "THINK_CLOSE",
    "extract_answer",
    "stated_answer",
    "SHORT_ANSWER_WORDS",
    "normalize_answer",
    "answers_match",
    "answer_value",
    "with_thinking",
]

# The tags reasoning models wrap their thinking in, when it comes inside the text.
THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
_HASHES = re.compile(r"####\s*([^\n]*)")
# The phrase is captured inside a lookahead so that later mentions on the same line still match
# (hedged texts: "if 2016, the answer is X. If 2020, the answer is Y").
_ANSWER_PATTERNS = (
    re.compile(r"final\s+answer\s*(?:is|:|：)?\s*:?\s*(?=(.+))", re.IGNORECASE),
    re.compile(r"^[\s*#>]*answer\s*\**\s*[:：]\s*\**\s*(?=(.+)$)", re.IGNORECASE | re.MULTILINE),
    re.compile(r"answer\s+(?:is|would be|will be|=)\s*:?\s*(?=(.+))", re.IGNORECASE),
)
_HEADER = 1  # the index in _ANSWER_PATTERNS of the "Answer:" line pattern
# A prose opening sentence after an "Answer:" line: a heading over an explanation, not a value.
_HEADER_PROSE_WORDS = 2
# "(B)", "B)", "B.", "B" alone, or "B because ..." (but "A total of ..." is the article).
_CHOICE = re.compile(
    r"^\**\s*(?:\(([A-Ea-e])\)|([A-E])(?:[).:]|\s*$)|([B-E])\s+(?=\S)|(A)\s+(?=[^a-z]))"
)
# A clock time ("3:45", "10:30 a.m.", "15:45:10") is one value, not an hour and a minute.
_CLOCK_TIME = r"\d{1,2}:[0-5]\d(?::[0-5]\d)?(?:\s*[ap]\.?\s?m\b\.?)?"
_CLOCK = re.compile(_CLOCK_TIME, re.I)
_NUMBER = re.compile(
    rf"(?<![\d:]){_CLOCK_TIME}(?![\d:])|-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+", re.I
)
_LIST_MARKER = re.compile(r"^\s*(?:\d+[.)]|[-*•])\s+")
_MATH_SPAN = re.compile(r"\$\$?(.+?)\$\$?|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)

_PLAIN_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_FRACTION = re.compile(r"^([+-]?\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)$")
_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|operatorname)\s*\{([^{}]*)\}")
_UNIT_WORD = r"[a-z]{2,}\.?(?:\^\{?\d\}?)?"
_UNIT_TAIL = re.compile(rf"^([+-]?[\d.,/]+)\s*{_UNIT_WORD}(?:\s+{_UNIT_WORD})*\s*$")
_CALCULATOR = re.compile(r"<<[^<>]*>>")  # GSM8K calculator annotations
_CONCLUSION = re.compile(
    r"(?:^|[.!:\n]\s*)(?:thus|therefore|hence|so|in conclusion|consequently|finally),?\s+"
    r"(?=([^\n]+))",
    re.IGNORECASE,
)
# A sentence ends at a period that is not a decimal point nor an abbreviation ("Mr. Josue").
_SENTENCE_END = re.compile(
    r"(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bMrs)(?:(?<!\d)\.(?!\d)|\.(?=\s|$))|\n"
)
_PARAGRAPH_END = re.compile(
    r"(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bMrs)(?:(?<!\d)\.(?!\d)|\.(?=\s|$))|\n\s*\n"
)
_BOLD_VALUE = re.compile(r"\*\*([^*]*\d[^*]*)\*\*")
_SPARE_WORD = re.compile(r"(?<![\\\w])(?:[a-zA-Z]{2,}|a)(?![\w{(])")  # a word, not a LaTeX name
_YES_NO = {"true": "yes", "false": "no"}
_PROSE_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{4,}")
# Short words count as prose around a value too ("Ali now has $71"), LaTeX names not.
_SENTENCE_WORDS = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}\s+\S")
_SIMPLE_FRAC = re.compile(r"\\frac\s*\{\s*([+-]?\d+(?:\.\d+)?)\s*\}\s*\{\s*(\d+(?:\.\d+)?)\s*\}")
_SHORT_FRAC = re.compile(r"\\frac\s*(\d)\s*(\d)")
_HALF_BRACED_FRAC = (
    re.compile(r"\\frac(\d)\{"),  # \frac9{19}
    re.compile(r"\\frac(\{[^{}]*\})(\d)"),  # \frac{270}7
)
_MATRIX = re.compile(r"\\begin\{[pb]matrix\}(.*?)\\end\{[pb]matrix\}", re.DOTALL)
_SET_PREFIX = re.compile(r"^[a-z]\s*\\in\s*")
_SQRT_BARE = re.compile(r"\\sqrt\s*(\d+|[a-z])")
_SPACING = re.compile(r"\\[,;:! ]|\\q?quad|~")
_WORD_UNITS = re.compile(
    r"\b(?:dollars?|cents?|units?|degrees?|percent|meters?|inches|feet|hours?|minutes?|"
    r"seconds?|miles?|pounds?|square|sq|cm|km|kg|mph)\b\.?(?:\^\{?\d\}?)?"
)


def _strip_words(phrase: str) -> str:
    """Drop words around a value: "approximately 39.5 USD" -> "39.5"."""
    if not re.search(r"\d", phrase):
        return phrase
    while True:
        trimmed = re.sub(r"\s+[^\s\d\\$]{2,}$|\s+a$", "", phrase)
        trimmed = re.sub(r"^[A-Za-z']+:?\s+(?=.*\d)", "", trimmed)
        if trimmed == phrase:
            return phrase
        phrase = trimmed


def _first_value(prose: str) -> str | None:
    """The number a sentence states: the first ("spend $16 after 60 days"), skipping compound
    adjectives ("the 400-meter hurdles in 36 seconds")."""
    for m in _NUMBER.finditer(prose):
        if not re.match(r"-[A-Za-z]", prose[m.end() :]):
            return m.group(0)
    return None


def _clean_phrase(phrase: str) -> str:
    """The words after "the answer is" as an answer: their math span, choice or value."""
    phrase = unicode_to_latex(phrase).strip()
    boxed = last_boxed(phrase)
    if boxed:
        return boxed
    math_span = _MATH_SPAN.search(phrase)
    if math_span:
        content = next(g for g in math_span.groups() if g is not None).strip()
        # "$21, while Savannah spent $18" is prose about money, not a math span.
        if not _PROSE_WORD.search(_TEXT_CMD.sub("", content)):
            return content
    phrase = phrase.strip("*: ")
    choice = _CHOICE.match(phrase)
    if choice:
        return next(g for g in choice.groups() if g).upper()
    # Stop at the end of the sentence (a period not inside a decimal number).
    phrase = _SENTENCE_END.split(phrase, maxsplit=1)[0].strip()
    bold = _BOLD_VALUE.search(phrase)
    if bold:
        return _clean_phrase(bold.group(1))  # "will last for **4 days**"
    phrase = phrase.replace("*", " ").strip() if "**" in phrase else phrase
    if (_PROSE_WORD.search(phrase) or _SENTENCE_WORDS.search(phrase)) and re.search(r"\d", phrase):
        # Prose around a value: what follows the last "=" or " is ", without the words.
        for marker in ("=", " is ", " are ", " be "):
            tail = phrase.rsplit(marker, 1)[-1].strip()
            if marker in phrase and re.search(r"\d", tail):
                phrase = tail
                break
        phrase = _strip_words(phrase)
        if _SPARE_WORD.search(_TEXT_CMD.sub("", phrase)):
            return _first_value(phrase) or phrase
    return phrase


def _conclusion(text: str) -> str | None:
    """The value stated by the last "Thus/Therefore/Hence/So ..." sentence, if any."""
    found = list(_CONCLUSION.finditer(text))
    if not found:
        return None
    last = found[-1]
    rest = text[last.end() :]
    # A conclusion may break its line ("the radius is\n r = √5."), not its paragraph.
    sentence = _PARAGRAPH_END.split(rest, maxsplit=1)[0]
    end = len(sentence)
    if re.search(r"(?:\bis|:)\s*$", sentence):
        # "the correct choice is\n\n(B)." : the value is the next paragraph.
        following = rest[end:]
        more = _PARAGRAPH_END.split(following.lstrip(), maxsplit=1)[0]
        end += len(following) - len(following.lstrip()) + len(more)
        sentence += " " + more
    if re.search(r"\d", rest[end:]):
        return None  # more working follows: the conclusion was an intermediate one
    for marker in ("=", " is ", " are ", " be "):
        if marker in sentence:
            value = _clean_phrase(sentence.rsplit(marker, 1)[-1])
            if value and (re.search(r"\d", value) or re.fullmatch(r"[A-E]", value)):
                return value
    numbers = _NUMBER.findall(sentence)
    return numbers[-1] if numbers else None


def _heads_explanation(text: str, start: int) -> bool:
    """Whether the "Answer:" line at `start` heads an explanation rather than stating the value:
    its first sentence is prose with no marked value ("Answer: There are 50 books in total.")
    and a later sentence marks one (a bold value, or "Thus/Therefore ..." with a number). s1.1
    opens every answer this way and gives its value at the end."""
    sentence = _SENTENCE_END.split(text[start:], maxsplit=1)[0]
    if len(_PROSE_WORD.findall(sentence)) < _HEADER_PROSE_WORDS or _BOLD_VALUE.search(sentence):
        return False  # a bare value, or a sentence that marks its value ("... is **-25**")
    rest = text[start + len(sentence) :]
    return bool(
        _BOLD_VALUE.search(rest)
        or any(re.search(r"\d", m.group(1)) for m in _CONCLUSION.finditer(rest))
    )


def with_thinking(reasoning: str | None, answer: str) -> str:
    """A response as one text, the form answers are extracted from: the reasoning closed with
    THINK_CLOSE, then the answer (the answer alone when there was no reasoning)."""
    return f"{reasoning}\n{THINK_CLOSE}\n\n{answer}" if reasoning else answer


def extract_answer(text: str) -> str | None:
    """The final answer in a response: \\boxed{}, ####, "the answer is", a choice, last number."""
    return _extract(text)[0]


# A response of at most this many words may state its answer without marking it ("15% of 240
# is 36."); a longer one whose only value is its last number (a numbered list, a time in an
# email) states none that another response could agree with.
SHORT_ANSWER_WORDS = 40


def stated_answer(text: str, short_words: int = SHORT_ANSWER_WORDS) -> str | None:
    """The answer a response states, for comparing two responses: `extract_answer`'s, except
    that the last value of a free-form text counts only when the text (after any thinking) has
    at most `short_words` words. Two tips lists of three items, or two emails that both mention
    "1:30", agree on nothing."""
    value, marked, words = _extract(text)
    return value if marked or words <= short_words else None


def _extract(text: str) -> tuple[str | None, bool, int]:
    """(answer, whether it was marked as the answer, words of the text it was read from)."""
    if not text or not text.strip():
        return None, False, 0
    # Prefer what follows the thinking; fall back to the thinking when the tail has no answer.
    if THINK_CLOSE in text:
        head, _, tail = text.rpartition(THINK_CLOSE)
        found = _extract(tail) if tail.strip() else (None, False, 0)
        return found if found[0] is not None else _extract(head.replace(THINK_CLOSE, " "))
    words = len(text.split())
    boxed = last_boxed(text)
    if boxed:
        return boxed, True, words
    marked = _HASHES.findall(text)
    if marked and marked[-1].strip():
        return _clean_phrase(marked[-1]), True, words
    # The last announced answer wins, whichever way it was announced.
    mentions = sorted(
        (m.start(), m.group(1))
        for k, pattern in enumerate(_ANSWER_PATTERNS)
        for m in pattern.finditer(text)
        if m.group(1).strip() and not (k == _HEADER and _heads_explanation(text, m.end()))
    )
    for _, phrase in reversed(mentions[-3:]):
        cleaned = _clean_phrase(phrase)
        if cleaned:
            return cleaned, True, words
    text = unicode_to_latex(_CALCULATOR.sub("", text))
    concluded = _conclusion(text)
    if concluded:
        return concluded, True, words
    numbers = _NUMBER.findall(text)
    if not numbers:
        return None, False, words
    # A value in the closing line states it ("Siobhan has 23 jewels."), unless it only numbers
    # a list item ("3. Keep your room cool.").
    closing = _LIST_MARKER.sub("", text.strip().rsplit("\n", 1)[-1])
    in_closing = _NUMBER.findall(closing)
    return numbers[-1], bool(in_closing) and in_closing[-1] == numbers[-1], words


def normalize_answer(answer: str) -> str:
    """A canonical string for an answer: LaTeX, units, separators and zeros stripped."""
    s = str(answer)
    # Rules can expose work for each other (a lower-cased \BOXED{} unwraps on the next pass);
    # iterating to a fixed point keeps normalisation idempotent.
    for _ in range(6):
        new = _normalize_once(s)
        if new == s:
            break
        s = new
    return s


def _clock(answer: str) -> str | None:
    """A clock time on the 24-hour clock without a leading zero ("3:45 pm" -> "15:45",
    "03:45" -> "3:45", "12:05 am" -> "0:05"), or None when the answer is not one."""
    text = answer.strip().lower()
    if not _CLOCK.fullmatch(text):
        return None
    first, minute, *second = re.findall(r"\d+", text)
    hour = int(first)
    half = "p" if "p" in text else "a" if "a" in text else None  # the only letters a time has
    if half is not None:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "p" else 0)
    elif hour > 24:
        return None
    return ":".join([str(hour), minute, *second])


def _normalize_once(answer: str) -> str:
    clock = _clock(answer)
    if clock is not None:
        return clock
    s = strip_delimiters(unicode_to_latex(answer))
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\left", "").replace("\\right", "").replace("\\displaystyle", "")
    s = s.replace("{,}", ",")
    # A column vector or matrix is written as a tuple of rows: (a,b) or (a&b,c&d).
    s = _MATRIX.sub(lambda m: "(" + ",".join(r.strip() for r in m.group(1).split("\\\\")) + ")", s)
    s = _SET_PREFIX.sub("", s.strip())
    s = _SPACING.sub(" ", s)
    s = (
        s.replace("\\$", "")
        .replace("$", "")
        .replace("€", "")
        .replace("£", "")
        .replace("\\%", "")
        .replace("%", "")
    )
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°", "", s)
    s = re.sub(r"(?<=\d)\s*(?:\"|”|″|'')$", "", s)  # inches: 67" is 67
    previous = None
    while previous != s:
        previous = s
        s = _TEXT_CMD.sub(r"\1", s)
    s = s.strip().lower()
    s = _WORD_UNITS.sub("", s).strip()
    s = s.rstrip(".,;").strip()
    if "=" in s and not re.search(r"[<>]|\\[lg]eq?", s) and "," not in s.split("=", 1)[0]:
        # "x = 5", "24 - 6 = 18": the value is what follows the last "=".
        head, _, tail = s.rpartition("=")
        # ... but "5x - 7y + 11z + 4 = 0" is an equation whose value is itself, not 0.
        if tail.strip() and not (
            tail.strip() == "0" and re.search(r"[a-z].*[+\-*/]|[+\-*/].*[a-z]", head)
        ):
            s = tail.strip()
    unit = _UNIT_TAIL.match(s)
    if unit:
        s = unit.group(1)
    s = _YES_NO.get(s, s)
    choice = re.fullmatch(r"\(?([a-e])\)", s)
    if choice:
        s = choice.group(1)
    s = re.sub(r"\s+", "", s)
    s = _SQRT_BARE.sub(r"\\sqrt{\1}", s)
    s = _SHORT_FRAC.sub(r"\\frac{\1}{\2}", s)
    s = _HALF_BRACED_FRAC[0].sub(r"\\frac{\1}{", s)
    s = _HALF_BRACED_FRAC[1].sub(r"\\frac\1{\2}", s)
    s = _SIMPLE_FRAC.sub(r"\1/\2", s)
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    s = s.rstrip(".")
    if _PLAIN_NUMBER.match(s):
        s = canonical_number(s)
    else:
        frac = _FRACTION.match(s)
        if frac:
            s = f"{canonical_number(frac.group(1))}/{canonical_number(frac.group(2))}"
    return s


def answer_value(answer: str) -> float | None:
    """The numeric value of a normalised answer (numbers, fractions, roots, pi), else None."""
    s = normalize_answer(answer)
    if not s or len(s) > 80:
        return None
    if _PLAIN_NUMBER.match(s):
        return float(s)
    frac = _FRACTION.match(s)
    if frac:
        denominator = float(frac.group(2))
        return float(frac.group(1)) / denominator if denominator else None
    if "," in s or not re.search(r"\d", s):
        return None
    return closed_form_value(s)


def _split_top_level(s: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _values_match(x: str, y: str) -> bool:
    if x == y:
        return True
    vx, vy = answer_value(x), answer_value(y)
    return vx is not None and vy is not None and math.isclose(vx, vy, rel_tol=1e-6, abs_tol=1e-9)


def _expand_pm(items: list[str]) -> list[str]:
    """A set written with ±: ["1\\pm\\sqrt{5}", "-2"] -> ["1+\\sqrt{5}", "1-\\sqrt{5}", "-2"]."""
    expanded: list[str] = []
    for item in items:
        if "\\pm" in item:
            expanded += [item.replace("\\pm", "+", 1), item.replace("\\pm", "-", 1)]
        else:
            expanded.append(item)
    return expanded


def answers_match(a: str | None, b: str | None) -> bool:
    """Whether two answers are equivalent: equal once normalised, or numerically equal."""
    if a is None or b is None:
        return False
    na, nb = normalize_answer(a), normalize_answer(b)
    if not na or not nb:
        return False
    if _values_match(na, nb):
        return True
    # Tuples/intervals compare element by element; bare lists compare as sets.
    if na[:1] in "([" and nb[:1] == na[:1] and na[-1:] in ")]" and nb[-1:] == na[-1:]:
        xs, ys = _split_top_level(na[1:-1]), _split_top_level(nb[1:-1])
        return len(xs) == len(ys) > 1 and all(
            _values_match(x, y) for x, y in zip(xs, ys, strict=True)
        )
    xs, ys = _expand_pm(_split_top_level(na)), _expand_pm(_split_top_level(nb))
    if len(xs) == len(ys) > 1:
        remaining = list(ys)
        for x in xs:
            hit = next((y for y in remaining if _values_match(x, y)), None)
            if hit is None:
                return False
            remaining.remove(hit)
        return True
    return False
