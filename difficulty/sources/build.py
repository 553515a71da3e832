"""Rebuild the bundled outcome datasets from the raw public files (a developer tool).

python -m difficulty.sources.build --shared /work/shared/data [--only NAME ...]
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from difficulty.datasets import DATA_DIR
from difficulty.outcomes import Outcome

__all__ = ["Bundle", "BundleStats", "BUNDLES", "write_bundle", "main"]


class BundleStats(TypedDict):
    """Size of a written bundle, as recorded in ``difficulty/data/index.json``."""

    rows: int
    items: int
    profiles: list[str]


@dataclass(frozen=True)
class Bundle:
    """One bundled dataset: its name, a one-line description and the reader that yields rows."""

    name: str
    description: str
    sources: tuple[str, ...]  # folders under shared/data whose licenses travel with the bundle
    read: Callable[[Path], Iterable[Outcome]]


def _mip(dataset: str) -> Callable[[Path], Iterable[Outcome]]:
    def read(shared: Path) -> Iterable[Outcome]:
        from difficulty.sources.mip import mip_outcomes

        return mip_outcomes(shared, dataset)

    return read


def _missing_premise(shared: Path) -> Iterable[Outcome]:
    from difficulty.sources.mip import missing_premise_outcomes

    return missing_premise_outcomes(shared)


def _routellm_gsm8k(shared: Path) -> Iterable[Outcome]:
    from difficulty.sources.routellm import gsm8k_outcomes

    return gsm8k_outcomes(shared)


def _routellm_mmlu(shared: Path) -> Iterable[Outcome]:
    from difficulty.sources.routellm import mmlu_outcomes

    removed: list[int] = []
    rows = list(mmlu_outcomes(shared, removed))
    print(f"routellm-mmlu: {removed[0]} contaminated prompts removed", file=sys.stderr)
    return rows


def _routellm_mt_bench(shared: Path) -> Iterable[Outcome]:
    from difficulty.sources.routellm import mt_bench_outcomes

    removed: list[int] = []
    rows = list(mt_bench_outcomes(shared, removed))
    print(f"routellm-mt-bench: {removed[0]} contaminated questions removed", file=sys.stderr)
    return rows


def _boinf(benchmark: str) -> Callable[[Path], Iterable[Outcome]]:
    def read(shared: Path) -> Iterable[Outcome]:
        from difficulty.sources.boinf import boinf_outcomes, join_report

        report = join_report(shared, benchmark)
        print(
            f"boinf-{benchmark}: join by {report.method}: {report.agreeing}/{report.checked} gold "
            f"answers agree ({report.rate:.1%}); left out {list(report.unjoined)}",
            file=sys.stderr,
        )
        return boinf_outcomes(shared, benchmark)

    return read


def _faithful_cot(shared: Path) -> Iterable[Outcome]:
    from difficulty.sources.faithful_cot import faithful_cot_outcomes

    return faithful_cot_outcomes(shared)


def _thought_branches(shared: Path) -> Iterable[Outcome]:
    from difficulty.sources.thought_branches import thought_branches_outcomes

    return thought_branches_outcomes(shared)


def _math_train(shared: Path) -> Iterable[Outcome]:
    from difficulty.sources.math_train import math_train_outcomes

    return math_train_outcomes(shared)


def _qwen25_math_eval(shared: Path) -> Iterable[Outcome]:
    from difficulty.sources.qwen25_math_eval import qwen25_math_eval_outcomes

    return qwen25_math_eval_outcomes(shared)


def _alpacaeval(shared: Path) -> Iterable[Outcome]:
    from difficulty.sources.alpacaeval import alpacaeval_outcomes

    return alpacaeval_outcomes(shared)


def _zeroeval_crux(shared: Path) -> Iterable[Outcome]:
    from difficulty.sources.zeroeval_crux import crux_outcomes

    return crux_outcomes(shared)


BUNDLES: tuple[Bundle, ...] = (
    Bundle(
        "mip-gsm8k",
        "582 GSM8K questions x 11 models (thinking text split off), MiP-Overthinking",
        ("mip-overthinking",),
        _mip("gsm8k"),
    ),
    Bundle(
        "mip-math",
        "52 MATH-500 questions x 14 models (thinking text split off), MiP-Overthinking",
        ("mip-overthinking",),
        _mip("math"),
    ),
    Bundle(
        "mip-missing-premise",
        "52 ill-posed MATH questions (premise removed) x 12 models; correct is null",
        ("mip-overthinking",),
        _missing_premise,
    ),
    Bundle(
        "routellm-gsm8k",
        "1,319 GSM8K test prompts x {mixtral, gpt-4}: RouteLLM's labels, responses, tokens",
        ("routellm", "gsm8k"),
        _routellm_gsm8k,
    ),
    Bundle(
        "routellm-mmlu",
        "MMLU prompts x {mixtral, gpt-4}: RouteLLM's labels only (tokens null), contaminated out",
        ("routellm",),
        _routellm_mmlu,
    ),
    Bundle(
        "routellm-mt-bench",
        "MT-Bench (question, turn) x {mixtral, gpt-4}: GPT-4 judge 1-10; good enough = score >= 8",
        ("routellm",),
        _routellm_mt_bench,
    ),
    Bundle(
        "boinf-math500",
        "MATH-500 x 7 reasoning models, ~80 samples each; correct = first sample",
        ("boinf", "dynasor"),
        _boinf("math500"),
    ),
    Bundle(
        "boinf-aime2024",
        "AIME 2024 (28 of 30) x 11 reasoning models, 80-160 samples each; correct = first sample",
        ("boinf", "dynasor"),
        _boinf("aime2024"),
    ),
    Bundle(
        "faithful-cot",
        "10 reasoning tasks x 6 OpenAI models: profiles <model>:direct and <model>:cot",
        ("faithful-cot",),
        _faithful_cot,
    ),
    Bundle(
        "thought-branches",
        "1,010 MATH level-5 problems: R1-Distill-Qwen-14B mean reasoning tokens and accuracy",
        ("thought-branches",),
        _thought_branches,
    ),
    Bundle(
        "math-train",
        "MATH train, 7,474 problems with level 1-5 and subject; profile reference, no outcomes",
        ("math-rllm",),
        _math_train,
    ),
    Bundle(
        "qwen25-math-eval",
        "100 MATH problems x 8 sampled CoT solutions, each with a reward-model score",
        ("qwen25-math-eval",),
        _qwen25_math_eval,
    ),
    Bundle(
        "alpacaeval",
        "563 everyday instructions x 12 models judged vs GPT-4-Turbo; good enough = P(win) >= 0.25",
        ("alpacaeval",),
        _alpacaeval,
    ),
    Bundle(
        "zeroeval-crux",
        "560 CRUXEval questions x {gpt-4o-mini, gpt-4o direct; o1-mini, o1-preview thinking}",
        ("zeroeval-crux",),
        _zeroeval_crux,
    ),
)


def write_bundle(rows: Iterable[Outcome], path: Path) -> BundleStats:
    """Write rows as gzip-9 JSONL with a fixed header time (reproducible bytes); returns stats."""
    ids: set[str] = set()
    profiles: set[str] = set()
    n = 0
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as gz:
        for row in rows:
            line = json.dumps(row.to_json(), ensure_ascii=False, separators=(",", ":"))
            gz.write(line.encode("utf-8") + b"\n")
            ids.add(row.id)
            profiles.add(row.profile)
            n += 1
    path.write_bytes(buffer.getvalue())
    return {"rows": n, "items": len(ids), "profiles": sorted(profiles)}


# BoInf states its license (MIT) in its README only; this text is bundled in its place.
_README_LICENSES = {
    "boinf": "jkomiyama/BoInf-code-publish @ fbcb097 is released under the MIT License, as\n"
    "stated in the repository README ('## License - MIT License.'); the repository ships no\n"
    "separate LICENSE file.\n",
}


# Sources whose license file sits below the copied folder's top.
_LICENSE_DIRS = {"qwen25-math-eval": "evaluation"}


def _copy_license(shared: Path, source: str) -> None:
    target = DATA_DIR / "LICENSES" / f"{source}.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    if source in _README_LICENSES:
        target.write_text(_README_LICENSES[source], "utf-8")
        return
    folder = shared / source / _LICENSE_DIRS.get(source, "")
    for name in ("LICENSE", "LICENSE.md", "LICENSE.txt"):
        candidate = folder / name
        if candidate.is_file():
            shutil.copyfile(candidate, target)
            return
    raise FileNotFoundError(f"no license file in {shared / source}")


def main(argv: Sequence[str] | None = None) -> int:
    """Build every bundle (or those named with --only) and update the index."""
    parser = argparse.ArgumentParser(prog="python -m difficulty.sources.build")
    parser.add_argument("--shared", type=Path, required=True, help="the shared/data folder")
    parser.add_argument("--only", nargs="*", default=None, help="bundle names to rebuild")
    args = parser.parse_args(argv)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    index_path = DATA_DIR / "index.json"
    index = json.loads(index_path.read_text("utf-8")) if index_path.is_file() else {}
    for bundle in BUNDLES:
        if args.only and bundle.name not in args.only:
            continue
        path = DATA_DIR / f"{bundle.name}.jsonl.gz"
        stats = write_bundle(bundle.read(args.shared), path)
        for source in bundle.sources:
            _copy_license(args.shared, source)
        index[bundle.name] = {"description": bundle.description, **stats}
        size = path.stat().st_size
        print(
            f"{bundle.name}: {stats['rows']} rows, {stats['items']} items, "
            f"{len(stats['profiles'])} profiles, {size / 1e6:.2f} MB",
            file=sys.stderr,
        )
    index_path.write_text(json.dumps(index, indent=1, sort_keys=True) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
