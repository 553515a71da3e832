"""Fingerprint of the convergence watcher's decisions over ~300 traces of six sets: a change
meant to make watching cheaper must leave this hash as it was.

    python bench/watch_fingerprint.py [--per-set 50]

(run from the repo root with PYTHONPATH=$PWD). The hash at commit 3e5a5ec and after:
1179c981aa18e72d...3148ce96 (300 traces, 27,733 shadow checkpoints).
Hashes, at every checkpoint of every trace, for several watchers:
  A shadow, record=True, history score (calibrating): options (candidate + features),
    the rule's probabilities of the options, the history row, the trail;
  B exiting at the fixed threshold (shipped rule threshold): trail, decision;
  C exiting on a calibrated threshold 0.95 (history score): trail, decision;
  D exiting at the fixed threshold with loop_action=answer, min 1000 tokens: trail, decision;
  E shadow, record=False (the gateway's shadow): trail.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from typing import Any

from fit_exit_history import SETS  # the six trace sets the exit history is fitted on

from difficulty.traces import load_traces
from policies.convergence.simulator import token_deltas
from policies.convergence.watcher import ConvergenceWatcher, WatcherParams


def h(x: object) -> str:
    if isinstance(x, float):
        return x.hex()
    if isinstance(x, (tuple, list)):
        return "(" + ",".join(h(v) for v in x) + ")"
    return repr(x)


def watchers() -> dict[str, ConvergenceWatcher]:
    return {
        "A": ConvergenceWatcher(WatcherParams(), shadow=True, record=True),
        "B": ConvergenceWatcher(WatcherParams()),
        "C": ConvergenceWatcher(WatcherParams(), threshold=0.95),
        "D": ConvergenceWatcher(WatcherParams(loop_action="answer", loop_min_tokens=1000)),
        "E": ConvergenceWatcher(WatcherParams(), shadow=True),
    }


def run(deltas: list[str], digest: Any) -> int:
    checkpoints = 0
    for name, w in watchers().items():
        for delta in deltas:
            seen = w.checkpoints
            decision = w.feed(delta)
            if w.checkpoints > seen or decision is not None:
                checkpoints += name == "A"
                row = [
                    name,
                    w.checkpoints,
                    w.tokens,
                    h(w.trail[-1] if w.trail else None),
                    len(w.trail),
                    repr(decision),
                ]
                if name == "A":
                    cp = w.checkpoints_seen[-1]
                    row.append(h([(c.text, c.normalized, c.kind, c.end, f) for c, f in cp.options]))
                    probs = w._rule.probabilities([f for _, f in cp.options])
                    row.append(h(probs))
                    row.append(h(w.history_seen[-1] if w.history_seen else None))
                digest.update(("|".join(map(str, row)) + "\n").encode())
            if decision is not None:
                break
        digest.update(f"{name} end {w.checkpoints} {w.decision!r} {len(w.trail)}\n".encode())
    return checkpoints


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-set", type=int, default=50)
    args = parser.parse_args()
    total = hashlib.sha256()
    traces = checkpoints = 0
    for name in SETS:
        digest = hashlib.sha256()
        n = 0
        for trace in load_traces(name)[: args.per_set]:
            n += run(token_deltas(trace.reasoning), digest)
            traces += 1
        checkpoints += n
        print(f"{name:<32} {n:6d} checkpoints  {digest.hexdigest()[:16]}")
        total.update(digest.digest())
    print(f"total {traces} traces, {checkpoints} shadow checkpoints: {total.hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
