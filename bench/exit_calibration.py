"""Early exit with a guarantee on the bundled traces: held-out, unseen-model and ordering figures.

python bench/exit_calibration.py [--orderings 20] [--over streams|exits|both]
                                  [--score history|rule|both] [--interval-tokens 25]
                                  [--json FILE]

Every trace is first turned into its shadow record (the default watcher in shadow over the
whole trace: where each threshold would exit, on which candidate). The score is the history
score (default) or the rule's probability alone (`--score rule`). The history score's weights
are fitted here as in the unseen-model protocol (bench/fit_exit_history.py): for each model on
the training items of the other models only (thought-anchors: of all three), never on an item
any figure below evaluates. Then, at the default guarantee (changed answers <= 1% of the
streams, miss probability 10%, shadow share 10%):

- held-out: the threshold certified on a set's tuning half (seeded split by item id) serves
  the other half, 10% of it still run whole as shadows (their cost counted);
- seeded, per model: as `thinkgate calibrate` and the demo do, the book is seeded from the
  training split of difficulty.split (one look) and serves the documented held-out split;
- unseen model, cold: the set replayed in file order from an empty book (cold start: every
  stream runs whole until a threshold is certified, then the shadow share), per model and
  family, and per model with its GSM8K and MATH streams as one family ("default", the
  gateway's key when a profile names no family);
- orderings: the cold replay over N random orderings of each file. What the guarantee states
  is checked on the file as the population (a random ordering draws the calibration streams
  from it): the share of runs in which any threshold put in force changes the answer of more
  than 1% of the streams (or of its exits, `--over exits`) over the whole file must stay at most
  the 10% miss probability. The realised rate of each run (changed / streams or exits served
  after certification) is printed beside it with how many it was counted over: over a few dozen
  one change is already more than 1%, so it is a noisy estimate of that rate, not the rate;
- the oracle zero-change ceiling: the most a threshold on this score could save with no
  changed answer on the whole file (in hindsight);
- decision cost: the watcher's time per checkpoint (median, p90) while it reads the traces.

The rule under both scores was fitted on the tuning halves of QwQ-32B and s1.1
(bench/fit_exit_rule.py): their cold figures are not strictly "unseen"; R1-Distill-Qwen-32B
and thought-anchors (R1-Distill-Llama-8B) are. LIMO's traces are not bundled; BoInf records
answers and lengths, no thinking text, so no text watcher can read it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from dataclasses import asdict, replace
from typing import Any

from fit_exit_history import SETS as FIT_SETS
from fit_exit_history import collect, fit, training_item

from difficulty.answers import answers_match
from difficulty.split import is_holdout
from difficulty.traces import Trace, load_traces
from policies.convergence import (
    CalibrationSettings,
    ConvergenceWatcher,
    HistoryScore,
    KeyBook,
    PreparedTrace,
    ShadowRecord,
    WatcherParams,
    in_shadow,
    split_traces,
)
from policies.convergence.online import replay_cold, shadow_record

SETS = (*FIT_SETS, "thought-anchors")  # thought-anchors is never fitted on
MODELS = ("QwQ-32B", "s1.1", "R1-Distill-Qwen-32B")


def _family(name: str) -> str:
    return "gsm8k" if "gsm8k" in name else "math"


def _pct(value: float | None) -> str:
    return "   -  " if value is None else f"{100 * value:5.1f}%"


def records_of(
    name: str,
    traces: list[Trace],
    costs: list[float],
    params: WatcherParams,
    history: HistoryScore | None = None,
) -> list[ShadowRecord]:
    """Shadow records of a set, timing the watcher's checkpoints on the way."""
    out = []
    for trace in traces:
        prepared = PreparedTrace.of(trace)
        record = shadow_record(prepared, params, _family(name), history)
        out.append(replace(record, model=trace.model or name))
        if len(out) % 5:
            continue  # one trace in five timed again, checkpoint by checkpoint
        watcher = ConvergenceWatcher(params, shadow=True, exit_history=history)
        for delta in prepared.deltas:
            seen = watcher.checkpoints
            start = time.perf_counter()
            watcher.feed(delta)
            if watcher.checkpoints > seen:
                costs.append((time.perf_counter() - start) * 1000)
    return out


def unseen_histories(params: WatcherParams | None = None) -> dict[str, HistoryScore]:
    """History weights per model, each fitted on the other models' training items only."""
    traces = (t for name in SETS[:6] for t in load_traces(name) if training_item(t.id))
    rows = collect(traces, params)
    fitted = {model: fit([r for r in rows if r.model != model]) for model in MODELS}
    fitted["thought-anchors"] = fit(rows)
    return fitted


def _model_of(name: str) -> str:
    return next((m for m in MODELS if name.endswith(m)), name)


def held_out(
    traces: list[Trace],
    records: list[ShadowRecord],
    settings: CalibrationSettings,
    seeded: bool = False,
) -> dict[str, Any]:
    """Certify on the tuning half, serve the held half (shadow share run whole); `seeded`:
    certify as `thinkgate calibrate` seeds (the training split, one look: half the miss
    probability) and serve the documented held-out split (the demo's prompts)."""
    by_id = {t.id: (t, r) for t, r in zip(traces, records, strict=True)}
    if seeded:
        held = [t for t in traces if is_holdout(t.id)]
        tune = [t for t in traces if not is_holdout(t.id)]
    else:
        tune, held = split_traces(traces)
    book = KeyBook()
    for trace in tune:
        book.add(by_id[trace.id][1])
    # One test, no looks: the whole miss probability (a seed's look spends half of it).
    certificate = book.certify(settings, 0 if seeded else None)
    threshold = certificate.threshold
    full = used = changed = right_full = right_used = 0
    for trace in held:
        record = by_id[trace.id][1]
        exit_ = None
        if threshold is not None and not in_shadow(trace.id, settings.shadow_share):
            exit_ = record.exit_at(threshold)
        answer, tokens = (record.final, record.tokens_full) if exit_ is None else exit_
        full += record.tokens_full
        used += tokens
        changed += exit_ is not None and not (record.final and answers_match(answer, record.final))
        right_full += answers_match(record.final, trace.gold)
        right_used += answers_match(answer, trace.gold)
    n = len(held)
    return {
        "tune_n": len(tune),
        "n": n,
        "threshold": threshold,
        "saved": 1 - used / full if full else 0.0,
        "accuracy_full": right_full / n if n else None,
        "accuracy_exit": right_used / n if n else None,
        "changed": changed,
    }


def cold(
    traces: list[Trace], records: list[ShadowRecord], settings: CalibrationSettings
) -> dict[str, Any]:
    """The cold replay in file order."""
    summary = replay_cold(records, [t.id for t in traces], [t.gold for t in traces], settings)
    return asdict(summary)


def file_rates(records: list[ShadowRecord], over: str) -> dict[float, float]:
    """Each threshold's changed rate on the whole file (the population an ordering samples)."""
    book = KeyBook()
    for record in records:
        book.add(record)
    rates = {}
    for index, threshold in enumerate(book.thresholds):
        trials = book.exits[index] if over == "exits" else book.n
        rates[threshold] = book.changed[index] / trials if trials else 0.0
    return rates


def orderings(
    traces: list[Trace], records: list[ShadowRecord], settings: CalibrationSettings, runs: int
) -> dict[str, Any]:
    """Share of random orderings whose certified threshold breaks the target on the file, and
    the share whose realised rate exceeds it (with the fewest exits it was counted over)."""
    over = population = calibrated = 0
    worst = 0.0
    fewest: int | None = None
    rates = file_rates(records, settings.changed_rate_over)
    target = settings.max_changed_answers
    pairs = list(zip(traces, records, strict=True))
    for seed in range(runs):
        order = pairs[:]
        random.Random(seed).shuffle(order)
        summary = cold([t for t, _ in order], [r for _, r in order], settings)
        if summary["certified_after"] is not None:
            calibrated += 1
            worst = max(worst, summary["changed_rate"])
            over += summary["changed_rate"] > target
            population += any(rates[t] > target for t in summary["thresholds"])
            count = summary["served_exits" if settings.changed_rate_over == "exits" else "served"]
            fewest = count if fewest is None else min(fewest, count)
    return {
        "runs": runs,
        "calibrated": calibrated,
        "population_over_target": population,
        "over_target": over,
        "worst_rate": worst,
        "fewest_served": fewest,
    }


def ceiling(records: list[ShadowRecord]) -> float:
    """Saved by the lowest threshold that changes no answer on the whole file."""
    book = KeyBook()
    for record in records:
        book.add(record)
    best = None
    for index, changed in enumerate(book.changed):
        if changed:
            break
        best = index
    return book.saved[best] / book.tokens_full if best is not None and book.tokens_full else 0.0


def guarantee(
    data: dict[str, tuple[list[Trace], list[ShadowRecord]]],
    settings: CalibrationSettings,
    runs: int,
) -> dict[str, Any]:
    """Every figure at one guarantee, printed as it comes."""
    over = settings.changed_rate_over
    print(
        f"\nguarantee: changed answers <= {settings.max_changed_answers:.0%} of the "
        f"{over}, miss probability {settings.miss_probability:.0%}, shadow share "
        f"{settings.shadow_share:.0%}, >= {settings.streams_needed} {over} to certify"
    )
    report: dict[str, Any] = {"sets": {}, "models": {}}
    print(
        "per set: held-out (certified on the tuning half) | cold replay in file order | "
        "oracle zero-change ceiling"
    )
    for name, (traces, records) in data.items():
        h = held_out(traces, records, settings)
        c = cold(traces, records, settings)
        o = orderings(traces, records, settings, runs)
        top = ceiling(records)
        report["sets"][name] = {"held_out": h, "cold": c, "orderings": o, "ceiling": top}
        print(
            f"  {name:<30} held: saved {_pct(h['saved'])} acc {_pct(h['accuracy_full'])} -> "
            f"{_pct(h['accuracy_exit'])} changed {h['changed']}/{h['n']} | cold: saved "
            f"{_pct(c['saved'])} acc {_pct(c['accuracy_full'])} -> {_pct(c['accuracy_used'])} "
            f"changed {c['changed']} calibrated after {c['certified_after'] or 'never'} | "
            f"ceiling {_pct(top)}"
        )
    print(
        "per model, GSM8K and MATH as one family (the gateway's default key): seeded "
        "(thinkgate calibrate), then cold:"
    )
    for model in MODELS:
        names = [n for n in SETS if n.endswith(model)]
        traces = [t for n in names for t in data[n][0]]
        records = [replace(r, family="default") for n in names for r in data[n][1]]
        c = cold(traces, records, settings)
        o = orderings(traces, records, settings, runs)
        s = held_out(traces, records, settings, seeded=True)
        report["models"][model] = {"cold": c, "orderings": o, "seeded": s}
        print(
            f"  {model:<30} seeded from the training split ({s['tune_n']}), held-out split "
            f"served: saved {_pct(s['saved'])} acc {_pct(s['accuracy_full'])} -> "
            f"{_pct(s['accuracy_exit'])} changed {s['changed']}/{s['n']} threshold "
            f"{s['threshold']}"
        )
        print(
            f"  {model:<30} n={c['n']} saved {_pct(c['saved'])} (shadow cost "
            f"{_pct(c['shadow_cost'])}) acc {_pct(c['accuracy_full'])} -> "
            f"{_pct(c['accuracy_used'])} changed {c['changed']} ({_pct(c['changed_rate'])} of "
            f"{c['served_exits'] if over == 'exits' else c['served']} {over}, bound "
            f"{_pct(c['changed_bound'])}) calibrated after {c['certified_after'] or 'never'}"
        )
    print(
        f"bound over {runs} random orderings (calibrated runs whose certified threshold changes "
        f"over {settings.max_changed_answers:.0%} of its {over} on the whole file; allowed "
        f"share {settings.miss_probability:.0%}; beside it, runs whose realised rate is over):"
    )
    for label, block in [*report["sets"].items(), *report["models"].items()]:
        o = block["orderings"]
        print(
            f"  {label:<30} calibrated {o['calibrated']}/{o['runs']}, over target on the file "
            f"{o['population_over_target']}; realised over {o['over_target']}, worst "
            f"{_pct(o['worst_rate'])} over as few as {o['fewest_served']} served {over}"
        )
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orderings", type=int, default=20)
    parser.add_argument(
        "--over",
        choices=("streams", "exits", "both"),
        default="streams",
        help="what the changed-answer rate is a rate of (default streams; both: streams first)",
    )
    parser.add_argument(
        "--score",
        choices=("history", "rule", "both"),
        default="history",
        help="the score certified: the history score (default), the rule's probability, or both",
    )
    parser.add_argument(
        "--interval-tokens",
        type=int,
        default=WatcherParams().interval_tokens,
        help="tokens between the watcher's checkpoints (fewer checkpoints: less CPU, later exits)",
    )
    parser.add_argument("--json", help="write every figure here")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {sys.version.split()[0]}"
    )
    traces = {name: load_traces(name) for name in SETS}
    report: dict[str, Any] = {}
    for score in ("history", "rule") if args.score == "both" else (args.score,):
        params = WatcherParams(score=score, interval_tokens=args.interval_tokens)
        histories = unseen_histories(params) if score == "history" else {}
        costs: list[float] = []
        data: dict[str, tuple[list[Trace], list[ShadowRecord]]] = {}
        for name in SETS:
            history = histories.get(_model_of(name))
            data[name] = (traces[name], records_of(name, traces[name], costs, params, history))
        report[score] = {}
        for over in ("streams", "exits") if args.over == "both" else (args.over,):
            settings = CalibrationSettings(changed_rate_over=over)
            print(f"\nscore: {score}")
            report[score][over] = guarantee(data, settings, args.orderings)
        costs.sort()
        median = statistics.median(costs)
        p90 = costs[int(0.9 * (len(costs) - 1))]
        report[score]["decision_ms"] = {"median": median, "p90": p90, "checkpoints": len(costs)}
        print(
            f"\ndecision cost per checkpoint ({score} score): median {median:.3f} ms, "
            f"p90 {p90:.3f} ms over {len(costs)} checkpoints"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
