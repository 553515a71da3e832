"""Issue-3 figures: routing (APGR/CPT, tokens saved at <= 1 pt), adaptive search, calibration.

(Named policy_figures because a bench/policies.py would shadow the `policies` package.)

    python bench/policy_figures.py [--splits 20] [--orders 8] [--refit] [--sections ...]

Every figure is measured on the bundled datasets with cross-fitted forecasts (no item scored
by a model trained on it) and printed with PASS or FALL SHORT against the issue's target.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from difficulty.crossfit import ROUTING_HEAD, assign_folds, cross_fit
from difficulty.datasets import load_dataset
from difficulty.outcomes import Outcome
from policies.decision import SamplingPlan
from policies.profiles import ProfileCost
from policies.routing import (
    CONFIDENCE_Z,
    PolicyConfig,
    RoutingTable,
    Target,
    best_within_loss,
    calibration_hold_rate,
    frontier,
    operating_point,
    routing_report,
)
from policies.search import sampled_problems, simulate_search
from policies.simulation import select_profiles

# Output-token list prices (USD per token) for the RouteLLM pair: GPT-4-1106 and Mixtral-8x7B.
ROUTELLM_PRICES = {
    "gpt-4": ProfileCost("gpt-4", price_in=10e-6, price_out=30e-6),
    "mixtral": ProfileCost("mixtral", price_in=0.6e-6, price_out=0.6e-6),
}
MIP = (("mip-gsm8k", "mip-math"), ("Qwen2.5-32B", "QwQ-32B"), "QwQ-32B")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FALL SHORT"


def load(names: Sequence[str], profiles: Sequence[str] | None) -> list[Outcome]:
    return select_profiles([o for n in names for o in load_dataset(n)], profiles)


def table_for(outcomes: list[Outcome], seed: int) -> RoutingTable:
    t0 = time.perf_counter()
    # The simulator's own P(correct) head (as `thinkgate simulate` routes).
    table = RoutingTable.from_crossfit(
        cross_fit(outcomes, folds=5, seed=seed, correct_head=ROUTING_HEAD)
    )
    print(f"  (cross-fitted {len(table)} items in {time.perf_counter() - t0:.0f} s)")
    return table


def show_point(name: str, p: dict[str, Any]) -> None:
    extra = f"  cost saved {100 * p['cost_saved']:5.1f}%" if "cost_saved" in p else ""
    print(
        f"  {name:<26} accuracy {100 * p['accuracy']:6.2f}%  tokens {p['tokens']:7.0f}  "
        f"saved {100 * p['tokens_saved']:5.1f}%  loss {100 * p['accuracy_loss']:5.2f} pt{extra}"
    )


def routellm(table: RoutingTable) -> None:
    print("\n## routellm-gsm8k: mixtral vs gpt-4 (RouteLLM's own file)")
    for recal in (False, True):
        r = routing_report(
            table,
            ROUTELLM_PRICES,
            PolicyConfig("utility", cost_unit="money"),
            Target(accuracy_loss=0.01),
            "gpt-4",
            recalibrate=recal,
        )
        tag = "recalibrated forecasts" if recal else "difficulty model as is"
        ok = r["apgr"] >= 0.62 and r["cpt50"] <= 0.33
        print(
            f"  [{tag}] APGR {r['apgr']:.3f} (target >= 0.62), CPT(50%) {r['cpt50']:.3f} "
            f"(target <= 0.33), CPT(80%) {r['cpt80']:.3f}; random 0.500/0.500/0.800  "
            f"{verdict(ok)}"
        )
        if recal:
            show_point("utility @ <= 1 pt (money)", r["operating_point"])
            for name in ("fixed:mixtral", "fixed:gpt-4", "random", "prompt_length", "oracle"):
                show_point(name, r["baselines"][name])


def mip_seeds(outcomes: list[Outcome], seeds: Sequence[int]) -> None:
    """The <= 1 pt figure is a handful of items on 634: show how it moves with the fold seed,
    for the frontier (knob swept) and for the operating point calibrated on training folds."""
    found: dict[str, list[float]] = {"utility": [], "target": []}
    calibrated: dict[str, list[tuple[float, float]]] = {"utility": [], "target": []}
    for seed in seeds:
        table = table_for(outcomes, seed)
        swept = table.recalibrated()
        ref = table.column(MIP[2])
        for kind, values in found.items():
            best = best_within_loss(frontier(swept, {}, PolicyConfig(kind), ref), 0.01)
            values.append(0.0 if best is None else best.tokens_saved)
            op, _, _ = operating_point(
                table, {}, PolicyConfig(kind), Target(accuracy_loss=0.01), ref
            )
            calibrated[kind].append((op.tokens_saved, op.accuracy_loss))
    for kind, values in found.items():
        shown = ", ".join(f"{100 * v:.1f}%" for v in values)
        print(
            f"  {kind} frontier at <= 1 pt over cross-fit seeds {list(seeds)}: {shown} "
            f"(mean {100 * np.mean(values):.1f}%, sd {100 * np.std(values):.1f}, "
            f"median {100 * np.median(values):.1f}%)  {verdict(float(np.mean(values)) >= 0.20)}"
        )
        ops = np.array(calibrated[kind])
        saved, loss = 100 * ops[:, 0], 100 * ops[:, 1]
        print(
            f"  {kind} calibrated operating point (knob fitted on training folds): saved "
            f"{', '.join(f'{v:.1f}%' for v in saved)} (mean {saved.mean():.1f}%) at a mean "
            f"loss of {loss.mean():.2f} pt (worst {loss.max():.2f})"
        )


def mip(table: RoutingTable) -> None:
    print("\n## mip-gsm8k + mip-math: Qwen2.5-32B (direct) vs QwQ-32B (thinking), reference QwQ")
    for kind in ("utility", "target"):
        r = routing_report(table, {}, PolicyConfig(kind), Target(accuracy_loss=0.01), "QwQ-32B")
        best = r["frontier_best_within_1pt"]
        print(
            f"\n  policy {kind}: frontier (recalibrated forecasts, knob swept; "
            f"{len(r['frontier'])} points, every {max(1, len(r['frontier']) // 30)}th shown)"
        )
        print(
            f"  {'knob':>10} {'accuracy':>9} {'tokens':>7} {'saved':>7} {'loss':>7} {'->Qwen':>7}"
        )
        points = r["frontier"]
        # The grid holds every item's switch point: show about 30 of them, evenly spread.
        step = max(1, len(points) // 30)
        for p in points[::step]:
            print(
                f"  {p['knob']:>10.3g} {100 * p['accuracy']:>8.2f}% {p['tokens']:>7.0f} "
                f"{100 * p['tokens_saved']:>6.1f}% {100 * p['accuracy_loss']:>6.2f} "
                f"{100 * p['shares']['Qwen2.5-32B']:>6.1f}%"
            )
        ok = best is not None and best["tokens_saved"] >= 0.20
        saved = 0.0 if best is None else 100 * best["tokens_saved"]
        loss = float("nan") if best is None else 100 * best["accuracy_loss"]
        print(
            f"  frontier at <= 1 pt loss: saved {saved:.1f}% at {loss:.2f} pt "
            f"(target >= 20%)  {verdict(ok)}"
        )
        op = r["operating_point"]
        print(
            f"  calibrated on training folds (z={CONFIDENCE_Z}), pooled held-out: saved "
            f"{100 * op['tokens_saved']:.1f}% at {100 * op['accuracy_loss']:.2f} pt; "
            f"oracle-gap share {r['oracle_gap_share']:.2f}"
        )
        show_point("calibrated operating point", op)
        for name in ("fixed:Qwen2.5-32B", "fixed:QwQ-32B", "random", "prompt_length", "oracle"):
            show_point(name, r["baselines"][name])
        print(f"  APGR {r['apgr']:.3f}  CPT(50%) {r['cpt50']:.3f}  CPT(80%) {r['cpt80']:.3f}")


def boinf(name: str, orders: int, check: bool) -> None:
    print(
        f"\n## {name}: majority of N vs the shipped stopping rule (max 16, min 2, threshold "
        f"0.995; its prior was fitted label-free on all of boinf-math500, so see "
        f"bench/search_stopping.py for cross-fitted figures), {orders} seeded sample orders"
    )
    plan = SamplingPlan(max_samples=16, min_samples=2)
    passed = True
    for profile, problems in sampled_problems(load_dataset(name)).items():
        rows = simulate_search(problems, plan=plan, orders=orders, seed=0)
        cells = "  ".join(
            f"{k.replace('majority', 'maj')} {100 * r.accuracy:5.2f}%"
            for k, r in rows.items()
            if k != "adaptive"
        )
        a, m16 = rows["adaptive"], rows.get("majority@16")
        line = (
            f"  {profile:<28} {cells}  | adaptive {100 * a.accuracy:5.2f}% "
            f"{a.samples:5.2f} samples {a.tokens:8.0f} tokens"
        )
        if m16 is not None:
            ok = a.accuracy >= m16.accuracy - 0.005 and a.samples <= 16 / 3
            passed &= ok
            line += f" (maj@16 {m16.tokens:8.0f} tokens; {a.samples / 16:.0%} of its samples)" + (
                f"  {verdict(ok)}" if check else ""
            )
        print(line)
    if check:
        print(
            f"  every model within 0.5 pt of majority@16 using <= 1/3 of its samples: "
            f"{verdict(passed)}"
        )


def resplits(table: RoutingTable, splits: int) -> Iterator[RoutingTable]:
    for s in range(splits):
        yield dataclasses.replace(table, fold=assign_folds(table.item_ids, 5, 1000 + s))


def refits(outcomes: list[Outcome], splits: int) -> Iterator[RoutingTable]:
    for s in range(splits):
        yield table_for(outcomes, 1000 + s)


def hold(
    name: str,
    table: RoutingTable,
    outcomes: list[Outcome],
    ref: str,
    costs: dict[str, Any],
    splits: int,
    refit: bool,
) -> None:
    unit = "money" if costs else "tokens"
    how = "re-cross-fitted per split" if refit else "one cross-fit, folds re-drawn per split"
    refitted = list(refits(outcomes, splits)) if refit else []
    for kind in ("utility", "target"):
        tables = iter(refitted) if refit else resplits(table, splits)
        h = calibration_hold_rate(
            tables, costs, PolicyConfig(kind, cost_unit=unit), Target(accuracy_loss=0.01), ref
        )
        print(
            f"  {name:<16} {kind:<8} held {h.held}/{h.splits} = {h.rate:.0%} (target >= 80%) "
            f"mean held-out loss {100 * np.mean(h.losses):.2f} pt (worst "
            f"{100 * np.max(h.losses):.2f}), saved {100 * np.mean(h.tokens_saved):.1f}% tokens"
            + (f", {100 * np.mean(h.cost_saved):.1f}% money" if h.cost_saved else "")
            + f" [{how}]  {verdict(h.rate >= 0.8)}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=20)
    parser.add_argument("--orders", type=int, default=8)
    parser.add_argument("--seeds", type=int, default=10, help="cross-fit seeds for the mip figure")
    parser.add_argument("--refit", action="store_true", help="re-run cross_fit for every split")
    parser.add_argument(
        "--sections",
        default="routellm,mip,boinf,hold",
        help="comma-separated subset of routellm,mip,boinf,hold",
    )
    parser.add_argument(
        "--hold-on", default="routellm-gsm8k,mip", help="datasets the hold section measures"
    )
    args = parser.parse_args()
    print(
        f"# thinkgate bench: policies  python {platform.python_version()}  "
        f"cores {os.cpu_count()}  {platform.machine()}  {platform.system()}"
    )
    t0 = time.perf_counter()
    sections = set(args.sections.split(","))
    pairs: list[tuple[str, RoutingTable, list[Outcome], str, dict[str, Any]]] = []
    hold_on = set(args.hold_on.split(",")) if "hold" in sections else set()
    if "routellm" in sections or "routellm-gsm8k" in hold_on:
        r_out = load(["routellm-gsm8k"], None)
        r_table = table_for(r_out, 0)
        pairs.append(("routellm-gsm8k", r_table, r_out, "gpt-4", dict(ROUTELLM_PRICES)))
        if "routellm" in sections:
            routellm(r_table)
    if "mip" in sections or "mip" in hold_on:
        m_out = load(list(MIP[0]), list(MIP[1]))
        m_table = table_for(m_out, 0)
        pairs.append(("mip", m_table, m_out, MIP[2], {}))
        if "mip" in sections:
            mip(m_table)
            print("\n  robustness of the <= 1 pt figure to the folds:")
            mip_seeds(m_out, range(args.seeds))
    if "boinf" in sections:
        boinf("boinf-math500", args.orders, check=True)
        boinf("boinf-aime2024", args.orders, check=False)
    if "hold" in sections:
        print(
            f"\n## calibration to --target-accuracy-loss 0.01 over {args.splits} random splits "
            f"(pooled held-out folds; knob and recalibration fitted on training folds, "
            f"z={CONFIDENCE_Z})"
        )
        for name, table, outcomes, ref, costs in pairs:
            if name in hold_on:
                hold(name, table, outcomes, ref, costs, args.splits, args.refit)
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
