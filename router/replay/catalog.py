"""Recorded model outputs indexed for replay: model name -> profile, prompt -> item."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from difficulty.errors import InvalidInputError, NotFoundError
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens

__all__ = [
    "ReplayCatalog",
    "ReplayPiece",
    "UnknownModelError",
    "UnknownPromptError",
    "NoReplayableOutcomesError",
    "normalise_prompt",
    "split_pieces",
]

_WS = re.compile(r"\s+")
# Words with the whitespace before them, as BPE vocabularies attach it (" word" is one token;
# "word " is two), so piece counts add up to within ~1% of the whole text's count. Trailing
# whitespace is its own piece: concatenation is lossless.
_PIECE = re.compile(r"\s*\S+|\s+$")


class UnknownModelError(NotFoundError):
    """The request names a model that has no recorded outputs."""

    code = "model_not_found"


class UnknownPromptError(NotFoundError):
    """The recorded profile has no output for this prompt."""

    code = "prompt_not_found"


class NoReplayableOutcomesError(InvalidInputError):
    """None of the given outcome rows carries recorded text (reasoning or response)."""

    code = "no_replayable_outcomes"


@dataclass(frozen=True)
class ReplayPiece:
    """A slice of recorded text sent as one delta, with its token count."""

    text: str
    tokens: int


def normalise_prompt(text: str) -> str:
    """The matching key of a prompt: whitespace runs collapsed to one space, ends stripped."""
    return _WS.sub(" ", text).strip()


def split_pieces(text: str, chunk_tokens: int = 1) -> list[ReplayPiece]:
    """Cut text into word-aligned pieces of at least ``chunk_tokens`` tokens (last may be less)."""
    pieces: list[ReplayPiece] = []
    buf: list[str] = []
    tokens = 0
    for match in _PIECE.finditer(text):
        word = match.group(0)
        buf.append(word)
        tokens += count_tokens(word)
        if tokens >= chunk_tokens:
            pieces.append(ReplayPiece("".join(buf), tokens))
            buf, tokens = [], 0
    if buf:
        pieces.append(ReplayPiece("".join(buf), tokens))
    return pieces


class ReplayCatalog:
    """Outcome rows with recorded text, looked up by (model name, prompt)."""

    def __init__(
        self,
        outcomes: Sequence[Outcome],
        *,
        aliases: Mapping[str, str] | None = None,
        chunk_tokens: int = 1,
    ) -> None:
        if chunk_tokens < 1:
            raise InvalidInputError("chunk_tokens must be at least 1", param="chunk_tokens")
        self.chunk_tokens = chunk_tokens
        self._items: dict[str, dict[str, Outcome]] = {}
        for outcome in outcomes:
            texts = bool(outcome.samples) and all(x.text for x in outcome.samples or ())
            if outcome.reasoning is None and outcome.response is None and not texts:
                continue
            by_prompt = self._items.setdefault(outcome.profile, {})
            # The first recording of a prompt wins, so replay is deterministic.
            by_prompt.setdefault(normalise_prompt(outcome.prompt), outcome)
        if not self._items:
            raise NoReplayableOutcomesError(
                "no outcome row has recorded 'reasoning', 'response' or sample text to replay"
            )
        self.aliases: dict[str, str] = {}
        for alias, profile in (aliases or {}).items():
            if profile not in self._items:
                raise UnknownModelError(
                    f"alias '{alias}' points at '{profile}', which has no recorded outputs; "
                    f"recorded: {', '.join(sorted(self._items))}",
                    param="aliases",
                )
            self.aliases[alias] = profile
        self._lower = {name.lower(): name for name in self._items}
        self._pieces: dict[tuple[int, str], list[ReplayPiece]] = {}

    @property
    def profiles(self) -> list[str]:
        """The recorded profiles (model names), sorted."""
        return sorted(self._items)

    def __len__(self) -> int:
        return sum(len(v) for v in self._items.values())

    def model_names(self) -> Iterator[str]:
        """Every name a request may use: recorded profiles, then aliases."""
        yield from self.profiles
        yield from sorted(self.aliases)

    def resolve_model(self, model: str) -> str:
        """The recorded profile a model name selects (alias, exact, or case-insensitive)."""
        if model in self.aliases:
            return self.aliases[model]
        if model in self._items:
            return model
        # litellm-style provider prefixes ("openai/QwQ-32B") name the same model.
        bare = model.split("/", 1)[1] if "/" in model else model
        for name in (bare, bare.lower()):
            if name in self.aliases:
                return self.aliases[name]
            if name.lower() in self._lower:
                return self._lower[name.lower()]
        raise UnknownModelError(
            f"model '{model}' has no recorded outputs; available: {', '.join(self.model_names())}",
            param="model",
        )

    def find(self, profile: str, prompt: str) -> Outcome:
        """The recorded outcome for this prompt (exact match after whitespace normalisation)."""
        found = self._items[profile].get(normalise_prompt(prompt))
        if found is None:
            snippet = normalise_prompt(prompt)[:80]
            raise UnknownPromptError(
                f"no recorded output of '{profile}' for the prompt '{snippet}'", param="messages"
            )
        return found

    def find_within(self, profile: str, text: str) -> Outcome:
        """The outcome whose prompt is the longest one contained in ``text`` (raw completions)."""
        key = normalise_prompt(text)
        exact = self._items[profile].get(key)
        if exact is not None:
            return exact
        best: Outcome | None = None
        best_len = 0
        for prompt, outcome in self._items[profile].items():
            if len(prompt) > best_len and prompt in key:
                best, best_len = outcome, len(prompt)
        if best is None:
            raise UnknownPromptError(
                f"no recorded prompt of '{profile}' occurs in the completion prompt '{key[:80]}'",
                param="prompt",
            )
        return best

    def pieces(self, outcome: Outcome, part: str) -> list[ReplayPiece]:
        """Pieces of an outcome's ``reasoning`` or ``response`` text, split once and cached."""
        key = (id(outcome), part)  # the catalog holds every outcome, so ids stay valid
        cached = self._pieces.get(key)
        if cached is None:
            cached = split_pieces(getattr(outcome, part) or "", self.chunk_tokens)
            self._pieces[key] = cached
        return cached
