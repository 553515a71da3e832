"""Convergence watcher figures on the bundled traces: tokens saved vs accuracy, held out.

python bench/convergence.py [--sweep] [--json FILE] [--per-trace NAME]

The default watcher (`WatcherParams()`: the learned exit rule, weights and threshold fitted by
`bench/fit_exit_rule.py`) was fitted on the tuning half of the QwQ-32B and s1.1 GSM8K/MATH
traces (seeded split by item id, `policies.convergence.split_traces`); every figure for
those sets is on the other half. Each model's own threshold (a profile's `confidence`, chosen on its
tuning half) is printed too, with the text-only ceiling per set. The streak rule (k agreeing
explicit answers) is printed alongside; `--sweep` re-chooses its parameters on the tuning half
and prints its frontier. `--per-trace NAME` lists, for that set's tuning half, where each trace
first explicitly states the right answer and where the watcher exits (the gap to study).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from typing import Any

from difficulty.answers import answers_match
from difficulty.traces import load_traces
from policies.convergence import (
    SCAN_KINDS,
    PreparedTrace,
    TraceResult,
    WatcherParams,
    choose_params,
    default_rule,
    frontier,
    replay,
    split_traces,
    statements,
    summarize,
    sweep,
)

TARGET_MODELS = ("QwQ-32B", "s1.1")
OTHER_MODEL = "R1-Distill-Qwen-32B"
SOURCES = ("mip-gsm8k", "mip-math")
TARGET_SAVED = 0.45
MAX_DROP = 0.01
# The earlier default: an explicit answer held over 2 checkpoints 100 tokens apart.
STREAK = WatcherParams(rule="streak", k=2, interval_tokens=100, min_tokens=100)
# The known trap: stop as soon as any stated answer repeats, no calm window, no minimum.
NAIVE = WatcherParams(
    k=2,
    interval_tokens=20,
    min_tokens=0,
    hesitation_window=0,
    kinds=("boxed", "answer", "conclusion", "equals"),
    rule="streak",
)


def _pct(value: float | None) -> str:
    return "  -  " if value is None else f"{100 * value:5.1f}%"


def _row(name: str, s: dict[str, Any], verdict: str = "") -> str:
    return (
        f"  {name:<40} n={s['n']:<4} exits={s['exits']:<4} saved={_pct(s['tokens_saved'])}  "
        f"acc full={_pct(s['accuracy_full'])} exit={_pct(s['accuracy_exit'])}  {verdict}"
    )


def _ceiling(traces: list[PreparedTrace]) -> float:
    """Tokens saved by exiting where the full trace's answer is first stated (any candidate).

    No watcher that exits on a stated answer can save more without luck.
    """
    full = used = 0
    for prepared in traces:
        full += prepared.tokens_full
        end = next(
            (
                end
                for end, _, value in statements(prepared.trace.reasoning, SCAN_KINDS)
                if answers_match(value, prepared.answer_full)
            ),
            None,
        )
        used += prepared.tokens_full if end is None else prepared.tokens_until(end)
    return 1 - used / full if full else 0.0


EXPLICIT_KINDS = ("boxed", "answer", "conclusion", "result")


def _explicit_ceiling(traces: list[PreparedTrace]) -> float:
    """Tokens saved by exiting at the earliest explicit statement of the gold answer.

    Only on traces whose full answer is right (elsewhere the full trace is kept): the most a
    text-only exit on explicit statements can save without losing accuracy.
    """
    full = sum(prepared.tokens_full for prepared in traces)
    used = 0
    for prepared in traces:
        first = _first_right(prepared)
        used += prepared.tokens_full if first is None else first
    return 1 - used / full if full else 0.0


def _first_right(prepared: PreparedTrace) -> int | None:
    """Tokens at the earliest explicit statement of the gold answer (None: never, or wrong)."""
    trace = prepared.trace
    if not answers_match(prepared.answer_full, trace.gold):
        return None
    for end, _, value in statements(trace.reasoning, EXPLICIT_KINDS):
        if answers_match(value, trace.gold):
            return prepared.tokens_until(end)
    return None


def _per_trace(traces: list[PreparedTrace], params: WatcherParams) -> None:
    """Per trace: full tokens, the text-only ceiling's exit, the watcher's exit and answer."""
    print(f"  {'id':<16} {'full':>6} {'ceiling':>8} {'exit':>6} {'gap':>6}  answer at exit")
    rows = []
    for prepared, result in zip(traces, replay(traces, params), strict=True):
        first = _first_right(prepared)
        ceiling = prepared.tokens_full if first is None else first
        rows.append((result.tokens_at_exit - ceiling, prepared, ceiling, result))
    for gap, prepared, ceiling, result in sorted(rows, key=lambda row: -row[0]):
        verdict = "right" if result.correct_exit else "wrong"
        shown = result.answer_exit if result.exited else "(no exit)"
        print(
            f"  {prepared.trace.id:<16} {prepared.tokens_full:>6} {ceiling:>8} "
            f"{result.tokens_at_exit:>6} {gap:>6}  {shown} ({verdict})"
        )


def _pooled(results: list[TraceResult]) -> dict[str, Any]:
    """One model's GSM8K and MATH traces as one set: tokens and accuracy pooled."""
    s = summarize(results)
    return {key: s[key] for key in ("n", "exits", "tokens_saved", "accuracy_full", "accuracy_exit")}


def _verdict(s: dict[str, Any]) -> str:
    ok_saved = s["tokens_saved"] >= TARGET_SAVED
    ok_acc = s["accuracy_exit"] >= s["accuracy_full"] - MAX_DROP - 1e-9
    return "PASS" if ok_saved and ok_acc else "FALLS SHORT"


def main(argv: list[str] | None = None) -> int:
    """Print every figure of the convergence issue; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sweep", action="store_true", help="re-choose the defaults")
    parser.add_argument("--json", help="also write the figures as JSON here")
    parser.add_argument("--per-trace", metavar="NAME", help="list one set's tuning-half traces")
    args = parser.parse_args(argv)
    if args.per_trace:
        tune, _ = split_traces(load_traces(args.per_trace))
        _per_trace([PreparedTrace.of(t) for t in tune], WatcherParams())
        return 0
    started = time.perf_counter()
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {sys.platform}")
    figures: dict[str, Any] = {}

    halves = {}
    for source in SOURCES:
        for model in TARGET_MODELS:
            name = f"{source}-{model}"
            tune, held = split_traces(load_traces(name))
            halves[name] = (
                [PreparedTrace.of(t) for t in tune],
                [PreparedTrace.of(t) for t in held],
            )
    params = WatcherParams()
    streak = STREAK
    if args.sweep:
        points = sweep([tune for tune, _ in halves.values()], base=STREAK)
        streak = choose_params(points, max_drop=MAX_DROP).params
        print("\nstreak rule frontier, tuning half (mean saving, worst-dataset accuracy drop):")
        for p in frontier(points):
            print(
                f"  k={p.params.k} m={p.params.interval_tokens} "
                f"window={p.params.hesitation_window} min={p.params.min_tokens}: "
                f"saved {100 * p.tokens_saved:.1f}%  drop {100 * p.accuracy_drop:.1f} pt"
            )
    threshold = default_rule().threshold
    print(
        f"\nwatcher: learned exit rule, checkpoint every {params.interval_tokens} tokens after "
        f"{params.min_tokens}, confidence >= {threshold} (fitted on the tuning half)"
    )
    figures["params"] = {**params.to_config(), "confidence": threshold}
    figures["streak_params"] = streak.to_config()

    print(f"\nQwQ-32B and s1.1, held-out half (target: saved >= {100 * TARGET_SAVED:.0f}%, ")
    print(f"accuracy at exit >= full - {100 * MAX_DROP:.0f} pt):")
    held_results: dict[str, list[TraceResult]] = {}
    for name, (_, held) in halves.items():
        held_results[name] = replay(held, params)
        s = summarize(held_results[name])
        s["ceiling_tokens_saved"] = round(_ceiling(held), 4)
        s["explicit_ceiling_tokens_saved"] = round(_explicit_ceiling(held), 4)
        figures[name] = s
        print(_row(name, s, _verdict(s)))
    print(
        "  ceiling (exit where the final answer is first stated, as any candidate): "
        + ", ".join(f"{name} {_pct(figures[name]['ceiling_tokens_saved'])}" for name in halves)
    )
    print("  text-only ceiling (earliest explicit statement of the right answer, right traces):")
    for name in halves:
        s = figures[name]
        share = s["tokens_saved"] / s["explicit_ceiling_tokens_saved"]
        s["share_of_explicit_ceiling"] = round(share, 4)
        print(
            f"    {name:<38} ceiling {_pct(s['explicit_ceiling_tokens_saved'])}  watcher "
            f"{_pct(s['tokens_saved'])} = {_pct(share)} of it"
        )
    print("  pooled per model (GSM8K and MATH held-out traces together, tokens pooled):")
    for model in TARGET_MODELS:
        pooled = _pooled([r for source in SOURCES for r in held_results[f"{source}-{model}"]])
        figures[f"pooled:{model}"] = pooled
        print(_row(model, pooled, _verdict(pooled)))

    rule = default_rule()
    print("\nper-model threshold (a profile's `confidence`, chosen on that model's tuning half):")
    for model in TARGET_MODELS:
        mine = replace(params, confidence=rule.threshold_for(model))
        print(f"  {model}: confidence >= {mine.confidence}")
        results = []
        for source in SOURCES:
            name = f"{source}-{model}"
            found = replay(halves[name][1], mine)
            results += found
            s = summarize(found)
            s["confidence"] = mine.confidence
            s["share_of_explicit_ceiling"] = round(
                s["tokens_saved"] / figures[name]["explicit_ceiling_tokens_saved"], 4
            )
            figures[f"per-model:{name}"] = s
            print(_row(name, s, _verdict(s)))
        pooled = _pooled(results)
        figures[f"per-model:pooled:{model}"] = pooled
        print(_row(f"{model} pooled", pooled, _verdict(pooled)))

    print(
        f"\nstreak rule (k={streak.k}, m={streak.interval_tokens}, min={streak.min_tokens}, "
        f"window={streak.hesitation_window}, kinds={','.join(streak.kinds)}), held-out half:"
    )
    for name, (_, held) in halves.items():
        s = summarize(replay(held, streak))
        figures[f"streak:{name}"] = s
        print(_row(name, s, _verdict(s)))

    print(f"\n{OTHER_MODEL}, same params, all traces (reported as they fall):")
    for source in SOURCES:
        name = f"{source}-{OTHER_MODEL}"
        s = summarize(replay(load_traces(name), params))
        figures[name] = s
        print(_row(name, s))

    print("\nnaive rule (exit when any stated answer repeats), held-out half, for contrast:")
    for name, (_, held) in halves.items():
        s = summarize(replay(held, NAIVE))
        figures[f"naive:{name}"] = s
        print(_row(name, s))

    anchors = summarize(replay(load_traces("thought-anchors"), params))
    anchors.pop("traces", None)
    figures["thought-anchors"] = anchors
    print(
        "\nthought-anchors (20 traces, oracle = first chunk whose resampled accuracy stays >= 0.9):"
    )
    print(_row("thought-anchors", anchors))
    print(
        f"  premature exits (wrong at exit, right in full): {anchors['premature_exits']}; "
        f"exits before the oracle chunk: {anchors['exits_before_oracle']}\n"
        f"  oracle would save {_pct(anchors['oracle_tokens_saved'])}; watcher saves "
        f"{_pct(anchors['tokens_saved'])} = {_pct(anchors['savings_share_of_oracle'])} of the "
        f"oracle's savings; tokens left on the table: {anchors['tokens_left_on_table']}"
    )

    print("\nmissing-premise (ill-posed MATH; no right answer): share of traces forced to answer")
    for model in (*TARGET_MODELS, OTHER_MODEL):
        name = f"mip-missing-premise-{model}"
        traces = [PreparedTrace.of(t) for t in load_traces(name)]
        s = summarize(replay(traces, params))
        old = summarize(replay(traces, streak))
        figures[name] = s
        figures[f"streak:{name}"] = old
        print(
            f"  {name:<40} n={s['n']:<4} forced={_pct(s['forced_answer_share'])} "
            f"saved={_pct(s['tokens_saved'])}   (streak rule: forced="
            f"{_pct(old['forced_answer_share'])} saved={_pct(old['tokens_saved'])})"
        )
    print(f"\n({time.perf_counter() - started:.0f} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
