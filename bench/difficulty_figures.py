"""The difficulty model's figures, 5-fold cross-fitted on the bundled datasets, and route timing.

    python bench/difficulty_figures.py                 # every figure
    python bench/difficulty_figures.py --only route    # one of: gsm8k, tokens, levels, route
    python bench/difficulty_figures.py --encoder minilm-static   # another prompt encoder

Figures (issue 2): routellm-gsm8k AUC of predicting Mixtral's failure (vs the TF-IDF
baseline); thought-branches Spearman of predicted vs actual mean reasoning tokens of
R1-Distill-Qwen-14B; MATH train Spearman of a cross-fitted level prediction vs the level;
`thinkgate route` wall time and the in-process median time of one prediction.
Embeddings are cached (see difficulty.encoder), so only the first run embeds.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from difficulty.outcomes import Outcome, read_outcomes

ROUTE_PROMPT = (
    "A store sells pencils at 3 for $1.20. How much do 25 pencils cost if the store gives "
    "a 10% discount on orders over $8?"
)


def _encoder(args: argparse.Namespace) -> Any:
    from difficulty.encoder import Encoder

    return Encoder(args.encoder) if args.encoder else Encoder()


def _load(name: str, overrides: dict[str, str]) -> list[Outcome]:
    if name in overrides:
        return read_outcomes(overrides[name])
    from difficulty.datasets import load_dataset

    return load_dataset(name)


def gsm8k_figure(args: argparse.Namespace, overrides: dict[str, str]) -> None:
    """routellm-gsm8k: AUC of P(fail) for Mixtral, model vs baselines on the same folds."""
    from difficulty.crossfit import cross_fit
    from difficulty.evaluation import evaluate

    t0 = time.perf_counter()
    cf = cross_fit(
        _load("routellm-gsm8k", overrides),
        folds=args.folds,
        seed=args.seed,
        encoder=_encoder(args),
    )
    report = evaluate(cf)
    mixtral = next(p for p in cf.profiles if "mixtral" in p.lower())
    print(
        f"\n## routellm-gsm8k ({len(cf)} prompts, {args.folds}-fold cross-fitted, seed {args.seed})"
    )
    print("AUC of predicting the failure of", mixtral, "(= AUC of P(correct) for success)")
    print(f"  difficulty model   {report['profiles'][mixtral]['auc']:.3f}   (target >= 0.60)")
    for b, section in report["baselines"].items():
        print(f"  baseline {b:<9} {section[mixtral]['auc']:.3f}")
    for name, m in report["profiles"].items():
        print(
            f"  {name:<10} AUC {m['auc']:.3f}  Brier {m['brier']:.3f}  ECE {m['ece']:.3f}  "
            f"tokens Spearman {m['tokens_spearman']:.3f}"
        )
    print(f"  ({time.perf_counter() - t0:.0f} s)")


def tokens_figure(args: argparse.Namespace, overrides: dict[str, str]) -> None:
    """thought-branches: Spearman of predicted vs actual mean reasoning tokens."""
    from difficulty.crossfit import cross_fit
    from difficulty.evaluation import tokens_spearman

    t0 = time.perf_counter()
    cf = cross_fit(
        _load("thought-branches", overrides),
        folds=args.folds,
        seed=args.seed,
        encoder=_encoder(args),
    )
    j = cf.column("R1-Distill-Qwen-14B")
    rho = tokens_spearman(cf.tokens[:, j], cf.actual_tokens[:, j])
    print(f"\n## thought-branches ({len(cf)} MATH level-5 problems, {args.folds}-fold)")
    print(f"Spearman(predicted, actual mean reasoning tokens of R1-Distill-Qwen-14B) = {rho:.3f}")
    print(f"  (target >= 0.50; {time.perf_counter() - t0:.0f} s)")


def levels_figure(args: argparse.Namespace, overrides: dict[str, str]) -> None:
    """MATH train: cross-fitted regression of the level (1-5) from the prompt; Spearman."""
    from scipy.stats import spearmanr

    from difficulty.crossfit import cross_fit_target

    t0 = time.perf_counter()
    rows = _load("math-train", overrides)
    items: dict[str, tuple[str, float]] = {}
    for o in rows:
        level = o.extra.get("level")
        if level is not None:
            items.setdefault(o.id, (o.prompt, float(level)))
    prompts = [p for p, _ in items.values()]
    levels = np.array([lv for _, lv in items.values()])
    predicted, _ = cross_fit_target(
        prompts, levels, folds=args.folds, seed=args.seed, encoder=_encoder(args)
    )
    rho = float(spearmanr(predicted, levels)[0])
    print(f"\n## MATH train ({len(prompts)} problems, levels 1-5, {args.folds}-fold)")
    print(
        "predicted difficulty = cross-fitted regression of the level on the model's features "
        "(embedding + text features; ridge head + LightGBM), each fold trained on the others"
    )
    print(f"Spearman(predicted difficulty, level) = {rho:.3f}   (target >= 0.55)")
    print(f"  ({time.perf_counter() - t0:.0f} s)")


def route_figure(args: argparse.Namespace) -> None:
    """`thinkgate route` wall time, and the in-process median of one prediction."""
    from difficulty.features import feature_matrix
    from difficulty.model import DEFAULT_MODEL_DIR, DifficultyModel

    exe = Path(sys.executable).with_name("thinkgate")
    walls = []
    for _ in range(args.route_runs):
        t0 = time.perf_counter()
        subprocess.run([str(exe), "route", ROUTE_PROMPT], check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    model = DifficultyModel.load(DEFAULT_MODEL_DIR)
    load_s = time.perf_counter() - t0
    for _ in range(5):  # warm-up: the first call loads the encoder
        model.predict_one(ROUTE_PROMPT)
    total, embed, boost = [], [], []
    for _ in range(args.route_repeats):
        t0 = time.perf_counter()
        model.predict_one(ROUTE_PROMPT)
        total.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        vec = model.encoder_.encode_one(ROUTE_PROMPT)
        t1 = time.perf_counter()
        model.predict_features(feature_matrix([ROUTE_PROMPT], vec[None, :]))
        embed.append(t1 - t0)
        boost.append(time.perf_counter() - t1)
    ms = 1000.0
    print(f"\n## thinkgate route (default model, {len(model.profiles_)} profiles)")
    print(
        f"whole command, wall: median {statistics.median(walls):.2f} s over {len(walls)} runs "
        f"(min {min(walls):.2f}, max {max(walls):.2f})"
    )
    print(f"model load (metadata + boosters): {load_s * ms:.1f} ms")
    print(
        f"one prediction after warm-up, median of {args.route_repeats}: "
        f"{statistics.median(total) * ms:.2f} ms (embedding {statistics.median(embed) * ms:.2f} "
        f"ms, features + boosters {statistics.median(boost) * ms:.3f} ms)"
    )


def machine() -> dict[str, Any]:
    """Where the figures were measured."""
    import torch

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["gsm8k", "tokens", "levels", "route"], action="append")
    parser.add_argument(
        "--encoder", default=None, help="prompt encoder (default: difficulty.encoder's default)"
    )
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--route-runs", type=int, default=3)
    parser.add_argument("--route-repeats", type=int, default=50)
    parser.add_argument(
        "--outcomes",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="use FILE instead of the bundled dataset NAME (development)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    overrides = dict(item.split("=", 1) for item in args.outcomes)
    only = set(args.only or ["gsm8k", "tokens", "levels", "route"])
    print("machine:", machine())
    if only - {"route"}:
        print("encoder:", _encoder(args).name)
    if "gsm8k" in only:
        gsm8k_figure(args, overrides)
    if "tokens" in only:
        tokens_figure(args, overrides)
    if "levels" in only:
        levels_figure(args, overrides)
    if "route" in only:
        route_figure(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
