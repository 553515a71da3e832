"""Issue-13 routing table: every bundled routing set, cross-fitted, against random and the oracle.

    python bench/routing_figures.py [--seed 0] [--max-items 2000] [--only NAME ...] [--fresh]

Per set: the two profiles (weak, strong = reference), held-out APGR and CPT(50%) (random
routing: 0.50 / 0.50), tokens saved against the strong profile at <= 1 point loss on the
out-of-fold frontier, the operating point calibrated on training folds to a 1-point target
(`thinkgate simulate`'s, held out) beside random routing at its own token spend, and the
oracle's saving. Every forecast is cross-fitted (5 folds, `difficulty.crossfit`, the
simulator's routing head). Sets larger than --max-items items are measured on a seeded sample
of that many items (named in the table). routellm-mmlu has no token counts: its cost axis is
the share of calls to the strong profile (RouteLLM's). Reports are cached in
out/routing_figures/ (--fresh to recompute); embeddings in the encoder's own cache.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from difficulty.datasets import load_dataset
from difficulty.outcomes import Outcome
from policies.routing import PolicyConfig, Target
from policies.simulation import select_profiles, simulate

CACHE = Path("out") / "routing_figures"
FAITHFUL_MODELS = (
    "gpt-4",
    "gpt-3.5-turbo",
    "text-davinci-003",
    "text-davinci-002",
    "code-davinci-002",
    "code-davinci-001",
)


@dataclass(frozen=True)
class RoutingSet:
    """One row of the table: bundled datasets, the weak and the strong profile."""

    name: str
    datasets: tuple[str, ...]
    weak: str
    strong: str
    target: str = ""  # the target, printed beside the figure


SETS: tuple[RoutingSet, ...] = (
    RoutingSet("routellm-gsm8k", ("routellm-gsm8k",), "mixtral", "gpt-4", "APGR>=0.70 CPT50<=0.25"),
    RoutingSet("routellm-mmlu", ("routellm-mmlu",), "mixtral", "gpt-4", "RouteLLM: ~30% at CPT50"),
    RoutingSet("routellm-mt-bench", ("routellm-mt-bench",), "mixtral", "gpt-4"),
    *(
        RoutingSet(f"faithful-cot {m}", ("faithful-cot",), f"{m}:direct", f"{m}:cot")
        for m in FAITHFUL_MODELS
    ),
    RoutingSet("alpacaeval", ("alpacaeval",), "gpt-3.5-turbo-1106", "gpt-4-1106"),
    RoutingSet("zeroeval-crux", ("zeroeval-crux",), "gpt-4o-mini", "o1-mini"),
    RoutingSet(
        "mip", ("mip-gsm8k", "mip-math"), "Qwen2.5-32B", "QwQ-32B", ">=30% saved at <=1pt (cal.)"
    ),
)


def sample_items(rows: list[Outcome], max_items: int, seed: int) -> tuple[list[Outcome], int]:
    """At most `max_items` items (a seeded sample of item ids); returns rows and item count."""
    ids = sorted({r.id for r in rows})
    if len(ids) <= max_items:
        return rows, len(ids)
    keep = set(np.random.default_rng(seed).choice(ids, size=max_items, replace=False).tolist())
    return [r for r in rows if r.id in keep], max_items


def report_for(
    rs: RoutingSet, seed: int, max_items: int, fresh: bool, policy: str = "target"
) -> dict[str, Any]:
    """The simulator's report for one set (cached in out/routing_figures/)."""
    tag = "" if policy == "target" else f"-{policy}"
    path = CACHE / f"{rs.name.replace(' ', '_')}-seed{seed}-max{max_items}{tag}.json"
    if path.is_file() and not fresh:
        cached: dict[str, Any] = json.loads(path.read_text("utf-8"))
        return cached
    rows = select_profiles([r for d in rs.datasets for r in load_dataset(d)], [rs.weak, rs.strong])
    rows, items = sample_items(rows, max_items, seed)
    t0 = time.perf_counter()
    report = simulate(
        rows,
        policy=PolicyConfig(policy),  # type: ignore[arg-type]
        target=Target(accuracy_loss=0.01),
        reference=rs.strong,
        folds=5,
        seed=seed,
    )
    report["sampled_items"] = items
    report["seconds"] = time.perf_counter() - t0
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report) + "\n", "utf-8")
    return report


def switch_price(rs: RoutingSet, seed: int, max_items: int) -> str | None:
    """Why a set's calibrated point can sit on the random line: points of accuracy lost per
    1,000 tokens saved when items switch from the strong profile to the weak one, for a random
    switch and for the items the strong profile spends least on (the easiest fifth: a perfect
    "easy first" ranking by the strong profile's own tokens). None without token counts."""
    rows = select_profiles([r for d in rs.datasets for r in load_dataset(d)], [rs.weak, rs.strong])
    rows, _ = sample_items(rows, max_items, seed)
    by: dict[str, dict[str, Outcome]] = {}
    for r in rows:
        by.setdefault(r.id, {})[r.profile] = r
    pairs = [(d[rs.weak], d[rs.strong]) for d in by.values() if len(d) == 2]
    if not pairs or any(w.tokens is None or s.tokens is None for w, s in pairs):
        return None
    loss = np.array([float(s.correct) - float(w.correct) for w, s in pairs])
    saved = np.array([float(s.tokens) - float(w.tokens) for w, s in pairs])  # type: ignore[arg-type]
    easy = np.argsort([s.tokens for _, s in pairs], kind="stable")[: max(1, len(pairs) // 5)]
    if saved.mean() <= 0 or saved[easy].mean() <= 0:
        return f"{rs.name:<30} the weak profile does not write fewer tokens: no saving to price"
    rand = 1e5 * loss.mean() / saved.mean()
    first = 1e5 * loss[easy].mean() / saved[easy].mean()
    return (
        f"{rs.name:<30} random {rand:6.3f}  easiest fifth {first:6.3f}"
        f"  (saves {saved[easy].mean():.0f} vs {saved.mean():.0f} tokens a switch)"
    )


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def row(rs: RoutingSet, report: dict[str, Any]) -> str:
    """One printed line of the table."""
    recorded = report.get("tokens_recorded", True)
    op, rnd, orc = report["operating_point"], report["baselines"]["random"], report["oracle"]
    best = report.get("frontier_best_within_1pt")
    if recorded:
        saved = _pct(best["tokens_saved"]) if best else "none"
        cal = f"{_pct(op['tokens_saved'])} @{100 * op['accuracy_loss']:.2f}pt"
        oracle = _pct(orc["tokens_saved"])
    else:  # per call: the strong profile's share of calls saved
        saved = f"calls {_pct(best['tokens_saved'])}" if best else "none"
        cal = f"calls {_pct(op['tokens_saved'])} @{100 * op['accuracy_loss']:.2f}pt"
        oracle = f"calls {_pct(orc['tokens_saved'])}"
    vs = f"{100 * op['accuracy']:.2f} vs {100 * rnd['accuracy']:.2f}"
    mark = "ok" if op["accuracy"] >= rnd["accuracy"] - 1e-9 else "BELOW"
    acc = report["baselines"]
    weak_acc = acc[f"fixed:{rs.weak}"]["accuracy"]
    strong_acc = acc[f"fixed:{rs.strong}"]["accuracy"]
    return (
        f"{rs.name:<30} {report['sampled_items']:>6} {100 * weak_acc:5.1f}/{100 * strong_acc:5.1f}"
        f" {report.get('apgr', float('nan')):6.3f} {report.get('cpt50', float('nan')):6.3f}"
        f" {saved:>12} {cal:>18} {vs:>15} {mark:>5} {oracle:>12}  {rs.target}"
    )


HEADER = (
    f"{'set (weak vs strong)':<30} {'items':>6} {'acc w/s %':>11} {'APGR':>6} {'CPT50':>6}"
    f" {'saved<=1pt':>12} {'calibrated':>18} {'cal vs random':>15} {'':>5} {'oracle':>12}  target"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-items", type=int, default=2000)
    parser.add_argument("--only", nargs="*", default=None, help="set names (prefix match)")
    parser.add_argument("--fresh", action="store_true", help="ignore cached reports")
    parser.add_argument("--policy", choices=("target", "utility"), default="target")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    prices: list[str] = []
    print(HEADER)
    for rs in SETS:
        if args.only and not any(rs.name.startswith(o) for o in args.only):
            continue
        report = report_for(rs, args.seed, args.max_items, args.fresh, args.policy)
        print(row(rs, report), flush=True)
        price = switch_price(rs, args.seed, args.max_items)
        if price is not None:
            prices.append(price)
    print(
        f"APGR/CPT50: random 0.500/0.500. saved<=1pt: best out-of-fold frontier point; calibrated:"
        f" the 1-pt target calibrated on training folds, held out. {time.perf_counter() - t0:.0f}s",
        file=sys.stderr,
    )
    print("\npoints of accuracy lost per 1,000 tokens saved, switching strong -> weak:")
    print("\n".join(prices))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
