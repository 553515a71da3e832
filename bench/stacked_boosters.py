"""The shipped bag's forecast per prompt, boosters stacked (one call per target) or one call
per member and target, timed side by side in one process.

    python bench/stacked_boosters.py [--rounds 3]

Routes the everyday prompts (bench/data/everyday_prompts.jsonl) through `predict_one`, the
serving path, alternating the two ways prompt by prompt so both see the same machine; prints
medians, their ratio, and the largest difference between the two forecasts (0: the same).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from difficulty.descriptions import Description
from difficulty.general import GENERAL_MODEL_DIR, GeneralModel

PROMPTS = Path(__file__).resolve().parent / "data" / "everyday_prompts.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model = GeneralModel.load(GENERAL_MODEL_DIR)
    stacked = dict(model.stacked_)
    described = {"direct": Description("direct", "strong"), "think": Description("think", "strong")}
    prompts = [json.loads(line)["prompt"] for line in PROMPTS.read_text().splitlines()]
    times: dict[str, list[float]] = {"stacked": [], "per member": []}
    worst = 0.0
    for _ in range(args.rounds):
        for prompt in prompts:
            out = {}
            for way in times:
                model.stacked_ = stacked if way == "stacked" else {}
                t0 = time.perf_counter()
                preds, _ = model.predict_one(prompt, described)
                times[way].append(1000 * (time.perf_counter() - t0))
                out[way] = np.array([[p.p_correct, p.tokens] for p in preds.values()])
            worst = max(worst, float(np.abs(out["stacked"] - out["per member"]).max()))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"{len(model.members_)} members, {len(prompts)} prompts x {args.rounds} rounds")
    medians = {way: statistics.median(ts) for way, ts in times.items()}
    for way, ms in medians.items():
        print(f"  {way:<10} predict_one median {ms:.2f} ms")
    print(f"  ratio per member / stacked: {medians['per member'] / medians['stacked']:.2f}")
    print(f"  largest difference between the two forecasts: {worst:.3g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
