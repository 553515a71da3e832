"""What ranks routellm-gsm8k's items for routing (Mixtral -> GPT-4): linear scores compared.

    python bench/gsm8k_scores.py [--seeds 5]

Every score is cross-fitted (5 folds grouped by prompt, the simulator's `assign_folds`) on the
gateway's features (MiniLM embedding + text features), standardised, with penalised linear
models; printed is RouteLLM's APGR per seed (random routing 0.500). The scores:
- `gain`: P(GPT-4 right) - P(Mixtral right), a logistic head per profile (the simulator's
  ranking, without its boosted trees);
- `weak`: -P(Mixtral right) alone;
- `joint`: -(predicted mean of both outcomes), one difficulty for the two models;
- `others`: -(predicted share of MiP's models that answer the same GSM8K question right),
  fitted on the training folds' questions that MiP also holds (582 of 1,319): other models'
  outcomes as a denser difficulty label;
- `gain-direct`: a ridge regression of (GPT-4 right) - (Mixtral right) itself.
It measures how far linear scores on these features go toward #13's APGR 0.70, and whether a
shared difficulty (the same question's outcomes under other models) helps: it does not, since
APGR rewards the items only GPT-4 answers, not the items both miss.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from difficulty.crossfit import assign_folds
from difficulty.datasets import load_dataset
from difficulty.encoder import Encoder
from difficulty.features import feature_matrix
from policies.routing.metrics import apgr

Fit = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _logistic(x: np.ndarray, y: np.ndarray, c: float) -> Fit:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    def fit(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        scale = StandardScaler().fit(x[train])
        head = LogisticRegression(C=c, max_iter=2000).fit(scale.transform(x[train]), y[train])
        return np.asarray(head.predict_proba(scale.transform(x[test]))[:, 1])

    return fit


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> Fit:
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import StandardScaler

    def fit(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        ok = train & np.isfinite(y)
        scale = StandardScaler().fit(x[ok])
        head = Ridge(alpha=alpha).fit(scale.transform(x[ok]), y[ok])
        return np.asarray(head.predict(scale.transform(x[test])))

    return fit


def _cross_fit(ids: list[str], prompts: list[str], seed: int, fit: Fit) -> np.ndarray:
    fold = assign_folds(ids, 5, seed, groups=prompts)
    out = np.zeros(len(ids))
    for k in range(5):
        test = fold == k
        out[test] = fit(~test, test)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    t0 = time.perf_counter()
    outcome: dict[str, dict[str, bool]] = defaultdict(dict)
    text: dict[str, str] = {}
    for r in load_dataset("routellm-gsm8k"):
        if r.correct is not None:
            outcome[r.id][r.profile] = bool(r.correct)
            text[r.id] = r.prompt
    ids = sorted(i for i, o in outcome.items() if {"mixtral", "gpt-4"} <= set(o))
    prompts = [text[i] for i in ids]
    weak = np.array([outcome[i]["mixtral"] for i in ids], dtype=float)
    strong = np.array([outcome[i]["gpt-4"] for i in ids], dtype=float)
    others: dict[str, list[bool]] = defaultdict(list)
    for r in load_dataset("mip-gsm8k"):
        if r.correct is not None:
            others[r.prompt.strip()].append(bool(r.correct))
    share = np.array(
        [np.mean(others[p.strip()]) if p.strip() in others else np.nan for p in prompts]
    )
    x = feature_matrix(prompts, Encoder().encode(prompts)).astype(np.float64)
    print(
        f"routellm-gsm8k: {len(ids)} items, Mixtral {100 * weak.mean():.1f}%, GPT-4 "
        f"{100 * strong.mean():.1f}%; {int(np.isfinite(share).sum())} also in MiP's GSM8K set"
    )
    print(f"{'seed':>4} {'gain':>6} {'weak':>6} {'joint':>6} {'others':>6} {'gain-direct':>11}")
    for seed in range(args.seeds):
        p_weak = _cross_fit(ids, prompts, seed, _logistic(x, weak, 0.001))
        p_strong = _cross_fit(ids, prompts, seed, _logistic(x, strong, 0.001))
        joint = _cross_fit(ids, prompts, seed, _ridge(x, (weak + strong) / 2, 10000))
        other = _cross_fit(ids, prompts, seed, _ridge(x, share, 10000))
        direct = _cross_fit(ids, prompts, seed, _ridge(x, strong - weak, 10000))
        scores = (p_strong - p_weak, -p_weak, -joint, -other, direct)
        print(f"{seed:>4} " + " ".join(f"{apgr(s, weak, strong):6.3f}" for s in scores[:4]), end="")
        print(f" {apgr(scores[4], weak, strong):11.3f}")
    print("random 0.500; the simulator's head (linear start + trees): `bench/routing_figures.py`.")
    print(f"{time.perf_counter() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
