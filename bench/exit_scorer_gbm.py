"""LightGBM on the watcher's checkpoints, leave-one-model-out: AUC and ceilings beside history.

python bench/exit_scorer_study.py collect        # once: the checkpoint cache under out/
python bench/exit_scorer_study.py gbm [--features all|history|rule] [--leaves 15] [--certify]

For each model, a LightGBM classifier of "the leader is the full stream's answer" is fitted on
the training items (`training_item`) of the other two models' six-set traces (each trace
weighing the same) and scores every trace of the left-out model; the history score is refitted
the same way (bench/exit_calibration.py's unseen-model protocol). thought-anchors is scored by
models fitted on all three. Printed per set: checkpoint AUC and the hindsight ceilings (the most
one threshold saves with at most 0, 1, 2, 3 changed streams and 1% of the set's streams) of both
scores, beside the stable oracle. `--certify` adds bench/exit_calibration.py's held-out, seeded
and cold figures on each score (records built from the cache; the history score's reproduce the
README's). Options: `--monotone` (constraints on the features whose direction is not in doubt),
`--blend` (mean log-odds with the history score), `--doubt` (doubt-about-the-question phrases),
`--features history|rule` (fewer features).
"""

from __future__ import annotations

import argparse
import bisect
import math
import re
from collections.abc import Sequence

import lightgbm as lgb
import numpy as np
from exit_scorer_study import (
    MODELS,
    SETS,
    TraceRows,
    ceilings,
    history_scores,
    load,
    model_of,
    oracle,
    records,
    set_totals,
    unseen_histories,
)
from fit_exit_history import SETS as FIT_SETS

from policies.convergence.features import FEATURE_NAMES
from policies.convergence.history import HISTORY_NAMES

EXTRA_NAMES = (
    "z",
    "n_options",
    "log_led_tokens",  # tokens since the leader took the lead
    "log_since_new",  # tokens since a value never seen before appeared
    "cps_since_new",  # checkpoints since then
    "log_distinct_leaders",  # distinct leaders so far
    "leader_max_z",  # highest rule log-odds the leader has had
    "others_max_z",  # highest rule log-odds any other leader has had
    "z_trend",  # z now minus z six checkpoints ago
    "z_gap",  # z minus the runner-up's log-odds
    "leader_seen_share",  # share of checkpoints so far led by this leader
)


def extras(r: TraceRows) -> np.ndarray:
    out = np.zeros((len(r.z), len(EXTRA_NAMES)))
    lead_since = None
    last_new_tok, last_new_cp = r.tokens[0], 0
    max_z: dict[str, float] = {}
    led_count: dict[str, int] = {}
    runner = r.history[:, HISTORY_NAMES.index("runner_up")]
    prev = None
    for j, (z, leader) in enumerate(zip(r.z, r.normalized, strict=True)):
        if leader != prev:
            lead_since = r.tokens[j]
            prev = leader
        if r.new_value[j]:
            last_new_tok, last_new_cp = r.tokens[j], j
        max_z[leader] = max(max_z.get(leader, -30.0), z)
        led_count[leader] = led_count.get(leader, 0) + 1
        others = max((v for k, v in max_z.items() if k != leader), default=-10.0)
        out[j] = (
            z,
            r.n_options[j],
            math.log1p(r.tokens[j] - lead_since),
            math.log1p(r.tokens[j] - last_new_tok),
            j - last_new_cp,
            math.log1p(len(max_z)),
            max_z[leader],
            others,
            z - r.z[max(0, j - 6)],
            z - runner[j],
            led_count[leader] / (j + 1),
        )
    return out


# Doubt about what the question asks: QwQ-32B's confident wrong answers are often followed by
# an argument over the wording ("magazines" as subscriptions or issues).
DOUBT = re.compile(
    r"ambigu|wording|interpret|misread|phrasing|phrased|question (?:is )?(?:asking|says)|re-?read",
    re.IGNORECASE,
)
DOUBT_NAMES = ("log_doubt", "doubt_rate", "log_doubt_led")
TEXTS: dict[tuple[str, str], str] = {}


def doubt(r: TraceRows) -> np.ndarray:
    """Doubt-phrase counts: so far, per 100 tokens, since the leader took the lead."""
    text = TEXTS[(r.set, r.id)]
    marks = [m.start() for m in DOUBT.finditer(text)]
    out = np.zeros((len(r.z), len(DOUBT_NAMES)))
    since, prev = 0, None
    for j, (leader, chars) in enumerate(zip(r.normalized, r.chars, strict=True)):
        if leader != prev:
            since, prev = chars, leader
        n = bisect.bisect_left(marks, chars)
        out[j] = (
            math.log1p(n),
            100 * n / max(r.tokens[j], 1),
            math.log1p(n - bisect.bisect_left(marks, since)),
        )
    return out


def matrix(r: TraceRows, which: str) -> np.ndarray:
    parts = [extras(r), r.history]
    if TEXTS:
        parts.append(doubt(r))
    if which in ("all", "rule"):
        parts.append(r.leader_features)
    if which == "all":
        parts.append(r.runner_features)
    return np.hstack(parts)


def names(which: str) -> list[str]:
    out = [*EXTRA_NAMES, *HISTORY_NAMES, *(DOUBT_NAMES if TEXTS else ())]
    if which in ("all", "rule"):
        out += [f"lead_{n}" for n in FEATURE_NAMES]
    if which == "all":
        out += [f"run_{n}" for n in FEATURE_NAMES]
    return out


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mann-Whitney AUC (ties count half)."""
    labels = labels.astype(bool)
    pos, neg = labels.sum(), (~labels).sum()
    if not pos or not neg:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    s = scores[order]
    i = 0
    while i < len(s):
        k = i
        while k + 1 < len(s) and s[k + 1] == s[i]:
            k += 1
        ranks[order[i : k + 1]] = (i + k) / 2 + 1
        i = k + 1
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


INCREASING = ("z", "leader_max_z", "recent_min", "recent_mean", "log_led", "log_led_high")
DECREASING = ("runner_up", "others_max_z", "log_changes")


def monotone(which: str) -> list[int]:
    """+1 / -1 constraints on the features whose direction is not in doubt."""
    return [1 if n in INCREASING else -1 if n in DECREASING else 0 for n in names(which)]


def blend(g: np.ndarray, h: np.ndarray) -> np.ndarray:
    """The mean of the two scores' log-odds, squashed."""
    lo = lambda p: np.log(np.clip(p, 1e-9, 1 - 1e-9) / (1 - np.clip(p, 1e-9, 1 - 1e-9)))  # noqa: E731
    return 1 / (1 + np.exp(-(lo(g) + lo(h)) / 2))


def fit_gbm(rows: Sequence[TraceRows], which: str, params: dict, rounds: int) -> lgb.Booster:
    x = np.vstack([matrix(r, which) for r in rows])
    y = np.concatenate([r.agrees for r in rows]).astype(float)
    w = np.concatenate([np.full(len(r.z), 1 / len(r.z)) for r in rows])
    w *= len(w) / w.sum()
    data = lgb.Dataset(x, y, weight=w, feature_name=names(which), free_raw_data=False)
    return lgb.train(params, data, num_boost_round=rounds)


def certify(rows: Sequence[TraceRows], empty: dict, scores: dict[str, list[np.ndarray]]) -> None:
    """Held-out (tuning half certifies, the other half served), seeded per model and cold, at
    the default guarantee, for each score (bench/exit_calibration.py's figures)."""
    from dataclasses import replace

    from exit_calibration import cold, held_out

    from policies.convergence import CalibrationSettings

    settings = CalibrationSettings()
    for label, sc in scores.items():
        print(f"\n{label}: held-out | cold (file order)")
        data = {}
        for name in SETS:
            traces, recs = records(rows, empty, sc, name)
            data[name] = (traces, recs)
            h = held_out(traces, recs, settings)
            c = cold(traces, recs, settings)
            print(
                f"  {name:<30} saved {100 * h['saved']:5.1f}% acc {100 * h['accuracy_full']:5.1f}%"
                f" -> {100 * h['accuracy_exit']:5.1f}% changed {h['changed']}/{h['n']} "
                f"(t={h['threshold']}) | cold saved {100 * c['saved']:5.1f}% changed "
                f"{c['changed']} after {c['certified_after'] or 'never'}"
            )
        for model in MODELS:
            names_ = [n for n in SETS if n.endswith(model)]
            traces = [t for n in names_ for t in data[n][0]]
            recs = [replace(r, family="default") for n in names_ for r in data[n][1]]
            s_ = held_out(traces, recs, settings, seeded=True)
            c = cold(traces, recs, settings)
            print(
                f"  {model:<30} seeded saved {100 * s_['saved']:5.1f}% acc "
                f"{100 * s_['accuracy_full']:5.1f}% -> {100 * s_['accuracy_exit']:5.1f}% changed "
                f"{s_['changed']}/{s_['n']} (t={s_['threshold']}) | cold saved "
                f"{100 * c['saved']:5.1f}% changed {c['changed']} after "
                f"{c['certified_after'] or 'never'}"
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", choices=("all", "history", "rule"), default="all")
    parser.add_argument("--leaves", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--min-leaf", type=int, default=100)
    parser.add_argument("--importance", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--doubt", action="store_true", help="add doubt-phrase features")
    parser.add_argument("--monotone", action="store_true", help="monotone constraints")
    parser.add_argument("--blend", action="store_true", help="score: mean log-odds with history")
    parser.add_argument(
        "--certify",
        action="store_true",
        help="also certify on each score as bench/exit_calibration.py does (held-out, seeded)",
    )
    args = parser.parse_args(argv)
    rows, empty = load()
    if args.doubt:
        from difficulty.traces import load_traces

        TEXTS.update({(n, t.id): t.reasoning for n in SETS for t in load_traces(n)})
    histories = unseen_histories(rows)
    hs = history_scores(rows, histories)
    params = {
        "objective": "binary",
        "num_leaves": args.leaves,
        "learning_rate": args.lr,
        "min_data_in_leaf": args.min_leaf,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "num_threads": 1,
        "seed": args.seed,
        "verbose": -1,
    }
    if args.monotone:
        params["monotone_constraints"] = monotone(args.features)
    train = [r for r in rows if r.training and r.set in FIT_SETS]
    boosters = {
        m: fit_gbm([r for r in train if r.model != m], args.features, params, args.rounds)
        for m in MODELS
    }
    boosters["thought-anchors"] = fit_gbm(train, args.features, params, args.rounds)
    gs = [boosters[model_of(r.set)].predict(matrix(r, args.features)) for r in rows]
    if args.blend:
        gs = [blend(g, h) for g, h in zip(gs, hs, strict=True)]
    print(
        f"features {args.features} ({len(names(args.features))}), leaves {args.leaves}, "
        f"rounds {args.rounds}, lr {args.lr}, min leaf {args.min_leaf}, seed {args.seed}"
        + (", monotone" if args.monotone else "")
        + (", doubt phrases" if args.doubt else "")
        + (", blended with history" if args.blend else "")
    )
    print(
        "ceilings: share of the set's thinking a single threshold saves with at most k changed "
        "streams (k = 0, 1, 2, 3, 1% of the set)"
    )
    head = "k=0   1    2    3   1%"
    print(f"{'set (left-out model)':<31}{'stable':>7} | AUC hist  gbm | hist {head} | gbm  {head}")
    for name in SETS:
        pick = [i for i, r in enumerate(rows) if r.set == name]
        sub = [rows[i] for i in pick]
        total, n = set_totals(rows, empty, name)
        stable, _ = oracle(sub, total)
        y = np.concatenate([r.agrees for r in sub])
        h = [hs[i] for i in pick]
        g = [gs[i] for i in pick]
        ah, ag = auc(np.concatenate(h), y), auc(np.concatenate(g), y)
        cells = []
        for s in (h, g):
            c0, c1, _, k1, k2, k3 = ceilings(sub, s, total, n, extra=(1, 2, 3))
            cells.append(" ".join(f"{100 * v:4.1f}" for v in (c0, k1, k2, k3, c1)))
        print(f"{name:<31}{100 * stable:>6.1f}% | {ah:>8.3f} {ag:.3f} | {cells[0]} | {cells[1]}")
    if args.certify:
        certify(rows, empty, {"history": hs, "gbm": gs})
    if args.importance:
        for m, b in boosters.items():
            gain = b.feature_importance("gain")
            top = np.argsort(gain)[::-1][:12]
            print(
                m, ", ".join(f"{names(args.features)[i]} {gain[i] / gain.sum():.2f}" for i in top)
            )
    return 0
