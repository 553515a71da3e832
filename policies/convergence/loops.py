"""Loops: a thinking stream going round in circles, restating sentences it has already written.

On an ill-posed question (the MiP variants: a premise is missing) reasoning models never settle;
they re-derive, doubt and restate until the token limit. The detector reads each finished
sentence once and calls a loop when most of the latest ones repeat earlier sentences word for
word (digits and case aside), after a minimum of thinking. Pure and incremental.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

__all__ = ["LOOP_ACTIONS", "LoopDetector", "ABSTAIN_TEXT"]

LOOP_ACTIONS: tuple[str, ...] = ("off", "answer", "abstain")
# What the client gets when the configured action is to abstain.
ABSTAIN_TEXT = (
    "I could not settle on an answer: the reasoning kept going in circles, which usually means "
    "the question is missing information or admits no single answer."
)
_SENTENCE = re.compile(r"[^.!?\n]*[.!?\n]")
_SPACE = re.compile(r"\s+")
_MIN_CHARS = 12  # "Wait." and "Hmm." repeat in every stream; only real sentences count


@dataclass
class LoopDetector:
    """Feed the growing text; `update` says True once the stream is looping."""

    share: float = 0.5  # of the latest `window` sentences, repeats of earlier ones
    window: int = 40
    min_tokens: int = 3000
    _seen: set[str] = field(default_factory=set)
    _recent: deque[bool] = field(default_factory=deque)
    _done: int = 0

    def update(self, text: str, tokens: int) -> bool:
        """Read the sentences finished since the last call; True when the stream loops."""
        for match in _SENTENCE.finditer(text, self._done):
            self._done = match.end()
            sentence = _SPACE.sub(" ", match.group(0).strip().lower())
            if len(sentence) < _MIN_CHARS:
                continue
            self._recent.append(sentence in self._seen)
            self._seen.add(sentence)
            if len(self._recent) > self.window:
                self._recent.popleft()
        if tokens < self.min_tokens or len(self._recent) < self.window:
            return False
        return sum(self._recent) >= self.share * self.window

    @property
    def repeated_share(self) -> float:
        """Share of the latest sentences that repeat earlier ones."""
        return sum(self._recent) / len(self._recent) if self._recent else 0.0
