"""How much could any scorer of the watcher's leader save, and does a stronger scorer get there?

python bench/exit_scorer_study.py collect   # every checkpoint of the seven trace sets -> out/
python bench/exit_scorer_study.py oracle    # oracle bounds beside the history score's ceiling
python bench/exit_scorer_study.py gbm [--certify] [--seed 7] [--monotone] [--blend] [--doubt]
                                            # LightGBM, leave-one-model-out: AUC and ceilings

`collect` runs each trace through the default watcher in shadow (a neutral history, as
bench/fit_exit_history.py collects rows) and keeps, at every scored checkpoint past
`min_tokens`: the rule's log-odds of the leader, the 15 history features, the rule's 36 features
of the leader and of the runner-up, the leader, the number of options and the tokens so far (the
trace's own token counts, as the shadow records count them). Everything else reads that cache.

Oracle bounds (per set, share of all thinking tokens):
- stable: exit at the first checkpoint after the last one whose leader is not the full stream's
  answer (from there on the leader is the answer at every checkpoint);
- first: exit at the first checkpoint whose leader is the full stream's answer (no scorer that
  reads the leader can exit unchanged earlier).
Ceilings: the most a single threshold on a score saves over a set, exiting at the first
checkpoint whose score reaches it, with no changed answer (scanning thresholds down and stopping
at the first one that changes an answer, as bench/exit_calibration.py's `ceiling` does, but over
every distinct score, not the 134-point grid), and with at most 1% of the streams changed.
The "bench" column is bench/exit_calibration.py's own `ceiling` on records built from the cache
(the history score refitted per model on the other models' training items, as it does).

This study found s1.1's "Answer:" openings misread as the answer (6 of 582 GSM8K full answers);
`difficulty.answers` reads them right since, so the labels here are the gateway's own.
"""

from __future__ import annotations

import argparse
import bisect
import pickle
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fit_exit_history import SETS as FIT_SETS
from fit_exit_history import TraceCheckpoints, fit, training_item

from difficulty.answers import answers_match
from difficulty.tokens import _encoding
from difficulty.traces import load_traces
from policies.convergence import (
    ConvergenceWatcher,
    HistoryScore,
    PreparedTrace,
    WatcherParams,
)
from policies.convergence.features import FEATURE_NAMES
from policies.convergence.risk import THRESHOLDS
from policies.convergence.rule import default_rule

SETS = (*FIT_SETS, "thought-anchors")
MODELS = ("QwQ-32B", "s1.1", "R1-Distill-Qwen-32B")
OUT = Path(__file__).resolve().parent.parent / "out"
CACHE = OUT / "exit_rows.pkl"


@dataclass
class TraceRows:
    """One trace's scored checkpoints."""

    set: str
    id: str
    model: str
    training: bool
    tokens_full: int
    final: str | None
    z: np.ndarray  # rule log-odds of the leader
    history: np.ndarray  # (k, 15)
    leader_features: np.ndarray  # (k, 36)
    runner_features: np.ndarray  # (k, 36), zeros where there is no runner-up
    n_options: np.ndarray
    tokens: np.ndarray  # trace tokens at the checkpoint
    leaders: list[str] = field(default_factory=list)
    normalized: list[str] = field(default_factory=list)
    new_value: np.ndarray | None = None  # a value never seen at an earlier checkpoint appeared
    agrees: np.ndarray | None = None  # leader == full stream's answer
    chars: np.ndarray | None = None  # characters of reasoning at the checkpoint


def _prefix_counter(text: str):
    """Tokens in text[:chars] from one encoding of the whole text (token start offsets)."""
    enc = _encoding()
    ids = enc.encode(text, disallowed_special=())
    _, offsets = enc.decode_with_offsets(ids)
    return lambda chars: bisect.bisect_left(offsets, chars)


def collect_trace(name: str, trace, rule) -> TraceRows | None:
    prepared = PreparedTrace.of(trace)
    watcher = ConvergenceWatcher(
        WatcherParams(), shadow=True, record=True, exit_history=HistoryScore.neutral()
    )
    count = _prefix_counter(trace.reasoning)
    chars = 0
    z, hist, lead_f, run_f, n_opt, toks, leaders, norms, new, at = ([] for _ in range(10))
    seen_values: set[str] = set()
    width = len(FEATURE_NAMES)
    for delta in prepared.deltas:
        chars += len(delta)
        before_cp, before_h = watcher.checkpoints, len(watcher.history_seen)
        watcher.feed(delta)
        if watcher.checkpoints == before_cp:
            continue
        options = watcher.checkpoints_seen[-1].options
        values = {c.normalized for c, _ in options}
        fresh = bool(values - seen_values)
        seen_values |= values
        watcher.checkpoints_seen.clear()
        if len(watcher.history_seen) == before_h:
            continue
        zz, hv, leader = watcher.history_seen[-1]
        probs = rule.probabilities([f for _, f in options])
        order = sorted(range(len(probs)), key=lambda i: -probs[i])
        best = order[0]
        z.append(zz)
        hist.append(hv)
        lead_f.append(options[best][1])
        run_f.append(options[order[1]][1] if len(order) > 1 else (0.0,) * width)
        n_opt.append(len(options))
        toks.append(count(chars))
        at.append(chars)
        leaders.append(leader)
        norms.append(options[best][0].normalized)
        new.append(fresh)
    if not z:
        return None
    final = prepared.answer_full
    verdicts: dict[str, bool] = {}
    for leader in leaders:
        if leader not in verdicts:
            verdicts[leader] = final is not None and answers_match(leader, final)
    return TraceRows(
        set=name,
        id=trace.id,
        model=trace.model or name,
        training=training_item(trace.id),
        tokens_full=prepared.tokens_full,
        final=final,
        z=np.array(z),
        history=np.array(hist),
        leader_features=np.array(lead_f),
        runner_features=np.array(run_f),
        n_options=np.array(n_opt),
        tokens=np.array(toks),
        leaders=leaders,
        normalized=norms,
        new_value=np.array(new),
        agrees=np.array([verdicts[v] for v in leaders]),
        chars=np.array(at),
    )


def collect() -> None:
    rule = default_rule()
    rows: list[TraceRows] = []
    empty: dict[str, list[tuple[str, int, str | None]]] = {}
    start = time.time()
    for name in SETS:
        for trace in load_traces(name):
            r = collect_trace(name, trace, rule)
            if r is None:
                prepared = PreparedTrace.of(trace)
                empty.setdefault(name, []).append(
                    (trace.id, prepared.tokens_full, prepared.answer_full)
                )
            else:
                rows.append(r)
        print(f"{name}: {sum(r.set == name for r in rows)} traces ({time.time() - start:.0f}s)")
    OUT.mkdir(exist_ok=True)
    with CACHE.open("wb") as f:
        pickle.dump({"rows": [dict(vars(r)) for r in rows], "empty": empty}, f)
    print(f"wrote {CACHE}")


def load() -> tuple[list[TraceRows], dict]:
    with CACHE.open("rb") as f:
        data = pickle.load(f)
    return [TraceRows(**r) for r in data["rows"]], data["empty"]


# ---- bounds and ceilings ----------------------------------------------------------------


def oracle(rows: Sequence[TraceRows], total: int) -> tuple[float, float]:
    """(stable, first) oracle savings as shares of `total` tokens."""
    stable = first = 0
    for r in rows:
        a = r.agrees
        if not a.any():
            continue
        first += r.tokens_full - r.tokens[int(np.argmax(a))]
        if a[-1]:
            wrong = np.flatnonzero(~a)
            k = 0 if len(wrong) == 0 else wrong[-1] + 1
            stable += r.tokens_full - r.tokens[k]
    return stable / total, first / total


def ceilings(
    rows: Sequence[TraceRows],
    scores: Sequence[np.ndarray],
    total: int,
    n_streams: int,
    allowed: float = 0.01,
    grid: Sequence[float] | None = None,
    extra: Sequence[int] = (),
) -> tuple[float, ...]:
    """(saved at 0 changed, saved at <= allowed of the streams changed, threshold at 0 changed,
    then saved at <= k changed streams for each k of `extra`).

    Thresholds scanned downwards (every distinct score, or `grid`); the scan stops at the first
    threshold over the allowance, as bench/exit_calibration.py's `ceiling` does.
    """
    # Per trace: running-maximum trail (value, tokens saved, agrees) at new maxima only.
    trails = []
    for r, s in zip(rows, scores, strict=True):
        best = -np.inf
        vals, saved, ok = [], [], []
        for j, v in enumerate(s):
            if v > best:
                best = v
                vals.append(v)
                saved.append(r.tokens_full - r.tokens[j])
                ok.append(bool(r.agrees[j]))
        trails.append((np.array(vals), np.array(saved, dtype=float), np.array(ok)))
    if grid is None:
        ts = np.unique(np.concatenate([t[0] for t in trails if len(t[0])]))[::-1]
    else:
        ts = np.array(sorted(grid, reverse=True))
    changed = np.zeros(len(ts))
    saved = np.zeros(len(ts))
    for vals, sv, ok in trails:
        if not len(vals):
            continue
        # first trail entry >= t: trail values increase
        idx = np.searchsorted(vals, ts, side="left")
        hit = idx < len(vals)
        j = np.where(hit, idx, 0)
        changed += hit & ~ok[j]
        saved += np.where(hit, np.maximum(sv[j], 0), 0)
    out = []
    limit_thr = None
    for limit in (0, allowed * n_streams, *extra):
        over = np.flatnonzero(changed > limit + 1e-9)
        k = (over[0] if len(over) else len(ts)) - 1
        out.append(saved[k] / total if k >= 0 else 0.0)
        if limit == 0 and k >= 0:
            limit_thr = float(ts[k])
    return (out[0], out[1], limit_thr, *out[2:])


def set_totals(rows: Sequence[TraceRows], empty: dict, name: str) -> tuple[int, int]:
    """(all thinking tokens of the set, streams) including traces with no scored checkpoint."""
    extra = empty.get(name, [])
    total = sum(r.tokens_full for r in rows if r.set == name) + sum(t for _, t, _ in extra)
    return total, sum(r.set == name for r in rows) + len(extra)


def model_of(name: str) -> str:
    return next((m for m in MODELS if name.endswith(m)), name)


def unseen_histories(rows: Sequence[TraceRows]) -> dict[str, HistoryScore]:
    """As bench/exit_calibration.py: per model, fitted on the other models' training items."""
    as_fit = [
        TraceCheckpoints(r.model, r.z, r.history, r.agrees.astype(float))
        for r in rows
        if r.training and r.set in FIT_SETS
    ]
    fitted = {m: fit([t for t in as_fit if t.model != m]) for m in MODELS}
    fitted["thought-anchors"] = fit(as_fit)
    return fitted


def history_scores(rows: Sequence[TraceRows], histories) -> list[np.ndarray]:
    out = []
    for r in rows:
        h = histories[model_of(r.set)]
        out.append(np.array([h.probability(z, f) for z, f in zip(r.z, r.history, strict=True)]))
    return out


def records(
    rows: Sequence[TraceRows], empty: dict, scores: Sequence[np.ndarray], name: str
) -> tuple[list, list]:
    """The set's traces in file order and their shadow records on `scores` (trail: the
    checkpoints whose score beat every earlier one)."""
    from difficulty.traces import load_traces
    from policies.convergence import ShadowRecord

    family = "gsm8k" if "gsm8k" in name else "math"
    by_id = {r.id: (r, s) for r, s in zip(rows, scores, strict=True) if r.set == name}
    blank = {i: (t, f) for i, t, f in empty.get(name, [])}
    traces, out = [], []
    for trace in load_traces(name):
        traces.append(trace)
        if trace.id in by_id:
            r, s = by_id[trace.id]
            trail, best = [], -1.0
            for v, leader, tokens in zip(s, r.leaders, r.tokens, strict=True):
                if v > best:
                    best = float(v)
                    trail.append((best, leader, int(tokens)))
            out.append(ShadowRecord(r.model, family, tuple(trail), r.tokens_full, r.final))
        else:
            tokens, final = blank[trace.id]
            out.append(ShadowRecord(trace.model or name, family, (), tokens, final))
    return traces, out


def cmd_oracle() -> None:
    rows, empty = load()
    histories = unseen_histories(rows)
    hs = history_scores(rows, histories)
    rule = [1 / (1 + np.exp(-r.z)) for r in rows]
    from exit_calibration import ceiling  # the bench's own ceiling, on records built from the cache

    print(
        f"{'set':<32}{'n':>5}{'stable':>8}{'first':>8}{'bench':>7}{'hist grid':>10}{'hist all':>9}"
        f"{'hist<=1%':>9}{'rule all':>9}"
    )
    for name in SETS:
        pick = [i for i, r in enumerate(rows) if r.set == name]
        sub = [rows[i] for i in pick]
        total, n = set_totals(rows, empty, name)
        stable, first = oracle(sub, total)
        g0, *_ = ceilings(sub, [hs[i] for i in pick], total, n, grid=THRESHOLDS)
        bench = ceiling(records(rows, empty, hs, name)[1])
        h0, h1, *_ = ceilings(sub, [hs[i] for i in pick], total, n)
        r0, *_ = ceilings(sub, [rule[i] for i in pick], total, n)
        print(
            f"{name:<32}{n:>5}{100 * stable:>7.1f}%{100 * first:>7.1f}%{100 * bench:>6.1f}%"
            f"{100 * g0:>9.1f}%"
            f"{100 * h0:>8.1f}%{100 * h1:>8.1f}%{100 * r0:>8.1f}%"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=("collect", "oracle", "gbm"))
    args, rest = parser.parse_known_args(argv)
    if args.command == "collect":
        collect()
    elif args.command == "oracle":
        cmd_oracle()
    else:
        from exit_scorer_gbm import main as gbm_main

        return gbm_main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
