"""Checkpoint features of a reasoning stream for the learned exit rule.

At each checkpoint the tracker names the current answer candidate (the latest answer or result
statement) and describes how settled it looks: how often and how long it has been restated,
whether the model is re-verifying it or hesitating, whether later steps use it as an operand
(an intermediate result) and whether it was only stated in a what-if branch. Pure and
incremental.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from difficulty.answers import normalize_answer
from policies.convergence.candidates import Candidate, StatementScanner, matches_at, word_starts

__all__ = ["FEATURE_NAMES", "SCAN_KINDS", "Checkpoint", "FeatureTracker"]

SCAN_KINDS: tuple[str, ...] = ("boxed", "answer", "conclusion", "result", "equals")
_EXPLICIT = ("boxed", "answer")
_STRONG = ("boxed", "answer", "conclusion", "result")
_STATED = ("conclusion", "result")

FEATURE_NAMES: tuple[str, ...] = (
    "explicit",  # the value was stated as \boxed{} or "the answer is"
    "stated_result",  # the value closed a result or conclusion sentence
    "latest_strong",  # the value is the latest answer/result statement
    "latest_explicit",  # the value is the latest explicit answer
    "any_explicit",  # some explicit answer has been stated
    "log_count",  # log(1 + statements of the value, any kind)
    "strong_share",  # share of answer/result statements that state the value
    "recent_share",  # share of the last 6 statements that state the value
    "is_mode",  # the value is the most stated among answer/result statements
    "log_streak",  # log(1 + consecutive checkpoints with the value as latest strong statement)
    "log_tokens",  # log(tokens so far)
    "hesitation_recent",  # hesitation markers in the last window, after the value's statement
    "log_hesitation_after",  # log(1 + hesitation markers since the value was last stated)
    "hesitation_rate",  # hesitation markers per 100 tokens so far
    "log_verify",  # log(1 + re-verification phrases since the value first appeared)
    "held_share",  # share of the stream since the value was first stated
    "log_since_stated",  # log(1 + tokens since the value was last stated)
    "log_others_after",  # log(1 + statements of other values since the value was last stated)
    "log_distinct",  # log(1 + distinct values among answer/result statements)
    "final_heading",  # "final answer" written after the last hesitation
    "confirmed",  # "correct"/"yes"/"that checks out" since the value's latest statement
    "equals_only",  # the value only closed "= N" steps, never an answer/result sentence
    "log_alternatives_after",  # log(1 + other readings weighed since the value was stated)
    "log_verify_after",  # log(1 + re-verification phrases since the value was last stated)
    "ambiguity_rate",  # other-reading phrases ("alternatively", "maybe", ...) per 100 tokens
    "total_words",  # a statement of the value follows "total", "altogether", "answer", ...
    "block_end",  # a statement of the value closes a paragraph
    "survived_check",  # the value was stated again after a re-verification began
    "recycled_share",  # share of the last 10 statements restating an earlier value (checking)
    "v_restated_recent",  # statements of the value among the last 10
    "log_operand_after",  # log(1 + uses of the value as an operand since it was last stated)
    "operand_share",  # share of the value's numeric mentions that are operands of arithmetic
    "log_results_after",  # log(1 + times a computation ended in the value since last stated)
    "given",  # the number was written before any statement: read from the question
    "latest_conditional",  # the value's latest statement sits in a what-if paragraph
    "conditional_share",  # share of the value's statements that sit in what-if paragraphs
)
_TOTAL_WORDS = re.compile(
    r"\b(?:total|altogether|in all|overall|answer|final|combined|in the end|left|remain\w*)\b",
    re.IGNORECASE,
)
_CONTEXT = 80
_BLOCK_AFTER = 40

_HESITATION = re.compile(
    r"\b(?:wait|but|hmm|hold on|mistake|not sure|alternatively|however|actually|no,)\b",
    re.IGNORECASE,
)
_VERIFY = re.compile(
    r"\b(?:let me (?:check|verify|confirm|double[- ]check|re-?check|make sure|see again)|"
    r"double[- ]check|verify|verifying|to confirm|check again|sanity check|cross-check)\b",
    re.IGNORECASE,
)
_CONFIRM = re.compile(
    r"\b(?:correct|that checks out|checks out|matches|consistent|same (?:answer|result)|"
    r"yes|yep|confirms?|that's right|makes sense)\b",
    re.IGNORECASE,
)
_FINAL = re.compile(r"final answer", re.IGNORECASE)
# The model weighing another reading of the question: its answer depends on which one wins.
_ALTERNATIVE = re.compile(
    r"\b(?:alternatively|maybe|perhaps|ambiguous|ambiguity|interpret\w*|another way|"
    r"or is it|on the other hand|unless|could also|might mean|misread)\b",
    re.IGNORECASE,
)
_RECENT = 6
# A paragraph weighing a hypothesis ("Alternatively, if ... the answer would be 111"): what it
# states is one branch, not the model's answer.
_CONDITIONAL = re.compile(
    r"\b(?:alternatively|if|suppose|supposing|assuming|maybe|perhaps|would be|would have)\b",
    re.IGNORECASE,
)
_PARAGRAPH = 400
# A number in the text; the lookbehind keeps a scan that starts mid-number from reading a tail.
_NUMBER = re.compile(r"(?<![\w.,])\$?(\d[\d,]*(?:\.\d+)?)(?![\d])")
# An intermediate value is fed into a later computation ("65 books times $20"); the answer is
# what computations end in. Operators next to a number, either side ("=" excluded).
_OPERATOR_AFTER = re.compile(
    r"^\s*(?:[a-z]+\s+){0,2}?(?:[-+*/×÷^]|\\times|\\cdot|times|plus|minus|divided by|"
    r"multiplied by)\s*\$?\(?\d",
    re.IGNORECASE,
)
_OPERATOR_BEFORE = re.compile(
    r"(?:[-+*/×÷^]|\\times|\\cdot|\btimes|\bplus|\bminus|divided by|multiplied by)\s*\(?\$?$",
    re.IGNORECASE,
)
_RESULT_BEFORE = re.compile(r"(?:=|\bequals|\bgives|\bmakes)\s*\$?$", re.IGNORECASE)
# The characters those two patterns' words can end with (any case: "ſ" is a case-blind "s").
# A number whose text before it ends otherwise is neither, and skips the searches.
_OPERATOR_LAST = frozenset("-+*/×÷^sStTyYſ")
_RESULT_LAST = frozenset("=sSſ")
# Context a number's role is read from: enough to see "times $20" after it.
_ROLE_AFTER = 24
_ROLE_BEFORE = 16
_PHRASES = {
    "hesitation": _HESITATION,
    "verify": _VERIFY,
    "confirm": _CONFIRM,
    "final": _FINAL,
    "alternative": _ALTERNATIVE,
}
_PHRASE_OVERLAP = 40
# The words each alternative of a phrase kind opens with. In new text that is plain ASCII
# (where the lowered text's offsets are the text's and the regexes' case-blindness is ASCII
# case) a phrase can only start where one of them does: the scans try just those places, not
# every position, the costliest part of reading new text.
_PHRASE_OPENINGS = {
    "hesitation": (
        "wait", "but", "hmm", "hold on", "mistake", "not sure", "alternatively", "however",
        "actually", "no,",
    ),
    "verify": (
        "let me ", "double", "verify", "to confirm", "check again", "sanity check", "cross-check",
    ),
    "confirm": (
        "correct", "that", "checks out", "matches", "consistent", "same ", "yes", "yep", "confirm",
        "makes sense",
    ),
    "final": ("final answer",),
    "alternative": (
        "alternatively", "maybe", "perhaps", "ambiguous", "ambiguity", "interpret", "another way",
        "or is it", "on the other hand", "unless", "could also", "might mean", "misread",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Checkpoint:
    """The answer values stated so far at one checkpoint, each with its features."""

    options: tuple[tuple[Candidate, tuple[float, ...]], ...]


_MAX_OPTIONS = 8


@dataclass
class FeatureTracker:
    """Turns the growing reasoning text into one `Checkpoint` per call."""

    window_tokens: int = 50
    _scanner: StatementScanner = field(default_factory=lambda: StatementScanner(SCAN_KINDS))
    _norms: dict[str, str] = field(default_factory=dict)
    _streak: int = 0
    _previous: str | None = None
    _counted: int = 0
    # Where each phrase kind ends in the text, found once over the text added since last time.
    _marks: dict[str, list[int]] = field(default_factory=lambda: {name: [] for name in _PHRASES})
    # Per number (digits only): where it is an operand, where a result, how often mentioned.
    _operands: dict[str, list[int]] = field(default_factory=dict)
    _results: dict[str, list[int]] = field(default_factory=dict)
    _mentions: dict[str, int] = field(default_factory=dict)
    _numbers_done: int = 0
    _first_mention: dict[str, int] = field(default_factory=dict)
    _conditional: dict[int, bool] = field(default_factory=dict)
    _total_words: dict[int, bool] = field(default_factory=dict)
    _block_end: dict[int, bool] = field(default_factory=dict)

    def _norm(self, value: str) -> str:
        if value not in self._norms:
            self._norms[value] = normalize_answer(value)
        return self._norms[value]

    def _scan_phrases(self, text: str) -> None:
        # A phrase crossing the previous end is found whole by rescanning a little before it.
        start = max(0, self._counted - _PHRASE_OVERLAP)
        fresh = text[start:]
        lowered = fresh.lower() if fresh.isascii() else None
        for name, pattern in _PHRASES.items():
            marks = self._marks[name]
            known = marks[-1] if marks else -1
            if lowered is None:
                found = pattern.finditer(text, start)
            else:
                starts = [start + i for i in word_starts(lowered, _PHRASE_OPENINGS[name])]
                found = matches_at(pattern, text, starts, start)
            marks.extend(m.end() for m in found if m.end() > known)
        self._counted = len(text)
        self._scan_numbers(text)

    def _scan_numbers(self, text: str) -> None:
        # Numbers are read once their context after them has streamed in.
        limit = len(text) - _ROLE_AFTER
        position = self._numbers_done
        for m in _NUMBER.finditer(text, max(0, position - _ROLE_BEFORE)):
            if m.start() < position:
                continue
            if m.end() > limit:
                position = m.start()
                break
            key = _number_key(m.group(1))
            self._mentions[key] = self._mentions.get(key, 0) + 1
            self._first_mention.setdefault(key, m.end())
            before = text[max(0, m.start() - _ROLE_BEFORE) : m.start()]
            after = text[m.end() : m.end() + _ROLE_AFTER]
            last = _last_word_end(before)
            if _OPERATOR_AFTER.match(after) or (
                last in _OPERATOR_LAST and _OPERATOR_BEFORE.search(before)
            ):
                self._operands.setdefault(key, []).append(m.end())
            if last in _RESULT_LAST and _RESULT_BEFORE.search(before):
                self._results.setdefault(key, []).append(m.end())
        else:
            position = max(position, limit)
        self._numbers_done = max(self._numbers_done, position)

    def first_mention(self, key: str) -> int | None:
        """Where a number (its `_number_key`) was first written (None if not read yet)."""
        return self._first_mention.get(key)

    def conditional(self, text: str, end: int) -> bool:
        """Whether the statement ending at `end` sits in a paragraph weighing a hypothesis."""
        if end not in self._conditional:
            start = max(text.rfind("\n\n", max(0, end - _PARAGRAPH), end), end - _PARAGRAPH, 0)
            self._conditional[end] = _CONDITIONAL.search(text, start, end) is not None
        return self._conditional[end]

    def total_words(self, text: str, end: int) -> bool:
        """Whether "total", "altogether", "answer"... comes shortly before the statement ending
        at `end` (the text before it no longer changes, so it is read once)."""
        if end not in self._total_words:
            self._total_words[end] = (
                _TOTAL_WORDS.search(text, max(0, end - _CONTEXT), end) is not None
            )
        return self._total_words[end]

    def block_end(self, text: str, end: int) -> bool:
        """Whether the statement ending at `end` closes a paragraph (a blank line within
        _BLOCK_AFTER characters); settled, and kept, once that much text follows it."""
        if end in self._block_end:
            return self._block_end[end]
        found = "\n\n" in text[end : end + _BLOCK_AFTER]
        if found or len(text) >= end + _BLOCK_AFTER:
            self._block_end[end] = found
        return found

    def number_role(self, key: str, since: int) -> tuple[int, int, int, int]:
        """(operand uses since, results since, operand uses, mentions) of a number (its
        `_number_key`)."""
        operands = self._operands.get(key, [])
        results = self._results.get(key, [])
        return (
            len(operands) - bisect_right(operands, since),
            len(results) - bisect_right(results, since),
            len(operands),
            self._mentions.get(key, 0),
        )

    def count(self, name: str, start: int, end: int | None = None) -> int:
        """How many phrases of a kind end in text[start:end]."""
        marks = self._marks[name]
        stop = len(marks) if end is None else bisect_right(marks, end)
        return max(0, stop - bisect_left(marks, start))

    def last(self, name: str) -> int:
        """Where the latest phrase of a kind ends (0 if none)."""
        marks = self._marks[name]
        return marks[-1] if marks else 0

    def _statements(self) -> list[tuple[int, str, str, str]]:
        # The scanner's statements with their normal forms, those without one dropped; one
        # statement matched by two patterns ("Thus the total is 5.") counts once.
        found = []
        previous = -1
        for end, kind, value in self._scanner.found:
            if end != previous:
                previous = end
                norm = self._norm(value)
                if norm:
                    found.append((end, kind, value, norm))
        return found

    def update(self, text: str, tokens: int) -> Checkpoint:
        """Features of every candidate value; `text` must extend the previous call's text."""
        self._scanner.scan(text)
        found = self._statements()
        self._scan_phrases(text)
        strong = [s for s in found if s[1] in _STRONG]
        latest = strong[-1][3] if strong else None
        self._streak = self._streak + 1 if latest is not None and latest == self._previous else 1
        self._previous = latest
        if not found:
            return Checkpoint(())
        # Candidates: every value of an answer/result statement, and the latest few values
        # of any kind; the most recently stated first.
        last: dict[str, int] = {}
        for index, s in enumerate(found):
            last[s[3]] = index
        pool = {s[3] for s in strong} | {s[3] for s in found[-3:]}
        ordered = sorted(pool, key=lambda n: -last[n])[:_MAX_OPTIONS]
        context = _Context(text, tokens, found, strong, latest, self)
        return Checkpoint(tuple((context.candidate(n), context.features(n)) for n in ordered))


class _Context:
    """What every candidate's features share at one checkpoint, gathered in one pass over the
    statements so that each candidate's features read dictionaries, not the statement list."""

    def __init__(
        self,
        text: str,
        tokens: int,
        found: list[tuple[int, str, str, str]],
        strong: list[tuple[int, str, str, str]],
        latest: str | None,
        tracker: FeatureTracker,
    ) -> None:
        self.text, self.tokens, self.found, self.latest = text, tokens, found, latest
        self.chars_per_token = len(text) / max(1, tokens)
        self.latest_explicit = next((s[3] for s in reversed(found) if s[1] in _EXPLICIT), None)
        self.counts: dict[str, int] = {}
        for s in strong:
            self.counts[s[3]] = self.counts.get(s[3], 0) + 1
        self.mode = max(self.counts.values(), default=0)
        self.recent = [s[3] for s in found[-_RECENT:]]
        self.last10 = [s[3] for s in found[-10:]]
        self.streak = tracker._streak
        self.tracker = tracker
        self.rate = 100.0 * tracker.count("hesitation", 0) / max(tokens, 1)
        self.alternative_rate = 100.0 * tracker.count("alternative", 0) / max(self.tokens, 1)
        self.log_tokens = math.log(max(self.tokens, 1))
        self.window_start = len(text) - int(tracker.window_tokens * self.chars_per_token)
        self.n_strong = len(strong)
        self.last_hesitation = tracker.last("hesitation")
        self.marks = tracker._marks
        # Per-checkpoint parts of the features, computed once for every candidate.
        self.length = len(text)
        self.length_floor = max(1, len(text))
        self.n_strong_floor = max(1, len(strong))
        self.log_distinct = math.log1p(len(self.counts))
        self.any_explicit = 1.0 if self.latest_explicit is not None else 0.0
        # Each value's statements and the index of its first and latest, found in one pass.
        self.same: dict[str, list[tuple[int, str, str, str]]] = {}
        self.index_last: dict[str, int] = {}
        index_first: dict[str, int] = {}
        for index, s in enumerate(found):
            if s[3] in self.same:
                self.same[s[3]].append(s)
            else:
                self.same[s[3]] = [s]
                index_first[s[3]] = index
            self.index_last[s[3]] = index
        # A statement restates an earlier value when that value first came before it.
        tail = range(max(0, len(found) - 10), len(found))
        recycled = [index_first[found[i][3]] < i for i in tail]
        self.recycled_share = sum(recycled) / len(recycled) if recycled else 0.0

    def candidate(self, norm: str) -> Candidate:
        end, kind, value, _ = self.found[self.index_last[norm]]
        return Candidate(text=value, normalized=norm, kind=kind, end=end)

    def features(self, norm: str) -> tuple[float, ...]:
        text, length, marks = self.text, self.length, self.marks
        same = self.same[norm]
        kinds = {s[1] for s in same}
        first, last = same[0][0], same[-1][0]
        others_after = len(self.found) - 1 - self.index_last[norm]
        tracker = self.tracker
        hesitation, verify = marks["hesitation"], marks["verify"]
        final = _since(marks["final"], max(self.last_hesitation, first))
        key = _number_key(norm)
        operand_after, results_after, operands, mentions = tracker.number_role(key, last)
        mention = tracker.first_mention(key)
        strong_same = [s for s in same if s[1] in _STRONG] or same
        conditional = [tracker.conditional(text, s[0]) for s in strong_same]
        latest = norm == self.latest
        count = self.counts.get(norm, 0)
        hesitations_after = len(hesitation) - bisect_left(hesitation, last)
        verifies_after = len(verify) - bisect_left(verify, last)
        return (
            0.0 if kinds.isdisjoint(_EXPLICIT) else 1.0,
            0.0 if kinds.isdisjoint(_STATED) else 1.0,
            1.0 if latest else 0.0,
            1.0 if norm == self.latest_explicit else 0.0,
            self.any_explicit,
            math.log1p(len(same)),
            count / self.n_strong_floor,
            self.recent.count(norm) / len(self.recent),
            1.0 if count == self.mode else 0.0,
            math.log1p(self.streak) if latest else 0.0,
            self.log_tokens,
            float(_since(hesitation, max(last, self.window_start))),
            math.log1p(hesitations_after),
            self.rate,
            math.log1p(len(verify) - bisect_left(verify, first)),
            (length - first) / self.length_floor,
            math.log1p((length - last) / self.chars_per_token),
            math.log1p(others_after),
            self.log_distinct,
            1.0 if final > 0 else 0.0,
            1.0 if _since(marks["confirm"], last) > 0 else 0.0,
            1.0 if kinds.isdisjoint(_STRONG) else 0.0,
            math.log1p(_since(marks["alternative"], last)),
            math.log1p(verifies_after),
            self.alternative_rate,
            1.0 if any(tracker.total_words(text, s[0]) for s in same) else 0.0,
            1.0 if any(tracker.block_end(text, s[0]) for s in same) else 0.0,
            1.0 if tracker.count("verify", first, last) > 0 else 0.0,
            self.recycled_share,
            float(self.last10.count(norm)),
            math.log1p(operand_after),
            operands / max(1, mentions),
            math.log1p(results_after),
            1.0 if mention is not None and mention < self.found[0][0] else 0.0,
            1.0 if conditional[-1] else 0.0,
            sum(conditional) / len(conditional),
        )


def _since(marks: list[int], start: int) -> int:
    # `FeatureTracker.count(kind, start)` on the kind's marks, without the lookups per call.
    return len(marks) - bisect_left(marks, start)


def _number_key(value: str) -> str:
    # "1,300" and "1300", "12.50" and "12.5" are one number.
    key = value.replace(",", "").lstrip("$")
    if "." in key:
        key = key.rstrip("0").rstrip(".")
    return key


def _last_word_end(before: str) -> str:
    # The character the operator or result word before a number would end with: both patterns
    # end in whitespace, an optional "(" (operators only) and an optional "$".
    before = before.removesuffix("$")
    return before.removesuffix("(").rstrip()[-1:]
