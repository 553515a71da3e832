"""Probe mode: ask the model for its current answer every m thinking tokens (Dynasor-CoT).

Pure: no I/O, no clock. The gateway feeds the thinking as it streams, asks `due()` whether to
send a probe, sends the prompt `start()` built to the endpoint's text-completions API, and hands
the probe's short completion to `finish()`, which says when k probes in a row agree with none
hesitating. Probes are read with the shared answer normaliser, like every other answer.

For calibration a streak of s agreeing calm probes scores 1 - 2^-s (`probe_score`): a shadow
tracker never exits but keeps the trail of new best scores, the record a `CalibrationBook`
certifies a threshold from, and a certified threshold becomes the k to exit on (`probe_k`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from difficulty.answers import answers_match, normalize_answer
from policies.convergence.candidates import latest_candidate, statements
from policies.convergence.thinking import DEFAULT_MARKERS, TokenEstimate, hesitation_pattern
from policies.convergence.watcher import ExitDecision

__all__ = [
    "DEFAULT_SUFFIX",
    "ProbeParams",
    "ProbeRequest",
    "ProbeResult",
    "ProbeTracker",
    "chatml_prompt",
    "probe_k",
    "probe_score",
    "read_probe",
]

# Dynasor-CoT's answer-forcing suffix: the model, cut mid-thought, states what it would answer.
DEFAULT_SUFFIX = (
    "\n\n... Oh, I suddenly got the answer to the whole problem, **Final Answer**\n\n\\boxed{"
)
_BOX_OPEN = "\\boxed{"


def probe_score(streak: int) -> float:
    """The calibration score of a streak of agreeing calm probes: 1 - 2^-streak."""
    return 1.0 - 0.5**streak


def probe_k(threshold: float) -> int:
    """The shortest streak whose score reaches a certified threshold."""
    streak = 1
    while probe_score(streak) < threshold:
        streak += 1
    return streak


@dataclass(frozen=True)
class ProbeParams:
    """When to probe (every `interval_tokens` after `min_tokens`) and when k probes agree."""

    k: int = 3
    interval_tokens: int = 64
    min_tokens: int = 64
    markers: tuple[str, ...] = DEFAULT_MARKERS
    suffix: str = DEFAULT_SUFFIX

    def __post_init__(self) -> None:
        if self.k < 1 or self.interval_tokens < 1 or self.min_tokens < 0:
            raise ValueError("k and interval_tokens must be >= 1, min_tokens >= 0")


@dataclass(frozen=True)
class ProbeRequest:
    """One probe to send: the text-completions prompt and where in the thinking it was cut."""

    prompt: str
    tokens_at: int
    index: int


@dataclass(frozen=True)
class ProbeResult:
    """What one probe said: its answer (None: no closed answer) and whether it doubted."""

    index: int
    tokens_at: int
    answer: str | None
    normalized: str | None
    hesitant: bool
    completion_tokens: int
    prompt_tokens: int

    def to_json(self) -> dict[str, Any]:
        """The probe as a ledger-ready dict."""
        return {
            "tokens_at": self.tokens_at,
            "answer": self.answer,
            "hesitant": self.hesitant,
            "completion_tokens": self.completion_tokens,
            "prompt_tokens": self.prompt_tokens,
        }


def chatml_prompt(
    turns: Sequence[tuple[str, str]], *, system: str | None = None, think_open: str = ""
) -> str:
    """The ChatML text of a chat's (role, text) turns (Qwen, QwQ, SmolLM2), opened for the
    assistant's turn."""
    parts: list[str] = []
    if system is not None and not any(role == "system" for role, _ in turns):
        parts.append(f"<|im_start|>system\n{system}<|im_end|>\n")
    for role, text in turns:
        parts.append(f"<|im_start|>{role}\n{text}<|im_end|>\n")
    parts.append("<|im_start|>assistant\n" + think_open)
    return "".join(parts)


def read_probe(
    completion: str, suffix: str, markers: tuple[str, ...] = DEFAULT_MARKERS
) -> tuple[str | None, str | None, bool]:
    """(answer, normalised answer, hesitant) from a probe's completion after `suffix`."""
    pattern = hesitation_pattern(markers)
    hesitant = bool(pattern and pattern.search(completion))
    if suffix.rstrip().endswith(_BOX_OPEN):
        # The suffix opened the box: the answer is what the model closes it on, nothing later.
        found = statements(_BOX_OPEN + completion, ("boxed",))
        if not found:
            return None, None, hesitant
        value = found[0][2]
        normalized = normalize_answer(value)
        return (value, normalized, hesitant) if normalized else (None, None, hesitant)
    candidate = latest_candidate(completion)
    if candidate is None:
        return None, None, hesitant
    return candidate.text, candidate.normalized, hesitant


@dataclass
class ProbeTracker:
    """Feed thinking deltas; send the probes it asks for; it calls the exit on k agreeing probes.

    One probe is in flight at a time: a slow endpoint gets fewer probes, never a queue of them.
    """

    params: ProbeParams = field(default_factory=ProbeParams)
    prompt: str = ""  # the chat as the model saw it, opened for the assistant's thinking
    shadow: bool = False  # probe, keep the trail, never exit (the stream runs whole)
    tokens: int = field(default=0, init=False)
    results: list[ProbeResult] = field(default_factory=list, init=False)
    decision: ExitDecision | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self._parts: list[str] = []
        # The watcher's token estimate, so both modes count thinking on one scale.
        self._estimate = TokenEstimate()
        self._next_due = max(self.params.min_tokens, self.params.interval_tokens)
        self._in_flight: ProbeRequest | None = None
        self._sent = 0
        self.trail: list[tuple[float, str, int]] = []  # (score, answer, tokens): new bests

    @property
    def thinking(self) -> str:
        """All thinking fed so far."""
        return "".join(self._parts)

    @property
    def probe_tokens(self) -> int:
        """Completion tokens the answered probes generated (spent on top of the stream)."""
        return sum(r.completion_tokens for r in self.results)

    @property
    def probe_prompt_tokens(self) -> int:
        """Prompt tokens the answered probes sent (mostly prefix-cache hits)."""
        return sum(r.prompt_tokens for r in self.results)

    def feed(self, delta: str) -> None:
        """Add thinking text."""
        if not delta or self.decision is not None:
            return
        self._parts.append(delta)
        self.tokens = self._estimate.feed(delta)

    def due(self) -> bool:
        """Whether a probe should be sent now."""
        return self.decision is None and self._in_flight is None and self.tokens >= self._next_due

    def start(self) -> ProbeRequest:
        """The probe to send now: the prompt, the thinking so far, the answer-forcing suffix."""
        request = ProbeRequest(
            prompt=self.prompt + self.thinking + self.params.suffix,
            tokens_at=self.tokens,
            index=self._sent,
        )
        self._sent += 1
        self._in_flight = request
        self._next_due = self.tokens + self.params.interval_tokens
        return request

    def cancel(self) -> None:
        """The probe in flight will not be answered (the stream ended or the call failed)."""
        self._in_flight = None

    def finish(
        self, completion: str, *, completion_tokens: int, prompt_tokens: int = 0
    ) -> ExitDecision | None:
        """Read the in-flight probe's completion; the exit when k probes in a row agree calmly."""
        request = self._in_flight
        if request is None or self.decision is not None:
            return None
        self._in_flight = None
        answer, normalized, hesitant = read_probe(
            completion, self.params.suffix, self.params.markers
        )
        result = ProbeResult(
            index=request.index,
            tokens_at=request.tokens_at,
            answer=answer,
            normalized=normalized,
            hesitant=hesitant,
            completion_tokens=completion_tokens,
            prompt_tokens=prompt_tokens,
        )
        self.results.append(result)
        streak = self._streak()
        if answer is not None and streak and probe_score(streak) > max((0.0, *self._best())):
            self.trail.append((probe_score(streak), answer, self.tokens))
        if self.shadow or streak < self.params.k or answer is None:
            return None
        self.decision = ExitDecision(
            answer=answer,
            tokens_at_exit=self.tokens,  # the stream ran on while the probe was answered
            checkpoint=len(self.results),
            reason=f"{streak} probes {self.params.interval_tokens} tokens apart answered "
            f"'{answer}', none hesitating",
            chars_at_exit=len(self.thinking),
        )
        return self.decision

    def _best(self) -> tuple[float, ...]:
        return tuple(score for score, _, _ in self.trail[-1:])

    def _streak(self) -> int:
        last = self.results[-1]
        if last.normalized is None or last.hesitant:
            return 0
        streak = 0
        for r in reversed(self.results):
            # Agreement is the normaliser's equivalence ("0.5" agrees with "\\frac{1}{2}").
            if r.hesitant or not answers_match(r.answer, last.answer):
                break
            streak += 1
        return streak
