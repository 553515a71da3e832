"""Drop-in figures: the chat-completions request fields honoured, early exit in every dialect.

python bench/dropin.py [--traces 40] [--markdown]

Starts the replay upstream (bundled mip-gsm8k recordings) and the gateway in-process, then:
1. For every request field of the `openai` package's own `CompletionCreateParams` (read at run
   time, so a new SDK field shows up as unverified), sends a request carrying it and checks
   what the upstream received: relayed fields must arrive as sent; fields thinkgate decides
   must arrive as it decided (model routed, upstream always streamed with usage, messages
   intact, the effort policy applied); refused ones must get a 400 naming them. Prints the
   share verified (target 100%).
2. Streams the same held-out QwQ-32B traces (never used to fit the exit rule) through five
   thinking profiles that differ only in how the upstream writes thinking
   (`reasoning_content`, `reasoning`, `<think>` tags, template-opened `</think>` only, Anthropic
   thinking blocks through litellm's own client), and prints per dialect the early exits, the
   thinking tokens at exit and the thinking tokens saved (target: the same on every dialect).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx  # noqa: E402
from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming  # noqa: E402

from difficulty.datasets import load_dataset  # noqa: E402
from difficulty.outcomes import Outcome  # noqa: E402
from difficulty.split import is_holdout  # noqa: E402
from difficulty.tokens import count_tokens  # noqa: E402
from router.app import create_app  # noqa: E402
from router.chat_schema import FIELDS  # noqa: E402
from router.replay import ReplayUpstream  # noqa: E402
from router.server_thread import ServerThread  # noqa: E402
from router.settings import settings_from_mapping  # noqa: E402
from tests.router.compat_fields import FIELD_SAMPLES  # noqa: E402

DIALECTS = {
    "think": "reasoning_content",
    "think_reasoning": "reasoning",
    "think_tags": "think_tags",
    "think_close": "think_close",
    "claude": "anthropic",
}


def _config(replay: ReplayUpstream, ledger: str) -> dict[str, Any]:
    # The shipped fixed threshold: the bench compares dialects at one exit point, and a calibrated
    # watcher meeting a model cold lets its first 299 streams run whole (no exits in 40 traces).
    base, watch = replay.base_url, {"convergence": {"enabled": True, "calibration": False}}

    def http(model: str, dialect: str | None = None, **extra: Any) -> dict[str, Any]:
        profile: dict[str, Any] = {"model": f"openai/{model}", "api_base": base, **extra}
        if dialect is not None:
            profile["params"] = {"extra_headers": {"x-replay-dialect": dialect}}
        return profile

    claude = {
        "model": "anthropic/claude-sonnet-4-5",
        "api_base": replay.url,
        "params": {"thinking": {"type": "enabled", "budget_tokens": 8000}},
        **watch,
    }
    profiles = {
        "direct": http("Qwen2.5-32B", predictor="Qwen2.5-32B"),
        "think": http("QwQ-32B", predictor="QwQ-32B", **watch),
        "think_reasoning": http("QwQ-32B", "reasoning", **watch),
        "think_tags": http("QwQ-32B", "think_tags", **watch),
        "think_close": http("QwQ-32B", "think_close", **watch),
        "claude": claude,
    }
    return {
        "profiles": profiles,
        "policy": {"kind": "target", "epsilon": 0.05},
        "reference_profile": "think",
        "ledger": {"url": ledger},
    }


def _sent(replay: ReplayUpstream) -> dict[str, Any]:
    body: dict[str, Any] = replay.received[-1]["body"]
    return body


def _checks(
    prompt: str,
) -> dict[str, tuple[dict[str, Any], Callable[[int, Any, dict[str, Any]], bool]]]:
    """Decided and refused fields: (request extras, check(status, reply, upstream body))."""
    msgs = [{"role": "user", "content": prompt}]
    return {
        "model": (
            {"model": "thinkgate/auto"},
            lambda s, r, b: s == 200 and b["model"] != "thinkgate/auto",
        ),
        "messages": ({}, lambda s, r, b: s == 200 and b["messages"] == msgs),
        "stream": ({"stream": False}, lambda s, r, b: s == 200 and b["stream"] is True),
        "stream_options": (
            {"stream": True, "stream_options": {"include_usage": False}},
            lambda s, r, b: s == 200 and b["stream_options"] == {"include_usage": True},
        ),
        "reasoning_effort": (
            {"reasoning_effort": "low", "thinkgate": {"effort": "keep"}},
            lambda s, r, b: s == 200 and b.get("reasoning_effort") == "low",
        ),
        "n": (
            {"model": "thinkgate/auto", "n": 2},
            lambda s, r, b: s == 400 and r["error"]["param"] == "n",
        ),
    }


def field_coverage(
    gateway: str, replay: ReplayUpstream, prompt: str
) -> list[tuple[str, str, bool]]:
    """(field, decision, verified) for every field of openai's chat-completions params."""
    rows = []
    checks = _checks(prompt)
    for field in sorted(CompletionCreateParamsStreaming.__annotations__):
        decision = FIELDS.get(field, ("not covered", ""))[0]
        body: dict[str, Any] = {
            "model": "thinkgate/direct",
            "messages": [{"role": "user", "content": prompt}],
        }
        if field in checks:
            extra, check = checks[field]
            body.update(extra)
        else:
            body[field] = FIELD_SAMPLES.get(field)
            sample = body[field]

            def check(s: int, r: Any, b: dict[str, Any], f: str = field, v: Any = sample) -> bool:
                return s == 200 and b.get(f) == v

        before = len(replay.received)
        reply = httpx.post(f"{gateway}/v1/chat/completions", json=body, timeout=60)
        data = (
            reply.json()
            if reply.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        upstream = _sent(replay) if len(replay.received) > before else {}
        rows.append((field, decision, bool(check(reply.status_code, data, upstream))))
    return rows


def _stream(gateway: str, profile: str, prompt: str) -> dict[str, Any]:
    body = {
        "model": f"thinkgate/{profile}",
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
    }
    facts: dict[str, Any] = {}
    with httpx.stream("POST", f"{gateway}/v1/chat/completions", json=body, timeout=120) as reply:
        for line in reply.iter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[6:])
                facts = chunk.get("thinkgate") or facts
    return facts


def dialect_exits(gateway: str, traces: list[Outcome]) -> dict[str, dict[str, Any]]:
    """Per dialect: exits, thinking tokens at exit, thinking tokens saved on the same traces."""
    out: dict[str, dict[str, Any]] = {}
    for profile, dialect in DIALECTS.items():
        exits, at_exit, saved, per_trace = 0, 0, 0, []
        t0 = time.perf_counter()
        for trace in traces:
            facts = _stream(gateway, profile, trace.prompt)
            early = facts.get("early_exit")
            per_trace.append(early["tokens_at_exit"] if early else None)
            if early:
                exits += 1
                at_exit += early["tokens_at_exit"]
                saved += count_tokens((trace.reasoning or "").strip()) - early["tokens_at_exit"]
        out[dialect] = {
            "traces": len(traces),
            "exits": exits,
            "tokens_at_exit": at_exit,
            "saved": saved,
            "per_trace": per_trace,
            "seconds": time.perf_counter() - t0,
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--traces", type=int, default=40, help="held-out QwQ-32B traces per dialect"
    )
    parser.add_argument("--markdown", action="store_true", help="print the README field table")
    args = parser.parse_args()
    # The replay upstream writes on after the gateway cuts a stream (that is the point);
    # asyncio's per-write warnings about the closed socket say nothing here.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    rows = load_dataset("mip-gsm8k")
    held = [r for r in rows if r.profile == "QwQ-32B" and r.reasoning and is_holdout(r.id)]
    traces = sorted(held, key=lambda r: r.id)[: args.traces]
    ids = {t.id for t in traces} | {held[0].id}
    replay_rows = [r for r in rows if r.id in ids and r.profile in ("QwQ-32B", "Qwen2.5-32B")]
    machine = f"{platform.node()} {platform.machine()} {os.cpu_count()} cpus"
    print(f"machine: {machine}, python {sys.version.split()[0]}")
    with (
        tempfile.TemporaryDirectory() as tmp,
        ReplayUpstream(replay_rows, aliases={"claude-sonnet-4-5": "QwQ-32B"}) as replay,
    ):
        settings = settings_from_mapping(_config(replay, f"sqlite:///{tmp}/ledger.db"))
        with ServerThread(create_app(settings), start_timeout=300) as server:
            coverage = field_coverage(server.url, replay, traces[0].prompt)
            exits = dialect_exits(server.url, traces)
    verified = sum(ok for _, _, ok in coverage)
    print(f"\nchat-completions request fields (openai {_openai_version()}): {len(coverage)}")
    for field, decision, ok in coverage:
        print(f"  {field:24s} {decision:12s} {'verified' if ok else 'NOT VERIFIED'}")
    share = 100.0 * verified / len(coverage)
    what = "relayed or decided as documented, or refused by name"
    print(f"{what}: {verified}/{len(coverage)} = {share:.0f}%")
    print(f"\nearly exit on {len(traces)} held-out mip-gsm8k QwQ-32B traces, by reasoning dialect:")
    header = ("dialect", "exits", "tokens at exit", "thinking saved", "seconds")
    print("  {:18s} {:>6s} {:>15s} {:>15s} {:>8s}".format(*header))
    for dialect, r in exits.items():
        cells = (dialect, r["exits"], r["tokens_at_exit"], r["saved"], r["seconds"])
        print("  {:18s} {:6d} {:15,d} {:15,d} {:8.1f}".format(*cells))
    same = len({tuple(r["per_trace"]) for r in exits.values()}) == 1
    print(f"same exit point on every trace in every dialect: {'yes' if same else 'NO'}")
    if args.markdown:
        print("\n| field | thinkgate | how |\n|---|---|---|")
        for field, (decision, how) in sorted(FIELDS.items()):
            print(f"| `{field}` | {decision} | {how} |")
    return 0 if verified == len(coverage) and same else 1


def _openai_version() -> str:
    import openai

    return str(openai.__version__)


if __name__ == "__main__":
    raise SystemExit(main())
