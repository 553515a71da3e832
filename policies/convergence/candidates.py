"""Answer candidates in unfinished reasoning: the latest answer a partial stream has stated.

Built on the shared normaliser (`difficulty.answers`) so a candidate compares with gold answers
the way every other figure does. Pure text functions, safe to call on every checkpoint.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from difficulty.answers import normalize_answer

__all__ = [
    "KINDS",
    "Candidate",
    "StatementScanner",
    "matches_at",
    "word_starts",
    "statements",
    "latest_candidate",
    "clean_value",
]

# Statement kinds, strongest first. A candidate is the latest statement of the strongest kind
# present, so a stated "the answer is 12" is not displaced by a later intermediate "= 3".
KINDS: tuple[str, ...] = ("boxed", "answer", "conclusion", "result", "equals", "number")
_RANK = {"boxed": 0, "answer": 0, "conclusion": 1, "result": 1, "equals": 2, "number": 3}


@dataclass(frozen=True)
class Candidate:
    """An answer the reasoning has stated, with where its statement ends in the text."""

    text: str
    normalized: str
    kind: str
    end: int


_NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?(?![\d,]*\.?\d)"
_BOXED = re.compile(r"\\boxed\s*\{")
_ANSWER_IS = re.compile(
    r"\b(?:final\s+answer|answer)\s*(?:is|should be|would be|will be|must be|:)\s*:?\s*"
    r"(?P<val>[^\n]{1,80}?)"
    r"(?P<stop>\?|\s*(?:\.(?:\s|$)|\n|,\s|;|\s+(?:and|so|which|but|because|since)\b))",
    re.IGNORECASE,
)
_CONCLUSION = re.compile(
    r"\b(?:therefore|thus|hence)\b[^.\n?]{0,100}?\b(?:is|are|was|were|equals|be|=)\s+"
    r"(?:about\s+|approximately\s+)?(?P<val>" + _NUMBER + r")(?P<stop>[^\d])",
    re.IGNORECASE,
)
# A number closing a result sentence ("So she makes $18 every day.", "That's 125 dollars."):
# the last number of a sentence that opens with a concluding word.
_RESULT_WORDS = (
    r"(?:so|thus|therefore|hence|that's|that is|in total|altogether|overall|"
    r"finally|total|yes|yep|correct)\b"
)
_RESULT_BODY = (
    _RESULT_WORDS + r"[^.\n?!]{0,120}?(?<![\d.,])(?P<val>" + _NUMBER + r")"
    r"\s*(?:[A-Za-z%]+\s*){0,3}(?P<stop>[.!\n])"
)
_RESULT = re.compile(r"(?:^|[.!\n]\s*)" + _RESULT_BODY, re.IGNORECASE)
# `_RESULT` past the text's first character, where `^` cannot match.
_RESULT_LATER = re.compile(r"[.!\n]\s*" + _RESULT_BODY, re.IGNORECASE)
# Where a `_RESULT_LATER` match can start: a sentence break before a concluding word. Opening on
# a character class, it lets the regex engine skip to the next [.!\n] in C.
_RESULT_OPENS = re.compile(r"[.!\n]\s*(?P<word>" + _RESULT_WORDS + ")", re.IGNORECASE)
# The value's first digit lies within this many characters of the concluding word's start (the
# word's 10, the 120 before the value, "-$"): a sentence without one there states no result.
_RESULT_REACH = 133
_DIGIT = re.compile(r"\d")
_EQUALS = re.compile(r"=\s*(?P<val>" + _NUMBER + r")\s*(?:[A-Za-z%$]+\s*){0,2}(?P<stop>[.\n])")
_FINAL_NUMBER = re.compile(r"(?P<val>" + _NUMBER + r")(?P<stop>[^\d.,])")
_PATTERNS = {
    "answer": _ANSWER_IS,
    "conclusion": _CONCLUSION,
    "result": _RESULT,
    "equals": _EQUALS,
}
# Words a statement of the kind cannot do without: a text with none of them is not scanned for it.
_NEEDS = {"answer": ("answer",), "conclusion": ("therefore", "thus", "hence")}
# A statement the model hedges, before ("maybe the answer is") or right after ("5, but"),
# is a hypothesis, not an answer.
_HEDGE_BEFORE = re.compile(
    r"\b(?:if|maybe|perhaps|might|suppose|supposing|whether|unless|assuming)\b[^.\n?!]*$",
    re.IGNORECASE,
)
_HEDGE_AFTER = re.compile(r"^[\s,;:)$]*(?:or|unless|if)\b", re.I)
_SENTENCE_LOOKBACK = 120

_FILLER = re.compile(
    r"^(?:(?:that|then|now|just|still|simply|likely|probably|indeed|definitely|clearly|"
    r"actually|exactly|going to be|approximately|about|around|roughly|correct|right)\b[\s,:]*)+",
    re.IGNORECASE,
)
_LEADING_NUMBER = re.compile(r"-?\$?\s?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_EXPRESSION_GOES_ON = re.compile(r"\s*[-+*/^=×÷<>!]|[A-Za-z({\\]|\s*\\(?!text|,|;|quad)")
_MATH_SPAN = re.compile(r"^\$(.+?)\$|^\\\((.+?)\\\)|^\\\[(.+?)\\\]")
_AMBIGUOUS = re.compile(r"\b(?:or|either|not|between|if)\b", re.IGNORECASE)
# Words that make prose around a number a formula in words ("20000 over pi"), not a number.
_MATH_WORDS = re.compile(
    r"\b(?:over|times|plus|minus|pi|sqrt|root|squared|cubed|divided|power|factorial)\b",
    re.IGNORECASE,
)
# Arithmetic not yet carried out ("2! * 5! * 5!"): the model has not reached its number.
_UNEVALUATED = re.compile(r"^[\d\s.,()]*(?:[!*×+]|\d\s*-\s*\d)[\d\s.,()!*×+\-]*$")
_CHOICE = re.compile(
    r"^(?:option\s+|choice\s+)?(?:\\text\{\s*)?\(?([A-Ea-e])\)?(?:\s*\})?(?:[.:)]|\s*$)",
    re.IGNORECASE,
)
_POLAR = re.compile(r"^\**(yes|no)\b\**\s*$", re.IGNORECASE)
# A short phrase in a box ("\\boxed{Paris}"): a string answer.
_SHORT_STRING = re.compile(r"^[A-Za-z][A-Za-z' -]{0,30}$")
_SQRT_CALL = re.compile(r"\bsqrt\s*\(([^()]*)\)")


def clean_value(raw: str) -> str | None:
    """The answer itself from the words after "the answer is" ("$12 left" -> "$12"), or None."""
    value = raw.strip().rstrip(".!,;:")
    if _AMBIGUOUS.search(value):
        return None  # "either 450 or 900", "not 50": no single answer stated
    value = _FILLER.sub("", value).strip()
    choice = _CHOICE.match(value)
    if choice:  # a multiple-choice letter: "(B)", "B", "\\text{B}", "option C"
        return choice.group(1).upper()
    polar = _POLAR.match(value)
    if polar:
        return polar.group(1).lower()
    value = _SQRT_CALL.sub(r"\\sqrt{\1}", value.replace("√", "\\sqrt").replace("π", "\\pi"))
    math = _MATH_SPAN.match(value)
    if math:
        value = next(g for g in math.groups() if g is not None).strip()
    if "=" in value:
        value = value.rsplit("=", 1)[1].strip().rstrip("$").strip()
    if re.match(r"[A-Za-z]{3,}\b", value):
        return None  # "expressed in the form p^{a/b}": a description, not a value
    if "\\" not in value and _MATH_WORDS.search(value):
        return None  # a formula in words ("20000 over pi") is not a number we can compare
    number = _LEADING_NUMBER.match(value)
    if number and not _EXPRESSION_GOES_ON.match(value[number.end() :]):
        return number.group(0).replace(" ", "")
    if not re.search(r"[\d\\]", value) or _UNEVALUATED.match(value):
        return None
    if re.search(r"[A-Za-z]{3,}", value) and "\\" not in value:
        found = _LEADING_NUMBER.search(value)  # prose around a number: keep the number
        return found.group(0).replace(" ", "") if found else None
    return value.strip("$ ") or None


def _boxed(text: str) -> list[tuple[int, str]]:
    found = []
    for m in _BOXED.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:  # an unclosed box is still being written
            found.append((i, text[m.end() : i - 1]))
    return found


def _hedged(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - _SENTENCE_LOOKBACK) : start]
    return bool(_HEDGE_BEFORE.search(before) or _HEDGE_AFTER.match(text[end : end + 20]))


def statements(text: str, kinds: tuple[str, ...] = KINDS) -> list[tuple[int, str, str]]:
    """Every closed answer statement of the given kinds: (end offset, kind, cleaned value)."""
    return _statements(text, kinds, None, 0)


def _statements(
    text: str, kinds: tuple[str, ...], tries: _ResultTries | None, offset: int
) -> list[tuple[int, str, str]]:
    # `statements` of text = whole[offset:], with the result tries already settled in `whole`.
    found: list[tuple[int, str, str]] = []
    if "boxed" in kinds:
        for end, raw in _boxed(text):
            value = clean_value(raw) or (raw.strip() if _SHORT_STRING.match(raw.strip()) else None)
            if value:
                found.append((end, "boxed", value))
    folded = text.casefold()
    for kind in _PATTERNS:
        if kind not in kinds or not any(word in folded for word in _NEEDS.get(kind, ("",))):
            continue
        for start, _, raw, end, stop in _matches(kind, text, folded, tries, offset):
            if stop.startswith("?"):
                continue  # "so the answer is 40?" is a guess, not a statement
            if kind == "answer" and _hedged(text, start, end):
                continue
            value = _clean(raw)
            if value:
                found.append((end, kind, value))
    if "number" in kinds:  # the weakest kind: only used when nothing stronger was stated
        found.extend((m.end("val"), "number", m.group("val")) for m in _FINAL_NUMBER.finditer(text))
    found.sort()
    return found


# A pattern's match as statements read it: (start, end, value, value's end, terminator).
_Match = tuple[int, int, str, int, str]


def _as_match(m: re.Match[str]) -> _Match:
    return m.start(), m.end(), m.group("val"), m.end("val"), m.group("stop")


def _matches(
    kind: str, text: str, folded: str, tries: _ResultTries | None = None, offset: int = 0
) -> Iterator[_Match]:
    # What `_PATTERNS[kind].finditer(text)` yields, found with less work. In plain ASCII text
    # (where `folded`'s offsets are the text's and the regex's case-blindness is ASCII case) a
    # match can only start where one of its opening words does: trying just there skips the
    # regex engine's attempt at every other position. `_RESULT` past position 0 is
    # `_RESULT_LATER`, whose tries `tries` may already hold.
    pattern = _PATTERNS[kind]
    if kind in _OPENING and text.isascii():
        matches = matches_at(pattern, text, word_starts(folded, _OPENING[kind]))
    elif kind == "result":
        first = pattern.match(text)
        if first is not None:
            yield _as_match(first)
        resume = first.end() if first is not None else 0
        if tries is not None:
            yield from tries.later(offset, resume)
            return
        matches = _later_results(text, resume)
    else:
        matches = pattern.finditer(text)
    yield from map(_as_match, matches)


def _later_results(text: str, resume: int) -> Iterator[re.Match[str]]:
    # `_RESULT_LATER.finditer(text, resume)`, tried only at sentence breaks before a concluding
    # word with a digit in reach. A failed try skips the rest of its break: a newline inside
    # "\n\n So" opens the same word, so fails the same way.
    while opens := _RESULT_OPENS.search(text, resume):
        m = _result_at(text, opens.start(), opens.start("word"))
        if m is None:
            resume = opens.end()
        else:
            resume = m.end()
            yield m


def _result_at(text: str, start: int, word: int) -> re.Match[str] | None:
    # `_RESULT_LATER` tried at the break `start` whose concluding word begins at `word`; a
    # sentence with no digit in reach of the word states no result, so is not tried.
    if _DIGIT.search(text, word, word + _RESULT_REACH):
        return _RESULT_LATER.match(text, start)
    return None


# Every sentence break before a concluding word, one match per break character (so "\n" inside
# ".\n\nSo" is one too): all the places a `_RESULT_LATER` match can start.
_RESULT_BREAK = re.compile(r"[.!\n](?=\s*" + _RESULT_WORDS + ")", re.IGNORECASE)
# How far a `_RESULT_LATER` try reads from the concluding word on, at most: the word and the
# 120 characters before the value stop at [.\n?!]; the value's digits (and its look-ahead) run
# on through [-$\d,.]; then whitespace and up to three words, and one character more. The same
# classes as the pattern (case-blind letters included), each run taken whole.
_RESULT_EXTENT = re.compile(r"[^.\n?!]{0,131}[-$\d,.]*\s*(?:[A-Za-z%]+\s*){0,3}", re.IGNORECASE)
_SPACES = re.compile(r"\s*")
# A break's check reads its whitespace and then up to 10 characters of the word.
_BREAK_READS = 11


class _ResultTries:
    """`_RESULT_LATER` tried at the sentence breaks of a growing text, each outcome kept once no
    later text can change it.

    The scanner rescans the last ~800 characters at every checkpoint; a try reads only the
    text from its break to a bounded extent (`_RESULT_EXTENT`), so once that extent lies
    inside the text its outcome is final and the rescans reuse it instead of retrying.
    """

    def __init__(self) -> None:
        self._breaks: list[int] = []  # every break before `_settled`, final
        self._settled = 0
        self._fresh: list[int] = []  # breaks from `_settled` on, as of the latest `read`
        self._tried: dict[int, _Match | None] = {}
        self._text = ""

    def read(self, text: str) -> None:
        """Take the text (extending the previous one) the next `later` calls read."""
        self._text = text
        found = [m.start() for m in _RESULT_BREAK.finditer(text, self._settled)]
        # A check reads to at most _BREAK_READS past its whitespace: every break before the last
        # non-space character with that much text after it is final.
        settled = len(text) - _BREAK_READS - 1
        while settled >= 0 and text[settled].isspace():
            settled -= 1
        settled = max(settled, self._settled)
        cut = bisect_right(found, settled - 1)
        self._breaks.extend(found[:cut])
        self._fresh = found[cut:]
        self._settled = settled

    def later(self, offset: int, resume: int) -> Iterator[_Match]:
        """`_RESULT_LATER.finditer(text[offset:], resume)` in `text[offset:]`'s offsets."""
        position = offset + resume
        breaks = self._breaks[bisect_right(self._breaks, position - 1) :] + self._fresh
        for start in breaks:
            if start < position:
                continue
            match = self._tried.get(start, _UNTRIED)
            if match is _UNTRIED:
                match = self._try(start)
            if match is not None:
                position = match[1]
                yield (match[0] - offset, match[1] - offset, match[2], match[3] - offset, match[4])

    def _try(self, start: int) -> _Match | None:
        text = self._text
        spaces = _SPACES.match(text, start + 1)
        extent = _RESULT_EXTENT.match(text, spaces.end()) if spaces else None
        assert spaces is not None and extent is not None  # both match the empty string
        word = spaces.end()
        m = _result_at(text, start, word)
        found = None if m is None else _as_match(m)
        # Final once everything the try read, and the digit check's span, lie inside the text.
        if max(extent.end() + 2, word + _RESULT_REACH) < len(text):
            self._tried[start] = found
        return found


_UNTRIED: _Match = (-1, -1, "", -1, "")


# The words a statement of the kind opens with ("final answer is", "answer is", "thus ... is").
_OPENING = {"answer": ("final", "answer"), "conclusion": ("therefore", "thus", "hence")}


def word_starts(folded: str, words: tuple[str, ...], start: int = 0) -> list[int]:
    """Where any of `words` starts in `folded` (from `start`), in order, each place once."""
    found: set[int] = set()
    for word in words:
        at = folded.find(word, start)
        while at >= 0:
            found.add(at)
            at = folded.find(word, at + 1)
    return sorted(found)


def matches_at(
    pattern: re.Pattern[str], text: str, starts: list[int], resume: int = 0
) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text, resume)` when a match can only start at `starts`: the same
    matches, since every other position fails and finditer resumes where its last match ended."""
    for start in starts:
        if start >= resume:
            m = pattern.match(text, start)
            if m is not None:
                resume = m.end()
                yield m


@lru_cache(maxsize=4096)
def _clean(raw: str) -> str | None:
    # The scanner reads each statement again at every checkpoint while it is in the rescanned
    # tail; cleaning depends on the raw value alone.
    return clean_value(raw)


def latest_candidate(text: str, kinds: tuple[str, ...] = KINDS) -> Candidate | None:
    """The latest answer the text states, from the strongest kind it uses.

    Each pattern needs a terminator after the value, so a number still being streamed
    ("= 54" before the "0") never counts.
    """
    return _pick(statements(text, kinds))


def _pick(found: list[tuple[int, str, str]]) -> Candidate | None:
    if not found:
        return None
    best = min(_RANK[kind] for _, kind, _ in found)
    end, kind, value = [s for s in found if _RANK[s[1]] == best][-1]
    normalized = normalize_answer(value)
    if not normalized:
        return None
    return Candidate(text=value, normalized=normalized, kind=kind, end=end)


# Longest statement the scanner expects to cross the boundary of its previous scan.
_OVERLAP = 400


class StatementScanner:
    """`latest_candidate` for a growing text, rescanning only the tail added since last time."""

    def __init__(self, kinds: tuple[str, ...] = KINDS) -> None:
        self.kinds = kinds
        self._found: list[tuple[int, str, str]] = []
        self._scanned = 0
        self._tries = _ResultTries()

    def latest(self, text: str) -> Candidate | None:
        """The latest candidate in `text`, which must extend the text of the previous call."""
        self.scan(text)
        return _pick(self._found)

    def scan(self, text: str) -> None:
        """Read the statements of `text` (which must extend the previous call's) into `found`."""
        # Statements ending before the overlap are settled; the tail is scanned afresh, from
        # far enough back that a statement crossing the boundary is seen whole.
        settled = max(0, self._scanned - _OVERLAP)
        start = max(0, settled - _OVERLAP)
        kept = self._found[: bisect_right(self._found, settled, key=_end)]
        self._tries.read(text)
        fresh = [
            (end + start, kind, value)
            for end, kind, value in _statements(text[start:], self.kinds, self._tries, start)
            if end + start > settled
        ]
        self._found = kept + fresh
        self._scanned = len(text)

    @property
    def found(self) -> list[tuple[int, str, str]]:
        """Every statement of the latest scan: (end offset, kind, cleaned value), in order."""
        return self._found


def _end(statement: tuple[int, str, str]) -> int:
    return statement[0]
