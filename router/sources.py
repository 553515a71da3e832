"""What answers a request: a source of OpenAI chat-completion chunks, and its typed report.

Four sources answer: a plain upstream stream (`router.upstream`), a stream the convergence
watcher may cut (`router.early_exit`, text or probe mode) and a search that samples, votes and
streams the chosen sample (`router.search`). Each relays chunks and, when asked, reports what
it did besides: which profile answered after failover, and what early exit, probes or sampling
spent and saved. The call (`router.call`) turns the report into the ledger record; sources
write nothing shared.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from router.errors import UpstreamError

__all__ = [
    "ChunkSource",
    "SourceReport",
    "EarlyExitReport",
    "ProbeReport",
    "SearchReport",
    "read_to_end",
]

_log = logging.getLogger("thinkgate.chat")


@dataclass(frozen=True)
class EarlyExitReport:
    """A stream the watcher cut: where, on which answer, and the thinking it likely saved."""

    tokens_at_exit: int
    checkpoint: int
    answer: str
    answer_from: str  # "continuation", "candidate" or "probe"
    expected_tokens: float | None
    saved: float  # estimated thinking tokens saved, before any probe tokens are taken off

    def to_json(self) -> dict[str, Any]:
        """The ledger's `early_exit` fields."""
        return {
            "tokens_at_exit": self.tokens_at_exit,
            "checkpoint": self.checkpoint,
            "answer": self.answer,
            "answer_from": self.answer_from,
            "expected_tokens": self.expected_tokens,
        }


@dataclass(frozen=True)
class ProbeReport:
    """Probe mode's probes on one stream: how many, what they said, the tokens they spent."""

    probes: int
    probe_tokens: int
    probe_prompt_tokens: int
    cancelled: int
    failed: int
    answers: tuple[dict[str, Any], ...]

    def to_json(self) -> dict[str, Any]:
        """The ledger's view of the probes (merged into `early_exit` when they cut the stream)."""
        return {
            "mode": "probe",
            "probes": self.probes,
            "probe_tokens": self.probe_tokens,
            "probe_prompt_tokens": self.probe_prompt_tokens,
            "probes_cancelled": self.cancelled,
            "probes_failed": self.failed,
            "probe_answers": list(self.answers),
        }


@dataclass(frozen=True)
class SearchReport:
    """A search: the samples counted, the most it could draw, the tokens stopping early saved
    (net of what cancelled samples had generated), the samples cancelled once the vote stopped
    and the tokens they had streamed (not billed), and the verifier's calls and tokens."""

    samples: int
    max_samples: int
    saved: float
    cancelled: int = 0
    cancelled_tokens: int = 0
    verifier_calls: int = 0
    verifier_tokens: int = 0
    verifier_failures: int = 0

    def to_json(self) -> dict[str, int]:
        """The ledger's `search` fields."""
        return {
            "samples": self.samples,
            "max_samples": self.max_samples,
            "cancelled": self.cancelled,
            "cancelled_tokens": self.cancelled_tokens,
            "verifier_calls": self.verifier_calls,
            "verifier_tokens": self.verifier_tokens,
            "verifier_failures": self.verifier_failures,
        }


@dataclass(frozen=True)
class SourceReport:
    """What a source did besides relaying chunks."""

    profile: str  # the profile that answered (a fallback after failover)
    usage_counted: bool = False  # the usage chunk was counted by thinkgate, not the upstream
    early_exit: EarlyExitReport | None = None
    probes: ProbeReport | None = None
    search: SearchReport | None = None


class ChunkSource(Protocol):
    """Yields OpenAI chat-completion chunk dicts, can be closed early, and reports what it did."""

    @property
    def profile(self) -> str:
        """The profile answering."""
        ...

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...

    async def aclose(self) -> None:
        """Stop: close the upstream connection, cancel what runs beside it."""
        ...

    def report(self) -> SourceReport:
        """What the source did so far (complete once it is closed)."""
        ...


async def read_to_end(
    source: ChunkSource,
    take: Callable[[dict[str, Any]], None],
    reopen: Callable[[], Awaitable[ChunkSource]],
    restart: Callable[[], None],
) -> ChunkSource:
    """Read a non-streamed answer to its end; one that breaks mid-way is opened once more
    (with the profile's retries and fallbacks: the caller has received nothing yet), after
    `restart()` forgets what the broken one sent. Returns the source that answered."""
    try:
        async for chunk in source:
            take(chunk)
        return source
    except UpstreamError as exc:
        _log.warning("an answer broke mid-way (%s); asking again", exc.message)
    await source.aclose()
    restart()
    retry = await reopen()
    async for chunk in retry:
        take(chunk)
    return retry
