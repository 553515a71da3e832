"""Fit the learned exit rule on the tuning half of the traces and write its JSON data file.

python bench/fit_exit_rule.py [--interval 50] [--min-tokens 100] [--margin 0.0] [--dry-run]

Only the tuning half (`policies.convergence.split_traces`) of the QwQ-32B and s1.1 GSM8K/MATH
traces is read. The threshold is chosen on out-of-fold probabilities (5 folds by trace) so it is
not fitted to the same checkpoints it judges: the lowest one that loses at most 1 point of
accuracy on every set; and one per model (a profile's `confidence`), on that model's sets.
The held-out half is left for `bench/convergence.py`.

The shipped `exit_rule.json` is this program's output at commit ca6bc55 (QwQ-32B 0.955, s1.1
0.9175); the candidate and answer readers have changed since, and today's fit differs (README,
*Convergence watcher*: measured, it saves less, so the shipped file was kept).
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from difficulty.answers import answers_match
from difficulty.traces import load_traces
from policies.convergence import (
    FEATURE_NAMES,
    RULE_FILE,
    ConvergenceWatcher,
    ExitRule,
    PreparedTrace,
    Tree,
    WatcherParams,
    split_traces,
)

MODELS = ("QwQ-32B", "s1.1")
SETS = tuple(f"mip-{source}-{model}" for source in ("gsm8k", "math") for model in MODELS)
MAX_DROP = 0.01
# Boosted trees blended with the logistic regression (0 trees ships the regression alone).
TREES, DEPTH, RATE = 100, 3, 0.1
# The logistic part's share of the log-odds when trees are fitted too (1 - it: the trees').
LINEAR = 0.7
RULE_PATH = Path(__file__).resolve().parent.parent / "policies" / "convergence" / RULE_FILE


@dataclass
class TraceRows:
    """One trace's candidate values at every checkpoint, and whether each is the final answer."""

    dataset: str
    features: np.ndarray  # one row per (checkpoint, candidate value)
    agrees: np.ndarray  # the value is the full trace's answer (the label)
    correct: np.ndarray  # the value matches gold
    checkpoint: np.ndarray  # which checkpoint each row belongs to
    tokens: np.ndarray  # per checkpoint: tokens so far (scaled to cl100k)
    eligible: np.ndarray  # per checkpoint: past min_tokens
    tokens_full: int
    correct_full: bool


def collect(name: str, traces: list[PreparedTrace], params: WatcherParams) -> list[TraceRows]:
    """Replay each trace without exiting and keep every candidate value at every checkpoint."""
    rows = []
    for prepared in traces:
        watcher = ConvergenceWatcher(params, record=True, exit_rule=ExitRule.never())
        feats, agrees, correct, owner, tokens, eligible = [], [], [], [], [], []
        ratio = prepared.tokens_full / max(1, watcher_tokens(prepared))
        for delta in prepared.deltas:
            before = watcher.checkpoints
            watcher.feed(delta)
            if watcher.checkpoints == before:
                continue
            seen = watcher.checkpoints_seen[-1]
            for candidate, features in seen.options:
                feats.append(features)
                agrees.append(answers_match(candidate.text, prepared.answer_full))
                correct.append(answers_match(candidate.text, prepared.trace.gold))
                owner.append(len(tokens))
            tokens.append(watcher.tokens * ratio)
            eligible.append(watcher.tokens >= params.min_tokens)
        rows.append(
            TraceRows(
                name,
                np.array(feats, dtype=float).reshape(-1, len(FEATURE_NAMES)),
                np.array(agrees, dtype=bool),
                np.array(correct, dtype=bool),
                np.array(owner, dtype=int),
                np.array(tokens, dtype=float),
                np.array(eligible, dtype=bool),
                prepared.tokens_full,
                answers_match(prepared.answer_full, prepared.trace.gold),
            )
        )
    return rows


def watcher_tokens(prepared: PreparedTrace) -> int:
    """The watcher's own token estimate of the whole trace."""
    watcher = ConvergenceWatcher(WatcherParams(rule="streak", interval_tokens=10**9))
    for delta in prepared.deltas:
        watcher.feed(delta)
    return watcher.tokens


def fit(rows: list[TraceRows], c: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Logistic regression on standardised features; each trace weighs the same."""
    from sklearn.linear_model import LogisticRegression

    rows = [r for r in rows if len(r.agrees)]
    x = np.vstack([r.features for r in rows])
    y = np.concatenate([r.agrees for r in rows])
    w = np.concatenate([np.full(len(r.agrees), 1.0 / len(r.agrees)) for r in rows])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit((x - mean) / scale, y, sample_weight=w * len(rows))
    return mean, scale, model.coef_[0], float(model.intercept_[0])


def probabilities(rows: list[TraceRows], mean, scale, coef, bias) -> list[np.ndarray]:
    """The fitted rule's probability for every row of every trace."""
    return [1 / (1 + np.exp(-(((r.features - mean) / scale) @ coef + bias))) for r in rows]


@dataclass
class Boosted:
    """Gradient-boosted trees on the raw features (the rule's `trees`, bias = their prior)."""

    model: Any

    def probabilities(self, rows: list[TraceRows]) -> list[np.ndarray]:
        """The model's probability for every row of every trace."""
        return [
            self.model.predict_proba(r.features)[:, 1] if len(r.agrees) else np.empty(0)
            for r in rows
        ]

    def export(self) -> tuple[float, list[Tree]]:
        """(bias, trees) such that bias + sum of the trees is the model's log-odds."""
        rate = self.model.learning_rate
        trees = []
        for estimator in self.model.estimators_[:, 0]:
            t = estimator.tree_
            trees.append(
                Tree(
                    tuple(int(f) if f >= 0 else -1 for f in t.feature),
                    tuple(float(v) for v in t.threshold),
                    tuple(int(v) for v in t.children_left),
                    tuple(int(v) for v in t.children_right),
                    tuple(round(float(v) * rate, 6) for v in t.value[:, 0, 0]),
                )
            )
        probe = np.zeros((1, len(FEATURE_NAMES)))
        bias = float(self.model.decision_function(probe)[0]) - sum(tree(probe[0]) for tree in trees)
        return bias, trees


def fit_boosted(rows: list[TraceRows], trees: int, depth: int, rate: float) -> Boosted:
    """Boosted trees with each trace weighing the same (subsampled, seeded)."""
    from sklearn.ensemble import GradientBoostingClassifier

    rows = [r for r in rows if len(r.agrees)]
    x = np.vstack([r.features for r in rows])
    y = np.concatenate([r.agrees for r in rows])
    w = np.concatenate([np.full(len(r.agrees), 1.0 / len(r.agrees)) for r in rows])
    model = GradientBoostingClassifier(
        n_estimators=trees, max_depth=depth, learning_rate=rate, subsample=0.5, random_state=0
    )
    model.fit(x, y, sample_weight=w * len(rows))
    return Boosted(model)


def exit_point(r: TraceRows, p: np.ndarray, threshold: float) -> tuple[int, int] | None:
    """(checkpoint, row) where the watcher exits: the first eligible best value over threshold."""
    for row in np.flatnonzero(p >= threshold):
        cp = int(r.checkpoint[row])
        if not r.eligible[cp]:
            continue
        rows = np.flatnonzero(r.checkpoint == cp)
        return cp, int(rows[np.argmax(p[rows])])
    return None


def simulate(rows: list[TraceRows], probs: list[np.ndarray], threshold: float) -> dict:
    """Per dataset: tokens saved and accuracy drop at exit, with this threshold."""
    out: dict[str, dict[str, float]] = {}
    for r, p in zip(rows, probs, strict=True):
        s = out.setdefault(r.dataset, {"full": 0, "used": 0, "acc_full": 0, "acc_exit": 0, "n": 0})
        s["n"] += 1
        s["full"] += r.tokens_full
        s["acc_full"] += r.correct_full
        point = exit_point(r, p, threshold)
        if point is None:
            s["used"] += r.tokens_full
            s["acc_exit"] += r.correct_full
        else:
            s["used"] += min(r.tokens[point[0]], r.tokens_full)
            s["acc_exit"] += bool(r.correct[point[1]])
    return {
        name: {
            "saved": 1 - s["used"] / s["full"],
            "drop": (s["acc_full"] - s["acc_exit"]) / s["n"],
        }
        for name, s in out.items()
    }


def choose_threshold(rows, probs, margin: float) -> tuple[float, dict]:
    """The lowest threshold whose worst-set accuracy drop stays within MAX_DROP - margin."""
    best = (1.0, simulate(rows, probs, 1.0))
    for threshold in np.arange(0.995, 0.5, -0.0025):
        result = simulate(rows, probs, float(threshold))
        if max(v["drop"] for v in result.values()) > MAX_DROP - margin + 1e-9:
            break
        best = (float(threshold), result)
    return best


def main(argv: list[str] | None = None) -> int:
    """Fit, choose the threshold out of fold, write the weights; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=int, default=WatcherParams().interval_tokens)
    parser.add_argument("--min-tokens", type=int, default=WatcherParams().min_tokens)
    parser.add_argument("--margin", type=float, default=0.0)
    parser.add_argument("--trees", type=int, default=TREES, help="0: logistic regression only")
    parser.add_argument("--depth", type=int, default=DEPTH)
    parser.add_argument("--rate", type=float, default=RATE)
    parser.add_argument(
        "--linear", type=float, default=LINEAR, help="weight of the logistic part's log-odds"
    )
    parser.add_argument("--rows", help="pickle of the collected rows: read if there, else written")
    parser.add_argument("--dry-run", action="store_true", help="do not write the weights")
    args = parser.parse_args(argv)
    if not args.trees:
        args.linear = 1.0
    params = WatcherParams(interval_tokens=args.interval, min_tokens=args.min_tokens)
    rows = _rows(params, args.rows)
    print(f"{len(rows)} tuning traces, {sum(len(r.agrees) for r in rows)} checkpoints")
    folds = np.arange(len(rows)) % 5
    oof: list[np.ndarray] = [np.empty(0)] * len(rows)
    for fold in range(5):
        train = [r for r, f in zip(rows, folds, strict=True) if f != fold]
        held = np.flatnonzero(folds == fold)
        part = [rows[i] for i in held]
        found = probabilities(part, *fit(train)) if args.linear else []
        if args.trees:
            boosted = fit_boosted(train, args.trees, args.depth, args.rate).probabilities(part)
            if args.linear:
                found = [_blend(a, b, args.linear) for a, b in zip(found, boosted, strict=True)]
            else:
                found = boosted
        for i, p in zip(held, found, strict=True):
            oof[i] = p
    threshold, result = choose_threshold(rows, oof, args.margin)
    print(f"threshold {threshold:.4f} (out of fold, tuning half):")
    for name, v in result.items():
        print(f"  {name:<24} saved {100 * v['saved']:5.1f}%  drop {100 * v['drop']:4.1f} pt")
    # Per model (a profile's `confidence`): the constraint holds on that model's sets only.
    per_model: dict[str, float] = {}
    for model in MODELS:
        mine = [i for i, r in enumerate(rows) if r.dataset.endswith(f"-{model}")]
        chosen, found_sets = choose_threshold(
            [rows[i] for i in mine], [oof[i] for i in mine], args.margin
        )
        per_model[model] = round(chosen, 4)
        print(f"threshold for {model} {chosen:.4f}:")
        for name, v in found_sets.items():
            print(f"  {name:<24} saved {100 * v['saved']:5.1f}%  drop {100 * v['drop']:4.1f} pt")
    n = len(FEATURE_NAMES)
    trees: list[Tree] = []
    mean, scale, coef, bias = np.zeros(n), np.ones(n), np.zeros(n), 0.0
    if args.linear:
        mean, scale, coef, bias = fit(rows)
        for name, c in zip(FEATURE_NAMES, coef, strict=True):
            print(f"  {name:<20} {c:+.3f}")
        coef, bias = coef * args.linear, bias * args.linear
    if args.trees:
        tree_bias, trees = fit_boosted(rows, args.trees, args.depth, args.rate).export()
        share = 1.0 - args.linear
        bias += tree_bias * share
        trees = [replace(t, value=tuple(round(v * share, 6) for v in t.value)) for t in trees]
    if args.dry_run:
        return 0
    weights = {
        "names": list(FEATURE_NAMES),
        "mean": [round(float(v), 6) for v in mean],
        "scale": [round(float(v), 6) for v in scale],
        "weights": [round(float(v), 6) for v in coef],
        "bias": round(bias, 6),
        "threshold": round(threshold, 4),
        "model_thresholds": per_model,
        "interval_tokens": args.interval,
        "min_tokens": args.min_tokens,
        "trees_fitted": {"trees": args.trees, "depth": args.depth, "rate": args.rate},
    }
    RULE_PATH.write_text(rule_json(weights, trees), encoding="utf-8")
    print(f"wrote {RULE_PATH}")
    return 0


def rule_json(weights: dict[str, Any], trees: list[Tree]) -> str:
    """The rule's data file: weights and fitting notes indented, one tree (five lists) a line."""
    text = json.dumps({**weights, "trees": "__TREES__"}, indent=2)
    rows = ",\n".join("    " + json.dumps(t.to_list(), separators=(",", ":")) for t in trees)
    return text.replace('"__TREES__"', "[\n" + rows + "\n  ]") + "\n"


def _blend(linear: np.ndarray, boosted: np.ndarray, weight: float) -> np.ndarray:
    # Log-odds averaged: what the shipped rule computes from its two parts.
    def logit(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, 1e-12, 1 - 1e-12)
        return np.log(p / (1 - p))

    return 1 / (1 + np.exp(-(weight * logit(linear) + (1 - weight) * logit(boosted))))


def _rows(params: WatcherParams, cache: str | None) -> list[TraceRows]:
    if cache and Path(cache).exists():
        with open(cache, "rb") as fh:
            return list(pickle.load(fh))
    rows: list[TraceRows] = []
    for name in SETS:
        tune, _ = split_traces(load_traces(name))
        rows += collect(name, [PreparedTrace.of(t) for t in tune], params)
    if cache:
        with open(cache, "wb") as fh:
            pickle.dump(rows, fh)
    return rows


if __name__ == "__main__":
    sys.exit(main())
