"""Reasoning dialects: read thinking out of any OpenAI-style chunk stream, and write it back out.

Upstreams put a model's thinking in different places: `delta.reasoning_content` (DeepSeek,
vLLM with a reasoning parser, litellm's normalised form, Anthropic thinking through litellm with
`thinking_blocks` beside it), `delta.reasoning` (OpenRouter, recent vLLM), `<think>...</think>`
inside `delta.content`, content that is thinking until a `</think>` whose `<think>` the chat
template wrote into the prompt (R1-Distill and QwQ served without a reasoning parser), or nowhere
at all (o-series: only `usage.completion_tokens_details.reasoning_tokens`). A DialectReader turns
one choice's deltas into (reasoning, answer) text for the watcher and the ledger; a DialectWriter
rewrites deltas into the dialect the client asked for. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from difficulty.answers import THINK_CLOSE, THINK_OPEN
from policies.convergence.thinking import ThinkSplitter

__all__ = [
    "Dialect",
    "ReasoningFormat",
    "ReasoningOutput",
    "DIALECTS",
    "REASONING_FORMATS",
    "REASONING_OUTPUTS",
    "DialectReader",
    "DialectWriter",
    "reasoning_tokens",
    "split_message",
    "describe",
    "rewrite_message",
    "ChunkRewriter",
]

Dialect = Literal[
    "reasoning_content", "reasoning", "think_tags", "think_close", "anthropic", "hidden"
]
# How a profile's upstream writes thinking; `auto` recognises every dialect from the stream.
ReasoningFormat = Literal[
    "auto", "reasoning_content", "reasoning", "think_tags", "think_close", "none"
]
# How the client gets thinking: as the upstream sent it, normalised to one dialect, or not at all.
ReasoningOutput = Literal["upstream", "reasoning_content", "reasoning", "think_tags", "none"]

DIALECTS: tuple[str, ...] = (
    "reasoning_content",
    "reasoning",
    "think_tags",
    "think_close",
    "anthropic",
    "hidden",
)
REASONING_FORMATS: tuple[str, ...] = (
    "auto",
    "reasoning_content",
    "reasoning",
    "think_tags",
    "think_close",
    "none",
)
REASONING_OUTPUTS: tuple[str, ...] = (
    "upstream",
    "reasoning_content",
    "reasoning",
    "think_tags",
    "none",
)


def reasoning_tokens(usage: Mapping[str, Any] | None) -> int | None:
    """`usage.completion_tokens_details.reasoning_tokens`, when the upstream reported it."""
    details = (usage or {}).get("completion_tokens_details") or {}
    value = details.get("reasoning_tokens") if isinstance(details, Mapping) else None
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class DialectReader:
    """One choice's deltas -> (reasoning, answer) text, whichever dialect the upstream speaks.

    `thinking` says the profile is a thinking one: in `auto`, its content that does not open with
    `<think>` is read as template-opened thinking until `</think>` (the watcher must see it).
    """

    reasoning_format: str = "auto"
    thinking: bool = False
    dialect: str | None = field(default=None, init=False)
    answering: bool = field(default=False, init=False)  # the visible answer (or a tool call) began
    _splitter: ThinkSplitter | None = field(default=None, init=False)
    _head: str = field(default="", init=False)  # content held while `auto` decides

    def __post_init__(self) -> None:
        if self.reasoning_format not in REASONING_FORMATS:
            raise ValueError(f"reasoning_format must be one of {', '.join(REASONING_FORMATS)}")
        if self.reasoning_format == "think_tags":
            self._splitter = ThinkSplitter()
        elif self.reasoning_format == "think_close":
            self._splitter = ThinkSplitter(in_think=True)

    @property
    def in_think(self) -> bool:
        """Whether content is currently inside thinking (think_tags / think_close dialects)."""
        return self._splitter is not None and self._splitter.in_think

    def read(self, delta: Mapping[str, Any]) -> tuple[str, str]:
        """The (reasoning, answer) text this delta carried."""
        reasoning = ""
        for key in ("reasoning_content", "reasoning"):
            value = delta.get(key)
            if isinstance(value, str) and value:
                reasoning += value
                if self.dialect is None:
                    self.dialect = "anthropic" if delta.get("thinking_blocks") else key
        content = delta.get("content")
        answer = ""
        if isinstance(content, str) and content and self.reasoning_format != "none":
            more, answer = self._content(content, seen_field=bool(reasoning))
            reasoning += more
        elif isinstance(content, str):
            answer = content
        if answer.strip() or delta.get("tool_calls") or delta.get("function_call"):
            self.answering = True
        return reasoning, answer

    def _content(self, content: str, *, seen_field: bool) -> tuple[str, str]:
        if self._splitter is None:
            if seen_field or self.dialect in ("reasoning_content", "reasoning", "anthropic"):
                return "", content  # thinking travels in its own field; content is the answer
            head = (self._head + content).lstrip()
            if not head:
                self._head += content
                return "", ""
            if THINK_OPEN.startswith(head[: len(THINK_OPEN)]) and len(head) < len(THINK_OPEN):
                self._head += content  # could still become "<think>"
                return "", ""
            content, self._head = self._head + content, ""
            if head.startswith(THINK_OPEN):
                self.dialect = "think_tags"
                self._splitter = ThinkSplitter()
            elif self.thinking:
                self.dialect = "think_close"
                self._splitter = ThinkSplitter(in_think=True)
            else:
                return "", content
        elif self.dialect is None:
            self.dialect = "think_close" if self._splitter.in_think else "think_tags"
        return self._splitter.feed(content)

    def flush(self) -> tuple[str, str]:
        """Text held back at the end of the stream (a partial tag, an undecided head)."""
        if self._head:
            held, self._head = self._head, ""
            return "", held
        if self._splitter is None:
            return "", ""
        return self._splitter.flush()

    def finish(self, usage: Mapping[str, Any] | None, saw_reasoning: bool) -> None:
        """Mark the stream `hidden` when only the usage says the model reasoned."""
        if self.dialect is None and not saw_reasoning and (reasoning_tokens(usage) or 0) > 0:
            self.dialect = "hidden"


@dataclass
class DialectWriter:
    """Rewrites one choice's deltas so its thinking reaches the client in `output`'s dialect."""

    output: str = "upstream"
    _opened: bool = field(default=False, init=False)
    _closed: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        if self.output not in REASONING_OUTPUTS:
            raise ValueError(f"reasoning_output must be one of {', '.join(REASONING_OUTPUTS)}")

    @property
    def rewrites(self) -> bool:
        """Whether deltas need rewriting at all (`upstream` relays them untouched)."""
        return self.output != "upstream"

    def write(self, delta: dict[str, Any], reasoning: str, answer: str) -> dict[str, Any]:
        """`delta` with its thinking (`reasoning`) and answer text placed for the client."""
        dropped: tuple[str, ...] = ("reasoning_content", "reasoning", "content")
        if self.output != "reasoning_content":
            dropped += (
                "thinking_blocks",
            )  # Anthropic's signed blocks travel with reasoning_content
        out = {k: v for k, v in delta.items() if k not in dropped}
        if self.output in ("reasoning_content", "reasoning"):
            if reasoning:
                out[self.output] = reasoning
            if answer or "content" in delta:
                out["content"] = answer
            return out
        if self.output == "none":
            if answer or "content" in delta:
                out["content"] = answer
            return out
        text = ""
        if reasoning and not self._opened:
            self._opened = True
            text += THINK_OPEN
        text += reasoning
        if answer and self._opened and not self._closed:
            self._closed = True
            text += THINK_CLOSE
        text += answer
        if text or "content" in delta:
            out["content"] = text
        return out

    def close(self) -> str:
        """Content that ends an open `<think>` (a stream cut while thinking)."""
        if self.output == "think_tags" and self._opened and not self._closed:
            self._closed = True
            return THINK_CLOSE
        return ""


def split_message(message: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(reasoning, answer, dialect) of a finished assistant message, any dialect."""
    content = message.get("content") if isinstance(message.get("content"), str) else ""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            dialect = "anthropic" if message.get("thinking_blocks") else key
            return value, content or "", dialect
    head = (content or "").lstrip()
    if head.startswith(THINK_OPEN) or THINK_CLOSE in (content or ""):
        splitter = ThinkSplitter(in_think=not head.startswith(THINK_OPEN))
        reasoning, answer = splitter.feed(content or "")
        more, rest = splitter.flush()
        dialect = "think_tags" if head.startswith(THINK_OPEN) else "think_close"
        return reasoning + more, answer + rest, dialect
    return "", content or "", None


def describe(message: Mapping[str, Any], usage: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The ledger's `reasoning`: the dialect, the reasoning tokens (the usage's count, else
    counted from the text) and whether the text was hidden; None when there was none."""
    from difficulty.tokens import count_tokens

    reasoning, _, dialect = split_message(message)
    reported = reasoning_tokens(usage)
    if dialect is None and (reported or 0) > 0:
        dialect = "hidden"
    if dialect is None:
        return None
    tokens = reported if reported else count_tokens(reasoning)
    return {"dialect": dialect, "tokens": tokens, "hidden": dialect == "hidden"}


def rewrite_message(message: dict[str, Any], output: str) -> dict[str, Any]:
    """A finished message with its thinking in `output`'s dialect (`upstream`: unchanged)."""
    if output == "upstream":
        return message
    reasoning, answer, _ = split_message(message)
    writer = DialectWriter(output)
    rest = {
        k: v for k, v in message.items() if k not in ("content", "reasoning_content", "reasoning")
    }
    delta = writer.write({**rest, "content": message.get("content")}, reasoning, answer)
    text = (delta.get("content") or "") + writer.close()
    delta["content"] = text if text or message.get("content") is not None else None
    return delta


class ChunkRewriter:
    """Rewrites each choice's deltas so its thinking reaches the client in `output`'s dialect."""

    def __init__(self, output: str, reasoning_format: str, thinking: bool) -> None:
        self.output = output
        self.reasoning_format = reasoning_format
        self.thinking = thinking
        self.by_index: dict[int, tuple[DialectReader, DialectWriter]] = {}

    def _pair(self, index: int) -> tuple[DialectReader, DialectWriter]:
        if index not in self.by_index:
            reader = DialectReader(self.reasoning_format, thinking=self.thinking)
            self.by_index[index] = (reader, DialectWriter(self.output))
        return self.by_index[index]

    def __call__(self, chunk: dict[str, Any]) -> None:
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta")
            if isinstance(delta, dict):
                reader, writer = self._pair(int(choice.get("index", 0)))
                choice["delta"] = writer.write(delta, *reader.read(delta))

    def tail(self) -> list[dict[str, Any]]:
        """Choices carrying what the readers held back and what closes an open `<think>`."""
        choices = []
        for index, (reader, writer) in sorted(self.by_index.items()):
            delta = writer.write({}, *reader.flush())
            text = (delta.get("content") or "") + writer.close()
            if text or delta:
                choices.append({"index": index, "delta": {**delta, "content": text}})
        return choices
