"""Joining chat-completion chunks into the one body a non-streamed request gets.

Everything a choice's deltas carry is assembled the way OpenAI's API returns it: content,
refusal, reasoning (in whichever field the stream used), tool-call deltas by index into
`message.tool_calls` (id, type, function name, arguments joined), legacy `function_call`,
audio (data and transcript joined), annotations, logprobs lists, and the finish reason.
Pure: no I/O. (litellm's `stream_chunk_builder` does this too, but drops logprobs and costs
~0.4 ms a chunk.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ChoiceAssembly", "BodyAssembly"]

_TEXT_FIELDS = frozenset({"content", "refusal", "reasoning_content", "reasoning"})


@dataclass
class ChoiceAssembly:
    """One choice's deltas, joined."""

    index: int
    text: dict[str, list[str]] = field(default_factory=dict)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    function_call: dict[str, str] | None = None
    audio: dict[str, Any] | None = None
    annotations: list[Any] = field(default_factory=list)
    thinking_blocks: dict[int, dict[str, Any]] = field(default_factory=dict)
    logprobs: dict[str, list[Any]] | None = None
    finish_reason: str | None = None

    def add(self, choice: Mapping[str, Any]) -> bool:
        """Take one streamed choice (its delta, logprobs and finish reason); True when it
        carried output (text of any kind, a tool or function call, audio)."""
        carried = False
        # Only the keys the delta has (usually one), for the relay's per-chunk cost.
        for key, value in (choice.get("delta") or {}).items():
            if not value:
                continue
            if key in _TEXT_FIELDS:
                if isinstance(value, str):
                    self.text.setdefault(key, []).append(value)
                    carried = True
            elif key == "tool_calls":
                for call in value:
                    self._tool_call(call)
                carried = True
            elif key == "function_call":
                self._function_call(value)
                carried = True
            elif key == "audio":
                self._audio(value)
                carried = True
            elif key == "annotations":
                self.annotations.extend(value)
            elif key == "thinking_blocks":
                for block in value:
                    self._thinking_block(block)
        logprobs = choice.get("logprobs")
        if logprobs:
            self.logprobs = self.logprobs or {}
            for key, items in logprobs.items():
                if isinstance(items, list):
                    self.logprobs.setdefault(key, []).extend(items)
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
        return carried

    def _tool_call(self, call: Mapping[str, Any]) -> None:
        index = int(call.get("index", len(self.tool_calls)))
        slot = self.tool_calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if call.get("id"):
            slot["id"] = call["id"]
        if call.get("type"):
            slot["type"] = call["type"]
        function = call.get("function") or {}
        # Servers send the name once (some repeat it whole): set, never append.
        if function.get("name"):
            slot["function"]["name"] = function["name"]
        if function.get("arguments"):
            slot["function"]["arguments"] += function["arguments"]

    def _function_call(self, call: Mapping[str, Any]) -> None:
        slot = self.function_call = self.function_call or {"name": "", "arguments": ""}
        if call.get("name"):
            slot["name"] = call["name"]
        slot["arguments"] += call.get("arguments") or ""

    def _audio(self, audio: Mapping[str, Any]) -> None:
        slot = self.audio = self.audio or {"id": None, "data": "", "transcript": ""}
        for key, value in audio.items():
            if key in ("data", "transcript") and isinstance(value, str):
                slot[key] += value
            elif value is not None:
                slot[key] = value

    def _thinking_block(self, block: Mapping[str, Any]) -> None:
        index = int(block.get("index", 0))
        slot = self.thinking_blocks.setdefault(index, {"type": block.get("type", "thinking")})
        for key, value in block.items():
            if key == "index":
                continue
            if key in ("thinking", "data") and isinstance(value, str):
                slot[key] = slot.get(key, "") + value
            elif value:
                slot[key] = value

    def joined(self, key: str) -> str | None:
        """The joined text of one field, None when the stream never carried it."""
        parts = self.text.get(key)
        return None if parts is None else "".join(parts)

    def message(self) -> dict[str, Any]:
        """The choice's `message`, shaped as OpenAI returns it."""
        content = self.joined("content")
        calls = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        if not content and (calls or self.function_call):
            content = None  # OpenAI's tool-call messages carry null content
        elif content is None:
            content = ""
        message: dict[str, Any] = {"role": "assistant", "content": content}
        message["refusal"] = self.joined("refusal") or None
        for key in ("reasoning_content", "reasoning"):
            if self.joined(key):
                message[key] = self.joined(key)
        if self.thinking_blocks:
            message["thinking_blocks"] = [
                self.thinking_blocks[i] for i in sorted(self.thinking_blocks)
            ]
        if calls:
            message["tool_calls"] = calls
        if self.function_call is not None:
            message["function_call"] = self.function_call
        if self.audio is not None:
            message["audio"] = self.audio
        if self.annotations:
            message["annotations"] = self.annotations
        return message

    def choice(self) -> dict[str, Any]:
        """The non-streamed choice."""
        return {
            "index": self.index,
            "message": self.message(),
            "finish_reason": self.finish_reason or ("tool_calls" if self.tool_calls else "stop"),
            "logprobs": self.logprobs,
        }


@dataclass
class BodyAssembly:
    """A whole stream's chunks joined into a `chat.completion` body."""

    choices: dict[int, ChoiceAssembly] = field(default_factory=dict)
    usage: dict[str, Any] | None = None
    created: int | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # system_fingerprint, service_tier

    def add(self, chunk: Mapping[str, Any]) -> bool:
        """Take one chunk; True when it carried output."""
        if self.created is None and isinstance(chunk.get("created"), int):
            self.created = chunk["created"]
        if chunk.get("usage"):
            self.usage = dict(chunk["usage"])
        for key in ("system_fingerprint", "service_tier"):
            if chunk.get(key) is not None:
                self.extras[key] = chunk[key]
        carried = False
        for choice in chunk.get("choices") or ():
            index = int(choice.get("index", 0))
            assembly = self.choices.get(index)
            if assembly is None:
                assembly = self.choices[index] = ChoiceAssembly(index)
            carried = assembly.add(choice) or carried
        return carried

    def body(self, completion_id: str, model: str, created: int) -> dict[str, Any]:
        """The `chat.completion` body (usage only when known)."""
        choices = [self.choices[i].choice() for i in sorted(self.choices)] or [
            ChoiceAssembly(0).choice()
        ]
        body: dict[str, Any] = {
            "id": completion_id,
            "object": "chat.completion",
            "created": self.created or created,
            "model": model,
            "choices": choices,
            **self.extras,
        }
        if self.usage is not None:
            body["usage"] = self.usage
        return body
