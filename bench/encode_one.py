"""Single-prompt embedding cost per backend, side by side in one run (the gateway's hot path).

For each `Encoder.encode_one` backend (onnx, onnx-int8, numpy, torch on one thread) prints the
median and p90 wall time over GSM8K prompts, the tokenizer's share, the cosine to torch's
vectors, and for int8 the largest change in the shipped difficulty model's P(correct).

Usage: python bench/encode_one.py [--prompts 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

import numpy as np

from difficulty.datasets import load_dataset
from difficulty.encoder import Encoder
from difficulty.features import feature_matrix
from difficulty.model import DEFAULT_MODEL_DIR, DifficultyModel


def _times_ms(encoder: Encoder, prompts: list[str], repeats: int) -> list[float]:
    encoder.encode_one(prompts[0])  # load and warm up
    out = []
    for _ in range(repeats):
        for prompt in prompts:
            start = time.perf_counter()
            encoder.encode_one(prompt)
            out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

    gsm8k = list(dict.fromkeys(o.prompt for o in load_dataset("mip-gsm8k")))
    math = list(dict.fromkeys(o.prompt for o in load_dataset("boinf-math500")))
    prompts = gsm8k[: args.prompts // 2] + math[: args.prompts - args.prompts // 2]
    timed = gsm8k[: min(50, len(gsm8k))]
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} cores, python {platform.python_version()}, load {load:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        ref = Encoder(cache_dir=tmp, use_cache=False, progress=False, threads=1)
        reference = ref.encode(prompts)
        tokenizer = Encoder(cache_dir=tmp, single="onnx")._single_model()._tokenizer
        tok = _tok_ms(tokenizer, timed)
        n_tokens = statistics.median(len(tokenizer.encode(p).ids) for p in timed)
        print(
            f"timed on {len(timed)} GSM8K prompts x {args.repeats} "
            f"(median {n_tokens:.0f} tokens); tokenizer alone median {tok:.3f} ms"
        )
        model = DifficultyModel.load(DEFAULT_MODEL_DIR)
        base = model.predict_features(feature_matrix(prompts, reference)).p_correct
        for backend in ("onnx", "onnx-int8", "numpy", "torch"):
            encoder = Encoder(
                cache_dir=tmp, use_cache=False, progress=False, threads=1, single=backend
            )
            ms = _times_ms(encoder, timed, args.repeats)
            vectors = np.stack([encoder.encode_one(p) for p in prompts])
            cos = (vectors * reference).sum(axis=1)
            p = model.predict_features(feature_matrix(prompts, vectors)).p_correct
            print(
                f"{backend:>9}: median {statistics.median(ms):6.2f} ms, "
                f"p90 {np.percentile(ms, 90):6.2f} ms; cosine to torch min {cos.min():.5f}; "
                f"max |dP(correct)| {np.abs(p - base).max():.4f} over {len(prompts)} prompts"
            )
    return 0


def _tok_ms(tokenizer: object, prompts: list[str]) -> float:
    encode = tokenizer.encode  # type: ignore[attr-defined]
    out = []
    for prompt in prompts:
        start = time.perf_counter()
        encode(prompt)
        out.append((time.perf_counter() - start) * 1000)
    return statistics.median(out)


if __name__ == "__main__":
    raise SystemExit(main())
