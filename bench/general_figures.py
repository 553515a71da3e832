"""The general model's figures in one table: `python bench/general_figures.py`.

1. With the example replay config (router/configs/replay.yaml) and the shipped general model,
   no training: the share of bench/data/everyday_prompts.jsonl routed to `direct` and of
   bench/data/competition_math.jsonl (AIME 2024, never trained on) routed to `think`; the
   decision latency median and the serving process's peak RSS (a fresh process that loads the
   gateway's predictor and routes those prompts).
2. Transfer: for each bundled source, a general model trained on all the other sources
   (held-out split excluded as for the shipped one), judged on the left-out source's pair(s)
   by APGR (random routing: 0.5). Embeddings are cached under out/.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data"
CACHE = ROOT / "out" / "general_figures"

if TYPE_CHECKING:
    from router.pipeline import Pipeline


def _prompts(name: str) -> list[str]:
    return [json.loads(line)["prompt"] for line in (DATA / name).read_text().splitlines()]


def fresh_generations() -> list[str]:
    """The N of every pair of fresh sets after the first (everyday_freshN and
    competition_freshN both in bench/data), in order."""
    found = {p.stem.removeprefix("everyday_fresh") for p in DATA.glob("everyday_fresh*.jsonl")}
    pairs = [n for n in found if n.isdigit() and (DATA / f"competition_fresh{n}.jsonl").is_file()]
    return sorted(pairs, key=int)


def dev_math() -> list[str]:
    """The competition dev set: 100 level-5 MATH train problems of the held-out split (never
    trained on), the first by sha256 of their id."""
    import hashlib

    from difficulty.datasets import load_dataset
    from difficulty.split import is_holdout

    rows = [o for o in load_dataset("math-train") if is_holdout(o.id) and o.extra.get("level") == 5]
    rows.sort(key=lambda o: hashlib.sha256(o.id.encode()).hexdigest())
    return [o.prompt for o in rows[:100]]


def _by_category(name: str, routed: list[object]) -> dict[str, float]:
    """Share of a categorised prompt file's prompts routed to `direct`, per category."""
    shares: dict[str, list[bool]] = {}
    lines = (DATA / name).read_text().splitlines()
    for line, r in zip(lines, routed, strict=True):
        shares.setdefault(json.loads(line)["category"], []).append(r.profile == "direct")  # type: ignore[attr-defined]
    return {k: float(np.mean(v)) for k, v in shares.items()}


def replay_pipeline(model_dir: str | None = None) -> Pipeline:
    """The gateway's routing pipeline with the example replay config and a general model
    (`model_dir`, default the shipped one)."""
    from router.app import load_predictor
    from router.pipeline import Pipeline
    from router.settings import load_settings

    settings = load_settings(ROOT / "router" / "configs" / "replay.yaml")
    if model_dir:
        settings = settings.model_copy(update={"general_model_dir": model_dir})
    return Pipeline(settings, load_predictor(settings))


def serving(model_dir: str | None = None, final: str | None = None) -> dict[str, object]:
    """Route the everyday and competition prompts (and the dev sets the model's settings were
    chosen on, and the fresh sets of bench/data/FRESH.md) through the gateway's pipeline.
    `final` ("2", "3") also routes that generation of fresh sets, judged once, on a chosen
    variant."""
    pipeline = replay_pipeline(model_dir)
    everyday, competition = _prompts("everyday_prompts.jsonl"), _prompts("competition_math.jsonl")

    async def route_all(prompts: list[str]) -> list[object]:
        return [await pipeline.route("thinkgate/auto", p) for p in prompts]

    day = asyncio.run(route_all(everyday))
    comp = asyncio.run(route_all(competition))
    dev_day = asyncio.run(route_all(_prompts("everyday_dev.jsonl")))
    dev_comp = asyncio.run(route_all(dev_math()))
    fresh_day = asyncio.run(route_all(_prompts("everyday_fresh.jsonl")))
    fresh_comp = asyncio.run(route_all(_prompts("competition_fresh.jsonl")))
    final_figures: dict[str, object] = {}
    if final:
        final_day = asyncio.run(route_all(_prompts(f"everyday_fresh{final}.jsonl")))
        final_comp = asyncio.run(route_all(_prompts(f"competition_fresh{final}.jsonl")))
        final_figures = {
            "final_everyday_direct": float(np.mean([r.profile == "direct" for r in final_day])),
            "final_everyday_n": len(final_day),
            "final_everyday_by_category": _by_category(f"everyday_fresh{final}.jsonl", final_day),
            "final_competition_think": float(np.mean([r.profile == "think" for r in final_comp])),
            "final_competition_n": len(final_comp),
        }
    times = [r.decision_ms for _ in range(3) for r in asyncio.run(route_all(everyday))]
    pipeline.close()
    return {
        "everyday_direct": float(np.mean([r.profile == "direct" for r in day])),
        "everyday_n": len(day),
        "everyday_by_category": _by_category("everyday_prompts.jsonl", day),
        "everyday_novel": float(np.mean([r.novel for r in day])),
        "competition_think": float(np.mean([r.profile == "think" for r in comp])),
        "competition_n": len(comp),
        "competition_novel": float(np.mean([r.novel for r in comp])),
        "dev_everyday_direct": float(np.mean([r.profile == "direct" for r in dev_day])),
        "dev_everyday_n": len(dev_day),
        "dev_math_think": float(np.mean([r.profile == "think" for r in dev_comp])),
        "dev_math_n": len(dev_comp),
        "fresh_everyday_direct": float(np.mean([r.profile == "direct" for r in fresh_day])),
        "fresh_everyday_n": len(fresh_day),
        "fresh_everyday_by_category": _by_category("everyday_fresh.jsonl", fresh_day),
        "fresh_competition_think": float(np.mean([r.profile == "think" for r in fresh_comp])),
        "fresh_competition_n": len(fresh_comp),
        "decision_ms_median": statistics.median(times),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **final_figures,
    }


def _embed(prompts: list[str]) -> np.ndarray:
    from difficulty.encoder import STATIC_ENCODER, Encoder

    key = hashlib.sha256("\0".join(prompts).encode()).hexdigest()[:16]
    path = CACHE / f"emb-{key}.npy"
    if path.is_file():
        return np.load(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    vectors = Encoder(STATIC_ENCODER).encode(prompts)
    np.save(path, vectors)
    return vectors


def transfer(cap: int, bags: int) -> dict[str, dict[str, object]]:
    """Leave-one-source-out APGR per source."""
    from difficulty.datasets import load_dataset
    from difficulty.descriptions import SOURCE_MODELS
    from difficulty.encoder import STATIC_ENCODER, Encoder
    from difficulty.general import GeneralModel
    from difficulty.general_data import GENERAL_SOURCES, described_rows
    from difficulty.train_general import SHIPPED_BENEFIT, training_rows
    from difficulty.transfer import SOURCE_PAIRS, pair_report

    out: dict[str, dict[str, object]] = {}
    for left in SOURCE_PAIRS:
        t0 = time.perf_counter()
        rows = training_rows([s for s in GENERAL_SOURCES if s != left], cap)
        model = GeneralModel(encoder=Encoder(STATIC_ENCODER), benefit=SHIPPED_BENEFIT, n_bags=bags)
        model.fit(rows, _embed(rows.prompts))
        test = load_dataset(left)
        kept = described_rows(test, max_items_per_source=cap)  # the same items a fit would see
        prompts = set(kept.prompts)
        test = [o for o in test if o.prompt in prompts]
        names = sorted(prompts)
        emb = dict(zip(names, _embed(names), strict=True))
        reports = [
            pair_report(model, test, pair, SOURCE_MODELS, emb) for pair in SOURCE_PAIRS[left]
        ]
        scored = [r["apgr"] for r in reports if r["apgr"] is not None]
        out[left] = {
            "apgr": float(np.mean(scored)) if scored else None,
            "pairs": reports,
            "fit_s": round(time.perf_counter() - t0, 1),
        }
        print(f"  left out {left}: APGR {out[left]['apgr']}", file=sys.stderr, flush=True)
    return out


def _serve_in_child(model_dir: str | None, final: str | None = None) -> dict[str, object]:
    """`serving` in a fresh process, so its peak RSS is the serving path's alone."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, __file__, "--serving"] + (
        ["--model", model_dir] if model_dir else []
    )
    command += ["--final", final] if final else []
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# The code a retrained model depends on: a change to any of these is a new recipe.
RECIPE = (
    "general.py",
    "general_benefit.py",
    "general_gain.py",
    "general_data.py",
    "descriptions.py",
    "train_general.py",
)


def _retrained(seed: int, bags: int) -> str:
    """The shipped recipe (`python -m difficulty.train_general`) at another seed (with `bags`
    members, at seeds disjoint from any other seed's), cached per recipe (a hash of the
    training code and the bundled data), seed and bags."""
    code = b"".join((ROOT / "difficulty" / name).read_bytes() for name in RECIPE)
    # ... and of the bundled outcomes it trains on: relabelled data is a new recipe too.
    code += b"".join(p.read_bytes() for p in sorted((ROOT / "difficulty" / "data").glob("*.gz")))
    out = CACHE / f"general-{hashlib.sha256(code).hexdigest()[:12]}-seed{seed}-bags{bags}"
    if not (out / "metadata.json").is_file():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "difficulty.train_general",
                "--seed",
                str(seed),
                "--bags",
                str(bags),
                "--out",
                str(out),
            ],
            capture_output=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=True,
        )
    return str(out)


SPREAD_KEYS = (
    ("everyday_direct", "everyday -> direct"),
    ("competition_think", "competition -> think"),
    ("dev_everyday_direct", "dev everyday -> direct"),
    ("dev_math_think", "dev MATH L5 -> think"),
    ("fresh_everyday_direct", "fresh everyday -> direct"),
    ("fresh_competition_think", "fresh competition -> think"),
)


def _print_spread(shipped: dict[str, object], spread: dict[int, dict[str, object]]) -> None:
    """How much of each routing figure is the training seed's: the shipped model (seed 0) and
    the same recipe at seeds 1..N, with the mean over all."""
    print(f"the same recipe at {len(spread) + 1} training seeds (0 = shipped):")
    final = (
        (
            ("final_everyday_direct", "final fresh everyday -> direct"),
            ("final_competition_think", "final fresh competition -> think"),
        )
        if "final_everyday_direct" in shipped
        else ()
    )
    for key, label in (*SPREAD_KEYS, *final):
        values = [float(shipped[key])] + [float(r[key]) for r in spread.values()]  # type: ignore[arg-type]
        cells = " ".join(f"{100 * v:5.1f}" for v in values)
        print(f"  {label:<27} {cells}   mean {100 * float(np.mean(values)):5.1f}%")


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/general_figures.py")
    parser.add_argument("--serving", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help="judge this general model directory (default: shipped)")
    parser.add_argument(
        "--seeds",
        type=int,
        default=0,
        help="also retrain the shipped recipe with seeds 1..N and route the same sets with each",
    )
    parser.add_argument(
        "--bags",
        type=int,
        default=None,
        help="members of each retrained model (--seeds, transfer); default the shipped count",
    )
    parser.add_argument(
        "--final",
        choices=fresh_generations(),
        help="also route that generation of fresh held-out sets (everyday_freshN, "
        "competition_freshN): judge once, on the variant already chosen, never to choose "
        "between variants; bench/data/FRESH.md says which have been judged",
    )
    parser.add_argument("--skip-transfer", action="store_true")
    parser.add_argument("--cap", type=int, default=3000, help="items per source (transfer)")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    if args.serving:
        print(json.dumps(serving(args.model, args.final)))
        return 0
    from difficulty.train_general import SHIPPED_BAGS

    bags = SHIPPED_BAGS if args.bags is None else args.bags
    serve = _serve_in_child(args.model, args.final)
    spread = {
        seed: _serve_in_child(_retrained(seed, bags), args.final)
        for seed in range(1, args.seeds + 1)
    }
    moved = None if args.skip_transfer else transfer(args.cap, bags)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print("shipped general model, router/configs/replay.yaml, no training on these prompts:")
    print(
        f"  everyday -> direct      {100 * serve['everyday_direct']:5.1f}% of {serve['everyday_n']}"
    )
    for cat, share in serve["everyday_by_category"].items():
        print(f"    {cat:<16} {100 * share:5.1f}%")
    print(
        f"  competition -> think    {100 * serve['competition_think']:5.1f}% "
        f"of {serve['competition_n']}"
    )
    print(
        f"  dev sets (settings chosen on these): everyday -> direct "
        f"{100 * serve['dev_everyday_direct']:.1f}% of {serve['dev_everyday_n']}, MATH level 5 "
        f"(held-out train) -> think {100 * serve['dev_math_think']:.1f}% of {serve['dev_math_n']}"
    )
    print(
        f"  first fresh sets (FRESH.md; judged on twice, dev-grade now): everyday -> "
        f"direct {100 * serve['fresh_everyday_direct']:.1f}% of {serve['fresh_everyday_n']}, "
        f"competition -> think {100 * serve['fresh_competition_think']:.1f}% of "
        f"{serve['fresh_competition_n']}"
    )
    for cat, share in serve["fresh_everyday_by_category"].items():
        print(f"    {cat:<16} {100 * share:5.1f}%")
    if args.final:
        print(
            f"  fresh sets {args.final} (bench/data/FRESH.md, --final; judged once): everyday -> "
            f"direct {100 * serve['final_everyday_direct']:.1f}% of "
            f"{serve['final_everyday_n']}, competition -> think "
            f"{100 * serve['final_competition_think']:.1f}% of {serve['final_competition_n']}"
        )
        for cat, share in serve["final_everyday_by_category"].items():  # type: ignore[attr-defined]
            print(f"    {cat:<16} {100 * share:5.1f}%")
    print(
        f"  novel: everyday {100 * serve['everyday_novel']:.1f}%, competition "
        f"{100 * serve['competition_novel']:.1f}%"
    )
    print(
        f"  decision latency median {serve['decision_ms_median']:.2f} ms, "
        f"RSS {serve['rss_mb']:.0f} MB"
    )
    if spread:
        _print_spread(serve, spread)
    if moved is not None:
        print("transfer (train on all other sources, test on this one; random = 0.500):")
        for source, r in moved.items():
            apgr = "n/a" if r["apgr"] is None else f"{r['apgr']:.3f}"
            pairs = ", ".join(
                f"{p['pair'][0]}->{p['pair'][1]} "
                + ("no gap" if p["apgr"] is None else f"{p['apgr']:.3f}")
                + " (AUC "
                + "/".join("n/a" if a is None else f"{a:.2f}" for a in p["auc"].values())
                + ")"
                for p in r["pairs"]
            )
            print(f"  {source:<18} APGR {apgr}   ({pairs})")
        scored = [float(r["apgr"]) for r in moved.values() if r["apgr"] is not None]  # type: ignore[arg-type]
        if scored:
            print(f"  mean over {len(scored)} sources: APGR {sum(scored) / len(scored):.3f}")
    if args.json:
        figures = {"serving": serve, "seeds": spread, "transfer": moved}
        Path(args.json).write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
