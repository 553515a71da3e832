"""Watcher alone: µs per checkpoint (median, p90) on the first N traces of a set.

    python bench/watch_checkpoint_cost.py [--set S] [--n 40] [--shadow] [--repeat 3] [--label L]

(from the repo root with PYTHONPATH=$PWD; compare two checkouts by alternating processes, each
with its own PYTHONPATH, on the same machine).
Feeds token-sized deltas to ConvergenceWatcher(WatcherParams()) (fixed threshold, exits) or a
shadow one; times every feed that made a checkpoint. Also prints all feeds' time per checkpoint.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from difficulty.traces import load_traces
from policies.convergence.simulator import token_deltas
from policies.convergence.watcher import ConvergenceWatcher, WatcherParams


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default="mip-gsm8k-QwQ-32B")
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--shadow", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    traces = [token_deltas(t.reasoning) for t in load_traces(args.set)[: args.n]]
    best = None
    for _ in range(args.repeat):
        costs: list[float] = []
        total = 0.0
        for deltas in traces:
            w = ConvergenceWatcher(WatcherParams(), shadow=args.shadow)
            t_all = time.perf_counter()
            for delta in deltas:
                seen = w.checkpoints
                start = time.perf_counter()
                decision = w.feed(delta)
                if w.checkpoints > seen:
                    costs.append((time.perf_counter() - start) * 1e6)
                if decision is not None:
                    break
            total += time.perf_counter() - t_all
        costs.sort()
        result = (
            statistics.median(costs),
            costs[int(0.9 * (len(costs) - 1))],
            len(costs),
            1e6 * total / len(costs),
        )
        best = result if best is None or result[0] < best[0] else best
        print(
            f"{args.label} {args.set} {'shadow' if args.shadow else 'fixed'}: median "
            f"{result[0]:.1f} µs  p90 {result[1]:.1f} µs  over {result[2]} checkpoints; all "
            f"feeds {result[3]:.1f} µs per checkpoint",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
