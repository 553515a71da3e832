"""Single-prompt embedding cost per backend, side by side in one run (the gateway's hot path).

For the static encoder (minilm-static, a token table) and each MiniLM `Encoder.encode_one`
backend (onnx, onnx-int8, numpy, torch on one thread) prints the median and p90 wall time and
CPU time over GSM8K prompts, the tokenizer's share, the cosine to MiniLM's (torch) vectors, and,
for backends of the shipped model's own encoder, the largest change in its P(correct) against
that encoder's batch vectors. Then, when the shipped model runs on MiniLM, on prompts it never
trained on, how serving with int8 instead of fp32 embeddings moves its predictions:
|dP(correct)| (median, p99, max), relative token change, level flips.

Usage: python bench/encode_one.py [--prompts 200] [--repeats 3] [--held-out 400]
                                  [--only timing|int8]
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
from difficulty.encoder import DEFAULT_ENCODER, STATIC_ENCODER, Encoder
from difficulty.features import feature_matrix
from difficulty.model import DEFAULT_MODEL_DIR, DifficultyModel
from difficulty.split import is_holdout


def _times_ms(
    encoder: Encoder, prompts: list[str], repeats: int
) -> tuple[list[float], list[float]]:
    """Wall and calling-thread CPU milliseconds per call (CPU is steadier on a shared machine)."""
    encoder.encode_one(prompts[0])  # load and warm up
    wall, cpu = [], []
    for _ in range(repeats):
        for prompt in prompts:
            start, start_cpu = time.perf_counter(), time.thread_time()
            encoder.encode_one(prompt)
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.thread_time() - start_cpu) * 1000)
    return wall, cpu


def held_out_prompts(limit: int) -> list[str]:
    """Prompts the shipped model never saw: its 20% hold-out of mip-*, and other datasets' prompts
    that are not among its training prompts."""
    train_sets = ("mip-gsm8k", "mip-math")
    trained: set[str] = set()
    out: list[str] = []
    for name in train_sets:
        for o in load_dataset(name):
            if is_holdout(o.id):
                out.append(o.prompt)
            else:
                trained.add(o.prompt)
    for name in ("routellm-gsm8k", "boinf-math500"):
        out += [o.prompt for o in load_dataset(name)]
    unique = [p for p in dict.fromkeys(out) if p not in trained]
    step = max(1, len(unique) // limit)  # spread over every source, not the first one only
    return unique[::step][:limit]


def int8_effect(model: DifficultyModel, prompts: list[str], tmp: str) -> None:
    """How serving with int8 rather than fp32 embeddings moves the shipped model's forecasts."""
    from difficulty.level import difficulty_level

    out = {}
    for backend in ("onnx", "onnx-int8"):
        encoder = Encoder(cache_dir=tmp, use_cache=False, progress=False, single=backend)
        vectors = np.stack([encoder.encode_one(p) for p in prompts])
        out[backend] = model.predict_features(feature_matrix(prompts, vectors))
    fp32, int8 = out["onnx"], out["onnx-int8"]
    dp = np.abs(int8.p_correct - fp32.p_correct)
    dt = np.abs(np.log(int8.tokens) - np.log(fp32.tokens))
    flips = sum(
        difficulty_level(fp32.row(i)) != difficulty_level(int8.row(i)) for i in range(len(prompts))
    )
    print(
        f"int8 vs fp32 on {len(prompts)} held-out prompts x {len(fp32.profiles)} profiles: "
        f"|dP(correct)| median {np.median(dp):.4f}, p99 {np.percentile(dp, 99):.4f}, "
        f"max {dp.max():.4f}; |d log tokens| median {np.nanmedian(dt):.4f}, "
        f"max {np.nanmax(dt):.4f}; difficulty level changed for {flips} prompts"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--held-out", type=int, default=400)
    parser.add_argument("--only", choices=("timing", "int8"), default=None)
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
        model = DifficultyModel.load(DEFAULT_MODEL_DIR)
        if args.only != "timing":
            if model.encoder_.is_static:
                print("int8 effect: skipped (the shipped model runs on the static encoder)")
            else:
                int8_effect(model, held_out_prompts(args.held_out), tmp)
        if args.only == "int8":
            return 0
        ref = Encoder(cache_dir=tmp, use_cache=False, progress=False, threads=1)
        reference = ref.encode(prompts)
        tokenizer = Encoder(cache_dir=tmp, single="onnx")._single_model()._tokenizer
        tok = _tok_ms(tokenizer, timed)
        n_tokens = statistics.median(len(tokenizer.encode(p).ids) for p in timed)
        print(
            f"timed on {len(timed)} GSM8K prompts x {args.repeats} "
            f"(median {n_tokens:.0f} tokens); tokenizer alone median {tok:.3f} ms"
        )
        own = Encoder(model.encoder_.name, cache_dir=tmp, use_cache=False, progress=False)
        base = model.predict_features(feature_matrix(prompts, own.encode(prompts))).p_correct
        runs = [(STATIC_ENCODER, "auto")]  # the static encoder ignores the backend
        runs += [(DEFAULT_ENCODER, b) for b in ("onnx", "onnx-int8", "numpy", "torch")]
        for name, backend in runs:
            encoder = Encoder(
                name, cache_dir=tmp, use_cache=False, progress=False, threads=1, single=backend
            )
            backend = encoder.single_backend()
            ms, cpu = _times_ms(encoder, timed, args.repeats)
            vectors = np.stack([encoder.encode_one(p) for p in prompts])
            cos = (vectors * reference).sum(axis=1)
            shift = "n/a (not the shipped model's encoder)"
            if name == model.encoder_.name:
                p = model.predict_features(feature_matrix(prompts, vectors)).p_correct
                shift = f"{np.abs(p - base).max():.4f} over {len(prompts)} prompts"
            print(
                f"{backend:>9}: median {statistics.median(ms):6.3f} ms, "
                f"p90 {np.percentile(ms, 90):6.3f} ms, "
                f"CPU median {statistics.median(cpu):6.3f} ms; "
                f"cosine to MiniLM min {cos.min():.5f} median {np.median(cos):.5f}; "
                f"max |dP(correct)| {shift}"
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
