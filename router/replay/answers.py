"""What a replayed chat answer is made of: thinking in a dialect, then text, JSON or a tool call.

The recording holds thinking and an answer. A request picks how they come back: the reasoning
dialect (`reasoning_content`, `reasoning`, `<think>` tags in content, template-opened thinking
that only closes with `</think>`, or `hidden` with only a count in the usage), and the answer's
shape (plain text; a JSON object under `response_format`; a call of the requested function,
its arguments holding the recorded answer, when `tool_choice` asks for one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from difficulty.answers import THINK_CLOSE, THINK_OPEN
from difficulty.errors import InvalidInputError
from difficulty.outcomes import Outcome
from router.replay.catalog import ReplayCatalog, ReplayPiece, split_pieces

__all__ = ["DIALECT_HEADER", "REPLAY_DIALECTS", "TOOL_CALL", "chat_parts", "recorded_answer"]

DIALECT_HEADER = "x-replay-dialect"
REPLAY_DIALECTS = ("reasoning_content", "reasoning", "think_tags", "think_close", "hidden")
# A delta name for tool-call argument pieces: "tool_call:<function name>".
TOOL_CALL = "tool_call:"

Parts = list[tuple[str, list[ReplayPiece]]]


def recorded_answer(outcome: Outcome) -> str:
    """The recording's final answer (its extracted `answer`, else the response text)."""
    extra = outcome.extra or {}
    answer = extra.get("answer") if isinstance(extra, Mapping) else None
    return str(answer) if answer else (outcome.response or "").strip()


def _thinking(dialect: str, pieces: list[ReplayPiece]) -> tuple[Parts, int]:
    """The thinking parts in `dialect`, and the tokens it hides (the `hidden` dialect)."""
    if not pieces:
        return [], 0
    if dialect in ("reasoning_content", "reasoning"):
        return [(dialect, pieces)], 0
    close = [ReplayPiece(f"\n{THINK_CLOSE}\n\n", 3)]
    if dialect == "think_tags":
        return [("content", [ReplayPiece(f"{THINK_OPEN}\n", 2), *pieces, *close])], 0
    if dialect == "think_close":
        return [("content", [*pieces, *close])], 0
    return [], sum(p.tokens for p in pieces)


def _recorded_thinking_tokens(outcome: Outcome) -> int:
    extra = outcome.extra if isinstance(outcome.extra, Mapping) else {}
    value = extra.get("thinking_tokens")
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _called_function(body: Mapping[str, Any]) -> str | None:
    tools = [t for t in body.get("tools") or () if isinstance(t, Mapping)]
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping):
        name = (choice.get("function") or {}).get("name")
        return str(name) if name else None
    if choice == "required" and tools:
        return str((tools[0].get("function") or {}).get("name") or "") or None
    return None


def _schema_key(schema: Any) -> str:
    props = schema.get("properties") if isinstance(schema, Mapping) else None
    return next(iter(props), "answer") if isinstance(props, Mapping) and props else "answer"


def _tool_schema(body: Mapping[str, Any], name: str) -> Any:
    for tool in body.get("tools") or ():
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and function.get("name") == name:
            return function.get("parameters")
    return None


def _json_key(body: Mapping[str, Any]) -> str | None:
    fmt = body.get("response_format")
    if not isinstance(fmt, Mapping) or fmt.get("type") not in ("json_object", "json_schema"):
        return None
    return _schema_key((fmt.get("json_schema") or {}).get("schema"))


def chat_parts(
    catalog: ReplayCatalog, outcome: Outcome, dialect: str, body: Mapping[str, Any]
) -> tuple[Parts, int]:
    """(delta parts, hidden reasoning tokens) answering chat `body` from `outcome`."""
    if dialect not in REPLAY_DIALECTS:
        known = ", ".join(REPLAY_DIALECTS)
        raise InvalidInputError(
            f"unknown dialect {dialect!r} (one of {known})", param=DIALECT_HEADER
        )
    messages: Sequence[Any] = body.get("messages") or ()
    last = messages[-1].get("role") if messages and isinstance(messages[-1], Mapping) else None
    if last in ("assistant", "tool"):
        # A continuation after closed thinking, or the turn after a tool result: answer only.
        return [("content", catalog.pieces(outcome, "response"))], 0
    parts, hidden = _thinking(dialect, catalog.pieces(outcome, "reasoning"))
    if dialect == "hidden" and not hidden:
        hidden = _recorded_thinking_tokens(outcome)  # o-series rows: only a count was recorded
    function = _called_function(body)
    if function is not None:
        key = _schema_key(_tool_schema(body, function))
        arguments = json.dumps({key: recorded_answer(outcome)})
        return [
            *parts,
            (TOOL_CALL + function, split_pieces(arguments, catalog.chunk_tokens)),
        ], hidden
    json_key = _json_key(body)
    if json_key is not None:
        text = json.dumps({json_key: recorded_answer(outcome)})
        return [*parts, ("content", split_pieces(text, catalog.chunk_tokens))], hidden
    return [*parts, ("content", catalog.pieces(outcome, "response"))], hidden


def call_id(outcome: Outcome) -> str:
    """The replayed tool call's id (stable per recording)."""
    return f"call_{outcome.id}"


def delta(name: str, text: str, first: bool, outcome: Outcome) -> dict[str, Any]:
    """One streamed delta for a planned piece (tool-call pieces as OpenAI streams them)."""
    if not name.startswith(TOOL_CALL):
        return {name: text}
    call: dict[str, Any] = {"index": 0, "function": {"arguments": text}}
    if first:
        call.update(id=call_id(outcome), type="function")
        call["function"]["name"] = name[len(TOOL_CALL) :]
    return {"tool_calls": [call]}


def message(texts: Mapping[str, str], outcome: Outcome) -> dict[str, Any]:
    """The non-streamed assistant message for a plan's joined texts."""
    out: dict[str, Any] = {"role": "assistant", "content": texts.get("content", "")}
    for key in ("reasoning_content", "reasoning"):
        if key in texts:
            out[key] = texts[key]
    for name, arguments in texts.items():
        if name.startswith(TOOL_CALL):
            function = {"name": name[len(TOOL_CALL) :], "arguments": arguments}
            out["tool_calls"] = [{"id": call_id(outcome), "type": "function", "function": function}]
            out["content"] = out["content"] or None
    return out
