"""Build the reasoning-dialect chunk fixtures from the bundled recorded traces.

`python -m tests.data.dialects.build` writes one gzip JSONL file per dialect (one chat-completion
chunk per line) for the same recorded QwQ-32B GSM8K traces, cut into the replay upstream's
word-aligned pieces, so the same thinking arrives in every dialect. `anthropic` is recorded,
not written: Anthropic Messages SSE events for the trace are served on a local port and read
back through litellm's own Anthropic client. `hidden` is o3-mini's recorded answer on the same
question with its recorded thinking-token count in `usage.completion_tokens_details`.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from difficulty.datasets import load_dataset
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens
from router.replay_catalog import split_pieces

__all__ = ["FIXTURE_DIR", "ITEMS", "build", "anthropic_events", "openai_chunks"]

FIXTURE_DIR = Path(__file__).parent
# Short traces on which the default watcher exits early (at 275 of 575 and 375 of 513 tokens).
ITEMS = ("mip-gsm8k-010", "mip-gsm8k-458")
_THINKER, _HIDDEN = "QwQ-32B", "o3-mini"


def _chunk(item: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{item}",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "recorded",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _usage(prompt: int, completion: int, reasoning: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def openai_chunks(row: Outcome, dialect: str) -> Iterator[dict[str, Any]]:
    """The trace as an OpenAI-compatible server in `dialect` streams it."""
    reasoning, answer = row.reasoning or "", row.response or ""
    yield _chunk(row.id, {"role": "assistant", "content": ""})
    thought = [p.text for p in split_pieces(reasoning)]
    said = [p.text for p in split_pieces(answer)]
    if dialect in ("reasoning_content", "reasoning"):
        for text in thought:
            yield _chunk(row.id, {dialect: text})
    elif dialect in ("think_tags", "think_close"):
        if dialect == "think_tags":
            yield _chunk(row.id, {"content": "<think>\n"})
        for text in thought:
            yield _chunk(row.id, {"content": text})
        yield _chunk(row.id, {"content": "\n</think>\n\n"})
    else:
        raise ValueError(f"no OpenAI-style writer for dialect {dialect!r}")
    for text in said:
        yield _chunk(row.id, {"content": text})
    yield _chunk(row.id, {}, "stop")
    r, a = count_tokens(reasoning), count_tokens(answer)
    usage = _usage(count_tokens(row.prompt), r + a, r)
    yield {**_chunk(row.id, {}), "choices": [], "usage": usage}


def hidden_chunks(row: Outcome) -> Iterator[dict[str, Any]]:
    """o3-mini's recorded answer; its thinking is only a count in the usage."""
    extra = row.extra or {}
    thinking = int(extra.get("thinking_tokens") or 0)
    yield _chunk(row.id, {"role": "assistant", "content": ""})
    for piece in split_pieces(row.response or ""):
        yield _chunk(row.id, {"content": piece.text})
    yield _chunk(row.id, {}, "stop")
    completion = int(row.tokens or 0)
    yield {
        **_chunk(row.id, {}),
        "choices": [],
        "usage": _usage(count_tokens(row.prompt), completion, thinking),
    }


def anthropic_events(row: Outcome, model: str = "claude-sonnet-4-5") -> Iterator[dict[str, Any]]:
    """The trace as Anthropic's Messages API streams it with extended thinking on."""
    reasoning, answer = row.reasoning or "", row.response or ""
    output = count_tokens(reasoning) + count_tokens(answer)
    message = {
        "id": f"msg_{row.id}",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": model,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": count_tokens(row.prompt), "output_tokens": 1},
    }
    yield {"type": "message_start", "message": message}
    block = {"type": "thinking", "thinking": "", "signature": ""}
    yield {"type": "content_block_start", "index": 0, "content_block": block}
    for piece in split_pieces(reasoning):
        delta = {"type": "thinking_delta", "thinking": piece.text}
        yield {"type": "content_block_delta", "index": 0, "delta": delta}
    signature = {"type": "signature_delta", "signature": f"sig-{row.id}"}
    yield {"type": "content_block_delta", "index": 0, "delta": signature}
    yield {"type": "content_block_stop", "index": 0}
    yield {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}
    for piece in split_pieces(answer):
        yield {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": piece.text},
        }
    yield {"type": "content_block_stop", "index": 1}
    end = {"stop_reason": "end_turn", "stop_sequence": None}
    yield {"type": "message_delta", "delta": end, "usage": {"output_tokens": output}}
    yield {"type": "message_stop"}


async def _record_anthropic(row: Outcome) -> list[dict[str, Any]]:
    """The chunks litellm's Anthropic client yields for `anthropic_events(row)` off a local port."""
    import litellm
    from aiohttp import web

    async def messages(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in anthropic_events(row):
            line = f"event: {event['type']}\ndata: {json.dumps(event)}\n\n"
            await response.write(line.encode())
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        stream = await litellm.acompletion(
            model="anthropic/claude-sonnet-4-5",
            api_base=f"http://127.0.0.1:{port}",
            api_key="recorded",
            messages=[{"role": "user", "content": row.prompt}],
            thinking={"type": "enabled", "budget_tokens": 4096},
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk.model_dump(exclude_none=True) async for chunk in stream]
    finally:
        await runner.cleanup()
    # litellm stamps a fresh id, time and cost; fixed values keep the build reproducible.
    for chunk in chunks:
        chunk.update(id=f"chatcmpl-{row.id}", created=1_700_000_000)
        (chunk.get("usage") or {}).pop("cost", None)
    return chunks


def _write(name: str, chunks: list[dict[str, Any]]) -> Path:
    path = FIXTURE_DIR / f"{name}.jsonl.gz"
    lines = "".join(json.dumps(c, separators=(",", ":"), sort_keys=True) + "\n" for c in chunks)
    with gzip.GzipFile(path, "wb", mtime=0) as fh:
        fh.write(lines.encode())
    return path


def build() -> list[Path]:
    """Write every dialect's fixture for ITEMS; returns the files."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    rows = load_dataset("mip-gsm8k")
    by_key = {(r.id, r.profile): r for r in rows}
    written = []
    for dialect in ("reasoning_content", "reasoning", "think_tags", "think_close"):
        chunks = [c for i in ITEMS for c in _tagged(i, openai_chunks(by_key[i, _THINKER], dialect))]
        written.append(_write(dialect, chunks))
    recorded = [
        c for i in ITEMS for c in _tagged(i, asyncio.run(_record_anthropic(by_key[i, _THINKER])))
    ]
    written.append(_write("anthropic", recorded))
    hidden = [c for i in ITEMS for c in _tagged(i, hidden_chunks(by_key[i, _HIDDEN]))]
    written.append(_write("hidden", hidden))
    return written


def _tagged(item: str, chunks: Any) -> Iterator[dict[str, Any]]:
    # Every line says which recorded item it replays, so one file holds several streams.
    for chunk in chunks:
        yield {"item": item, "chunk": chunk}


if __name__ == "__main__":
    for path in build():
        print(f"{path}  {path.stat().st_size:,} bytes")
