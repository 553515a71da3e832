"""Issue-18 figures: samples a search needs to match majority-of-16, and verifier-weighted votes.

    python bench/search_stopping.py [--orders 16] [--threshold 0.995] [--sections ...]

boinf-math500: the stopping rule's prior and confidence curve are cross-fitted (5 folds by
problem, pooled over the 7 models; a problem is never scored by a fit that saw it), and each
model's typical sample length is the median over the other folds' samples (label-free).
boinf-aime2024: everything fitted on all of boinf-math500 (transfer; AIME's typical length from
its other folds). The per-prompt difficulty prior is the SHIPPED difficulty model's QwQ-32B
P(correct) (difficulty/default_model; 39 of the 500 MATH-500 prompts are in its training set).
qwen25-math-eval: the verifier's confidence curve is cross-fitted on the 100 problems' labels.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from difficulty.crossfit import assign_folds
from difficulty.datasets import load_dataset
from difficulty.outcomes import Outcome
from policies.search import (
    StopRule,
    Strategy,
    Tally,
    Trial,
    fit_confidence,
    fit_prior,
    pair_posterior,
    prepare,
    replay,
    run_rule,
    top_two,
)

FOLDS = 5
TARGET_SAMPLES = 3.5
TARGET_LOSS = 0.002
PRIOR_PROFILE = "QwQ-32B"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FALL SHORT"


def shipped_p_correct(prompts: Sequence[str]) -> np.ndarray:
    from difficulty.model import DEFAULT_MODEL_DIR, DifficultyModel

    model = DifficultyModel.load(DEFAULT_MODEL_DIR)
    pred = model.predict(list(prompts))
    return np.asarray(pred.p_correct[:, pred.profiles.index(PRIOR_PROFILE)])


def trials_of(name: str) -> dict[str, list[Trial]]:
    """Per model, every problem's samples with the shipped model's P(correct) attached."""
    rows = [o for o in load_dataset(name) if o.samples]
    prompts = sorted({o.id: o.prompt for o in rows}.items())
    q = dict(zip([i for i, _ in prompts], shipped_p_correct([p for _, p in prompts]), strict=True))
    out: dict[str, list[Trial]] = {}
    for o in rows:
        assert o.samples is not None
        t = prepare(
            o.id,
            [s.answer for s in o.samples],
            [s.tokens for s in o.samples],
            o.gold,
            p_correct=float(q[o.id]),
        )
        out.setdefault(o.profile, []).append(t)
    return out


def _mode_agreement(t: Trial) -> np.ndarray:
    valid = t.keys[t.keys >= 0]
    mode = int(np.argmax(np.bincount(valid))) if valid.size else -2
    return np.asarray(t.keys == mode)


def fit_rule(models: dict[str, list[Trial]], keep: set[str], base: StopRule) -> StopRule:
    """Prior and length-confidence fitted on the kept problems of every model (label-free)."""
    counts, q, x, agree = [], [], [], []
    for trials in models.values():
        kept = [t for t in trials if t.id in keep]
        typical = float(np.median(np.concatenate([t.tokens for t in kept])))
        for t in kept:
            counts.append(top_two(t.keys.tolist()))
            q.append(t.p_correct)
            ok = t.keys >= 0
            x.append(np.log(np.maximum(t.tokens[ok], 1.0) / typical))
            agree.append(_mode_agreement(t)[ok])
    prior = fit_prior(np.asarray(counts), np.asarray(q, dtype=float))
    confidence = fit_confidence(np.concatenate(x), np.concatenate(agree))
    return replace(base, prior=prior, confidence=confidence)


def with_typical(trials: list[Trial], keep: set[str]) -> float:
    return float(np.median(np.concatenate([t.tokens for t in trials if t.id in keep])))


def majority(n: int) -> Strategy:
    rule = StopRule(threshold=2.0, max_samples=n, confidence=None)

    def run(t: Trial, order: np.ndarray) -> tuple[int, int]:
        return run_rule(t, order, rule)

    return run


def todays_rule(t: Trial, order: np.ndarray) -> tuple[int, int]:
    """The rule thinkgate shipped before: Beta(v1 + 1, v2 + 1) on the top two, 0.95, max 16."""
    counts: dict[int, int] = {}
    n = 0
    for k in t.keys[order[:16]].tolist():
        n += 1
        if k >= 0:
            counts[k] = counts.get(k, 0) + 1
        top = sorted(counts.values(), reverse=True) + [0, 0]
        if top[0] and pair_posterior(top[0], top[1], 1.0, 1.0) >= 0.95:
            break
    # Ties go to the answer seen first, as in the vote.
    first = {k: i for i, k in reversed(list(enumerate(t.keys[order[:n]].tolist())))}
    leader = min(counts, key=lambda k: (-counts[k], first[k])) if counts else -1
    return leader, n


def rule_strategy(rules: dict[str, StopRule]) -> Strategy:
    """The rule fitted for the trial's fold (rules keyed by trial id)."""

    def run(t: Trial, order: np.ndarray) -> tuple[int, int]:
        return run_rule(t, order, rules[t.id])

    return run


def calibration(
    trials: list[Trial], rules: dict[str, StopRule], orders: int
) -> tuple[float, float]:
    """Among searches the rule stopped before its cap: the share whose answer is not the
    majority of all recorded samples; and the share of searches that ran to the cap."""
    rng = np.random.default_rng(1)
    miss = stopped = capped = 0
    for t in trials:
        valid = t.keys[t.keys >= 0]
        mode = int(np.argmax(np.bincount(valid))) if valid.size else -1
        for _ in range(orders):
            key, n = run_rule(t, rng.permutation(len(t.keys)), rules[t.id])
            if n >= min(rules[t.id].max_samples, len(t.keys)):
                capped += 1
            else:
                stopped += 1
                miss += key != mode
    return miss / max(stopped, 1), capped / max(stopped + capped, 1)


def folded(trials: list[Trial]) -> tuple[list[Trial], dict[str, int]]:
    """Trials with their typical length from the other folds (label-free), and their folds."""
    ids = sorted(t.id for t in trials)
    fold = dict(zip(ids, assign_folds(ids, FOLDS, 0), strict=True))
    out = []
    for t in trials:
        keep = {i for i in ids if fold[i] != fold[t.id]}
        out.append(replace(t, typical_tokens=with_typical(trials, keep)))
    return out, fold


VARIANTS: dict[str, dict[str, Any]] = {
    "rule": {},
    "no-difficulty": {"use_difficulty": False},
    "counts-only": {"confidence": None},
    "min 1": {"min_samples": 1},
    "weighted answer": {"answer": "weighted_vote"},
}


def boinf_section(args: argparse.Namespace) -> None:
    base = StopRule(threshold=args.threshold, min_samples=args.min_samples)
    math500 = trials_of("boinf-math500")
    ids = sorted({t.id for ts in math500.values() for t in ts})
    fold = dict(zip(ids, assign_folds(ids, FOLDS, 0), strict=True))
    t0 = time.perf_counter()
    fitted = {k: fit_rule(math500, {i for i in ids if fold[i] != k}, base) for k in range(FOLDS)}
    everything = fit_rule(math500, set(ids), base)
    print(f"  (fitted {FOLDS} folds + all in {time.perf_counter() - t0:.0f} s)")
    print(f"  prior fitted on all of boinf-math500: {everything.prior}")
    print(f"  length confidence fitted on all of it: {everything.confidence}")
    # One fold assignment by problem, shared by every model (fit_rule pools the models).
    report("boinf-math500", math500, lambda k: fitted[k], args.orders)
    report("boinf-aime2024", trials_of("boinf-aime2024"), lambda k: everything, args.orders)


def report(
    name: str, models: dict[str, list[Trial]], fit_for: Callable[[int], StopRule], orders: int
) -> None:
    base = fit_for(0)
    print(
        f"\n## {name}: samples to match majority@16 (within {100 * TARGET_LOSS:.1f} pt), "
        f"{orders} seeded orders; rule: threshold {base.threshold}, min {base.min_samples}, "
        f"max {base.max_samples}"
    )
    print(
        f"  {'model':<28} {'maj@16':>7} | {'today (Beta .95)':>16} | {'maj@2':>5} {'maj@3':>5} "
        f"{'maj@4':>5} | {'new rule':>12} | miss / capped | ablations: "
        + ", ".join(list(VARIANTS)[1:])
    )
    passed = True
    summary: dict[str, list[tuple[float, float]]] = {}
    for model, trials in models.items():
        prepared, fold = folded(trials)
        strategies: dict[str, Strategy] = {
            "maj@16": majority(16),
            "today": todays_rule,
            "maj@2": majority(2),
            "maj@3": majority(3),
            "maj@4": majority(4),
        }
        rules: dict[str, dict[str, StopRule]] = {}
        for variant, change in VARIANTS.items():
            rules[variant] = {t.id: replace(fit_for(fold[t.id]), **change) for t in trials}
            strategies[variant] = rule_strategy(rules[variant])
        r = replay(prepared, strategies, orders=orders, seed=0)
        ref = r["maj@16"].accuracy
        ok = r["rule"].samples <= TARGET_SAMPLES and r["rule"].accuracy >= ref - TARGET_LOSS
        passed &= ok
        for k in ("today", *VARIANTS):
            summary.setdefault(k, []).append((r[k].accuracy - ref, r[k].samples))

        def cell(k: str, r: dict[str, Tally] = r, ref: float = ref) -> str:
            return f"{100 * (r[k].accuracy - ref):+5.2f} {r[k].samples:5.2f}"

        def loss(k: str, r: dict[str, Tally] = r, ref: float = ref) -> str:
            return f"{100 * (r[k].accuracy - ref):+5.2f}"

        miss, capped = calibration(prepared, rules["rule"], max(orders // 2, 1))
        ablations = ", ".join(cell(k) for k in list(VARIANTS)[1:])
        print(
            f"  {model:<28} {100 * ref:6.2f}% | {cell('today'):>16} | {loss('maj@2')} "
            f"{loss('maj@3')} {loss('maj@4')} | {cell('rule'):>12} | {100 * miss:4.2f}% / "
            f"{100 * capped:4.1f}% | {ablations}  {verdict(ok)}"
        )
    print(
        f"  every model <= {TARGET_SAMPLES} samples within {100 * TARGET_LOSS:.1f} pt of "
        f"majority@16: {verdict(passed)}"
    )
    for k, rows in summary.items():
        a = np.asarray(rows)
        print(
            f"  {k:<16} mean {100 * a[:, 0].mean():+.3f} pt (worst {100 * a[:, 0].min():+.2f}), "
            f"samples mean {a[:, 1].mean():.2f} (max {a[:, 1].max():.2f})"
        )
    print(
        "  (cells: accuracy minus maj@16 in pt, mean samples; miss: share of searches stopped by "
        "the rule whose answer is not the majority of all ~80 samples, against the stated bound "
        f"{100 * (1 - base.threshold):.1f}%; capped: share that ran to max samples)"
    )


LADDER = (0.9, 0.95, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9999, 2.0)


def ceiling_section(args: argparse.Namespace) -> None:
    """What a perfect per-problem difficulty prior could reach: each problem gets the cheapest
    threshold of a ladder that keeps its own accuracy at its majority@16 accuracy (an oracle:
    it looks at the gold answers)."""
    base = StopRule(min_samples=1)
    math500 = trials_of("boinf-math500")
    everything = fit_rule(math500, {t.id for ts in math500.values() for t in ts}, base)
    for name, models in (
        ("boinf-math500", math500),
        ("boinf-aime2024", trials_of("boinf-aime2024")),
    ):
        print(
            f"\n## {name}: ceiling with a perfect per-problem prior (min 1; thresholds "
            f"{', '.join(map(str, LADDER[:-1]))} or 16 samples), {args.orders} orders"
        )
        for model, trials in models.items():
            prepared, _ = folded(trials)
            strategies: dict[str, Strategy] = {"maj@16": majority(16)}
            for thr in LADDER:
                rule = replace(everything, threshold=thr)
                strategies[str(thr)] = rule_strategy({t.id: rule for t in trials})
            r = replay(prepared, strategies, orders=args.orders, seed=0)
            ref = np.asarray(r["maj@16"].per_trial)
            acc = np.asarray([r[str(thr)].per_trial for thr in LADDER])
            samples = np.asarray([r[str(thr)].per_trial_samples for thr in LADDER])
            pick = np.argmax(acc >= ref[None, :] - 1e-9, axis=0)
            cols = np.arange(len(prepared))
            print(
                f"  {model:<28} maj@16 {100 * ref.mean():6.2f}%  ceiling "
                f"{samples[pick, cols].mean():5.2f} samples at {100 * acc[pick, cols].mean():6.2f}%"
            )


def qwen_trials() -> list[Trial]:
    rows: list[Outcome] = load_dataset("qwen25-math-eval")
    q = shipped_p_correct([o.prompt for o in rows])
    out = []
    for o, p in zip(rows, q, strict=True):
        assert o.samples is not None
        t = prepare(
            o.id,
            [s.answer for s in o.samples],
            [s.tokens for s in o.samples],
            o.gold,
            p_correct=float(p),
            scores=np.asarray([s.score for s in o.samples], dtype=float),
        )
        out.append(t)
    return out


def qwen_section(args: argparse.Namespace) -> None:
    trials = qwen_trials()
    ids = [t.id for t in trials]
    fold = dict(zip(ids, assign_folds(ids, FOLDS, 0), strict=True))
    verifiers = {}
    for k in range(FOLDS):
        train = [t for t in trials if fold[t.id] != k and t.scores is not None]
        x = np.concatenate([t.scores for t in train if t.scores is not None])
        y = np.concatenate([t.correct[t.keys] for t in train])
        verifiers[k] = fit_confidence(x, y)
    orders = args.orders * 4
    print(
        f"\n## qwen25-math-eval: majority vs reward-score-weighted vote vs best-of-N, "
        f"{orders} seeded orders of the 8 samples (verifier curve cross-fitted, 5 folds)"
    )
    print(f"  verifier confidence (fold 0): {verifiers[0]}")

    def strategy(**change: Any) -> Strategy:
        def run(t: Trial, order: np.ndarray) -> tuple[int, int]:
            rule = StopRule(max_samples=8, verifier=verifiers[fold[t.id]])
            return run_rule(t, order, replace(rule, **change))

        return run

    aggregates = ("majority", "weighted_vote", "best_of_n")
    strategies: dict[str, Strategy] = {}
    for n in (1, 2, 4, 8):
        for how in aggregates:
            strategies[f"{how}@{n}"] = strategy(threshold=2.0, max_samples=n, answer=how)
    thresholds = (0.99, 0.995, 0.999)
    for thr in thresholds:
        for how in aggregates:
            strategies[f"{thr} {how}"] = strategy(threshold=thr, answer=how)
        strategies[f"{thr} no verifier"] = strategy(threshold=thr, verifier=None)
    r = replay(trials, strategies, orders=orders, seed=0)
    print(f"  {'samples':>8} {'majority':>9} {'weighted':>9} {'best-of-N':>9}")
    for n in (1, 2, 4, 8):
        cells = " ".join(f"{100 * r[f'{how}@{n}'].accuracy:8.2f}%" for how in aggregates)
        print(f"  {n:>8} {cells}")
    print("  adaptive stopping (min 2, max 8), the verifier's weights decide when to stop:")
    print(f"  {'threshold':>9} {'samples':>8} {'majority':>9} {'weighted':>9} {'best-of-N':>9}")
    for thr in thresholds:
        cells = " ".join(f"{100 * r[f'{thr} {how}'].accuracy:8.2f}%" for how in aggregates)
        print(f"  {thr:>9} {r[f'{thr} weighted_vote'].samples:8.2f} {cells}")
    for thr in thresholds:
        plain = r[f"{thr} no verifier"]
        print(
            f"  without the verifier (plain counts), threshold {thr}: "
            f"{plain.samples:.2f} samples, majority {100 * plain.accuracy:.2f}%"
        )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python bench/search_stopping.py")
    parser.add_argument("--orders", type=int, default=16)
    parser.add_argument("--threshold", type=float, default=0.995)
    parser.add_argument("--min-samples", type=int, default=2)
    parser.add_argument(
        "--sections", default="boinf,qwen", help="comma-separated: boinf, qwen, ceiling (slow)"
    )
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    sections = args.sections.split(",")
    if "boinf" in sections:
        boinf_section(args)
    if "qwen" in sections:
        qwen_section(args)
    if "ceiling" in sections:
        ceiling_section(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
