"""Build the reasoning-dialect chunk fixtures from the bundled recorded traces.

`python -m tests.data.dialects.build` records, from the replay upstream serving the bundled
mip-gsm8k recordings, one gzip JSONL file per dialect (one chat-completion chunk per line,
tagged with its item): the same QwQ-32B thinking as `reasoning_content`, `reasoning`, `<think>`
tags and template-opened thinking (`</think>` only); `anthropic`, the same traces read back
through litellm's own Anthropic client from the replay upstream's Messages API; and `hidden`,
o3-mini's recorded answer with its recorded thinking-token count in the usage only.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
from pathlib import Path
from typing import Any

import httpx

from difficulty.datasets import load_dataset
from router.replay import ReplayUpstream

__all__ = ["FIXTURE_DIR", "ITEMS", "build"]

FIXTURE_DIR = Path(__file__).parent
# Short traces on which the default watcher exits early (at 275 of 575 and 375 of 513 tokens).
ITEMS = ("mip-gsm8k-010", "mip-gsm8k-458")
_CLAUDE = "claude-sonnet-4-5"


def _fixed(chunk: dict[str, Any], item: str) -> dict[str, Any]:
    # Servers stamp a fresh id and time (litellm a cost too): fixed, the build is reproducible.
    chunk.update(id=f"chatcmpl-{item}", created=1_700_000_000)
    (chunk.get("usage") or {}).pop("cost", None)
    return {"item": item, "chunk": chunk}


def _openai(base: str, model: str, prompt: str, dialect: str) -> list[dict[str, Any]]:
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    reply = httpx.post(
        f"{base}/chat/completions", json=body, headers={"x-replay-dialect": dialect}, timeout=60
    )
    reply.raise_for_status()
    events = reply.text.split("\n\n")
    return [json.loads(e[6:]) for e in events if e.startswith("data: {")]


async def _anthropic(url: str, prompt: str) -> list[dict[str, Any]]:
    import litellm

    stream = await litellm.acompletion(
        model=f"anthropic/{_CLAUDE}",
        api_base=url,
        api_key="recorded",
        messages=[{"role": "user", "content": prompt}],
        thinking={"type": "enabled", "budget_tokens": 4096},
        stream=True,
        stream_options={"include_usage": True},
    )
    return [chunk.model_dump(exclude_none=True) async for chunk in stream]


def _write(name: str, rows: list[dict[str, Any]]) -> Path:
    path = FIXTURE_DIR / f"{name}.jsonl.gz"
    lines = "".join(json.dumps(r, separators=(",", ":"), sort_keys=True) + "\n" for r in rows)
    with gzip.GzipFile(path, "wb", mtime=0) as fh:
        fh.write(lines.encode())
    return path


def build() -> list[Path]:
    """Record every dialect's fixture for ITEMS; returns the files written."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    rows = [
        r
        for r in load_dataset("mip-gsm8k")
        if r.id in ITEMS and r.profile in ("QwQ-32B", "o3-mini")
    ]
    prompts = {r.id: r.prompt for r in rows}
    written = []
    with ReplayUpstream(rows, aliases={_CLAUDE: "QwQ-32B"}) as upstream:
        for dialect in ("reasoning_content", "reasoning", "think_tags", "think_close"):
            chunks = [
                _fixed(c, i)
                for i in ITEMS
                for c in _openai(upstream.base_url, "QwQ-32B", prompts[i], dialect)
            ]
            written.append(_write(dialect, chunks))
        hidden = [
            _fixed(c, i)
            for i in ITEMS
            for c in _openai(upstream.base_url, "o3-mini", prompts[i], "hidden")
        ]
        written.append(_write("hidden", hidden))
        recorded = [
            _fixed(c, i) for i in ITEMS for c in asyncio.run(_anthropic(upstream.url, prompts[i]))
        ]
        written.append(_write("anthropic", recorded))
    return written


if __name__ == "__main__":
    for path in build():
        print(f"{path}  {path.stat().st_size:,} bytes")
