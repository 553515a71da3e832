"""Issue-18 gateway figures: searches against the replay upstream serving qwen25-math-eval.

    python bench/search_gateway.py [--problems 100]

For every problem, one search request (forced `thinkgate/vote`, reward model as verifier,
best-of-N) against the replay upstream, which answers with the recorded samples in their
recorded order and the recorded reward scores. One at a time (wave 1), the upstream calls must
equal what the rule predicts on the recorded samples with the request's own forecast; with
wave 4, samples run concurrently and the ones the vote no longer needs are cancelled: the
figure is how many, and that the ledger bills exactly the samples it counted.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from difficulty.answers import stated_answer
from difficulty.datasets import load_dataset
from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens
from policies.decision import SamplingPlan
from policies.search import AdaptiveVote, Confidence, cluster_answers, sample_weight
from router.app import create_app
from router.ledger.base import open_ledger
from router.replay.server import ReplayUpstream
from router.server_thread import ServerThread
from router.settings import settings_from_mapping

CALIBRATION = {"intercept": -0.0653, "slope": 1.2562, "curve": 0.1652, "base_logit": 2.329}


def config(replay: ReplayUpstream, db: Path, wave: int) -> dict[str, Any]:
    base = replay.base_url
    return {
        "profiles": {
            "vote": {
                "model": "openai/math-cot-sampled",
                "api_base": base,
                "predictor": "QwQ-32B",
                "search": {
                    "max_samples": 8,
                    "min_samples": 2,
                    "wave": wave,
                    "verifier": "rm",
                    "aggregate": "best_of_n",
                },
            },
            "rm": {
                "model": "openai/reward-model",
                "api_base": base,
                "verifier": {"kind": "pooling", **CALIBRATION},
            },
        },
        "policy": {"kind": "fixed", "profile": "vote"},
        "ledger": {"url": f"sqlite:///{db}"},
    }


def predicted(row: Outcome, forecast: dict[str, Any]) -> int:
    """Samples the rule draws on the recorded samples in order, with the request's forecast."""
    plan = SamplingPlan(8, 0.995, 2, forecast["p_correct"], forecast["tokens"])
    vote = AdaptiveVote(plan)
    judge = Confidence(**CALIBRATION)
    answers: list[str | None] = []
    for s in row.samples or ():
        answers.append(stated_answer(s.text or ""))
        w = sample_weight(count_tokens(s.text or ""), plan.typical_tokens, s.score, verifier=judge)
        if vote.add(cluster_answers(answers)[-1], w, s.score):
            break
    return vote.samples


def records(db: Path) -> dict[str, Any]:
    import asyncio

    async def read() -> list[Any]:
        ledger = open_ledger(f"sqlite:///{db}")
        try:
            return await ledger.records()
        finally:
            await ledger.close()

    return {r.request_id: r for r in asyncio.run(read())}


def run(rows: list[Outcome], wave: int, tmp: Path) -> None:
    db = tmp / f"wave{wave}.db"
    with ReplayUpstream(rows) as replay:
        settings = settings_from_mapping(config(replay, db, wave))
        with ServerThread(create_app(settings), start_timeout=120) as gw:
            calls, asked = [], []
            for row in rows:
                replay.reset_samples()
                before = replay.stats.requests
                body = {
                    "model": "thinkgate/vote",
                    "messages": [{"role": "user", "content": row.prompt}],
                }
                reply = httpx.post(f"{gw.url}/v1/chat/completions", json=body, timeout=300)
                reply.raise_for_status()
                calls.append(replay.stats.requests - before)
                asked.append((row, reply.headers["x-thinkgate-request-id"], reply.json()))
    ledger = records(db)
    matched = billed = cancelled = counted = 0
    for (row, rid, reply), n in zip(asked, calls, strict=True):
        record = ledger[rid]
        counted += record.search["samples"]
        cancelled += record.search["cancelled"]
        texts = [s.text or "" for s in (row.samples or ())]
        # The billed tokens are the counted samples' (the replay serves them in recorded order).
        served = sum(
            count_tokens(t) for t in texts[: record.search["samples"] + record.search["cancelled"]]
        )
        billed += record.completion_tokens == reply["usage"]["completion_tokens"] <= served
        if wave == 1:
            matched += n == predicted(row, record.predictions["vote"])
    total = len(rows)
    print(
        f"  wave {wave}: {total} searches, {sum(calls) / total:.2f} upstream calls each, "
        f"{counted / total:.2f} samples counted, {cancelled} cancelled in all"
    )
    if wave == 1:
        print(f"    upstream calls == the rule's prediction on recorded samples: {matched}/{total}")
    print(f"    ledger completion tokens == usage, and no more than was served: {billed}/{total}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python bench/search_gateway.py")
    parser.add_argument("--problems", type=int, default=100)
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    rows = load_dataset("qwen25-math-eval")[: args.problems]
    print(
        f"\n## search requests against the replay upstream (qwen25-math-eval, {len(rows)} problems)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for wave in (1, 4):
            run(rows, wave, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
