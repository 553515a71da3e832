"""Agreement between correctness recomputed with thinkgate's answer normaliser and source labels.

    python bench/agreement.py --shared /work/shared/data

A developer tool: it reads the raw public files (not the bundle) and prints, per source and
profile, how often ``answers_match`` agrees with the label the source itself carries.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from difficulty.answers import answers_match


class Tally:
    """Agreement counts per (source, profile)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])

    def add(self, source: str, profile: str, agree: bool) -> None:
        cell = self.counts[(source, profile)]
        cell[0] += 1
        cell[1] += int(agree)

    def print(self, title: str) -> None:
        print(f"\n## {title}")
        print(f"{'source':<34} {'profile':<28} {'n':>6} {'agree':>7}")
        by_source: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for (source, profile), (n, agree) in sorted(self.counts.items()):
            print(f"{source:<34} {profile:<28} {n:>6} {agree / n:>7.1%}")
            by_source[source][0] += n
            by_source[source][1] += agree
        for source, (n, agree) in sorted(by_source.items()):
            print(f"{source:<34} {'ALL':<28} {n:>6} {agree / n:>7.1%}")


def _mip(shared: Path) -> None:
    from difficulty.sources.mip import MODEL_NAMES, mip_outcomes

    labels, derived = Tally(), Tally()
    rows_by_key = {}
    for dataset in ("gsm8k", "math"):
        for row in mip_outcomes(shared, dataset):
            if "source_correct" in row.extra:
                labels.add(
                    f"mip-{dataset} (eval_result)",
                    row.profile,
                    row.extra["source_correct"] == row.correct,
                )
            rows_by_key[(dataset, row.profile, row.prompt)] = row
    # The derived per-question file (a simple automatic check) as a second cross-check.
    path = shared / "mip-overthinking" / "derived" / "mip_normal_per_question.jsonl"
    for line in path.read_text("utf-8").splitlines():
        d = json.loads(line)
        key = (d["dataset"], MODEL_NAMES[d["model_dir"]], d["question"])
        match = rows_by_key.get(key)
        if match is not None and d["correct"] is not None:
            derived.add(
                f"mip-{d['dataset']} (derived {d['correct_source'][:12]})",
                match.profile,
                d["correct"] == match.correct,
            )
    labels.print("MiP-Overthinking: normaliser vs the files' eval_result labels (1 = correct)")
    derived.print("MiP-Overthinking: normaliser vs derived/mip_normal_per_question.jsonl")


def _routellm(shared: Path) -> None:
    from difficulty.sources.routellm import gsm8k_outcomes

    tally = Tally()
    for row in gsm8k_outcomes(shared):
        tally.add("routellm-gsm8k", row.profile, row.extra["recomputed_correct"] == row.correct)
    tally.print("RouteLLM GSM8K: normaliser vs RouteLLM's correctness labels")


def _boinf(shared: Path) -> None:
    from difficulty.sources.boinf import boinf_outcomes, join_report

    majority, samples = Tally(), Tally()
    for benchmark in ("math500", "aime2024"):
        report = join_report(shared, benchmark)
        print(
            f"\nboinf-{benchmark} prompt join ({report.method}): {report.agreeing}/{report.checked}"
            f" gold answers agree = {report.rate:.1%}; left out: {list(report.unjoined)}"
        )
        for row in boinf_outcomes(shared, benchmark):
            gold, top = row.gold, row.extra["majority"]
            # BoInf's own verdict is exact string equality of its parsed answers.
            majority.add(
                f"boinf-{benchmark} majority",
                row.profile,
                (top == gold) == answers_match(top, gold),
            )
            for s in row.samples or ():
                samples.add(
                    f"boinf-{benchmark} samples",
                    row.profile,
                    (s.answer == gold) == answers_match(s.answer, gold),
                )
    majority.print("BoInf: majority answer == gold (BoInf, exact) vs answers_match")
    samples.print("BoInf: every sample == gold (exact) vs answers_match")


def _faithful(shared: Path) -> None:
    from difficulty.sources.faithful_cot import faithful_cot_outcomes

    tally = Tally()
    for row in faithful_cot_outcomes(shared):
        tally.add(
            f"faithful-cot {row.extra['task']}",
            row.profile.split(":")[1],
            row.extra["source_correct"] == row.correct,
        )
    tally.print("Faithful-CoT: normaliser vs the derived file's simple check (saycan keeps it)")


def _thought_branches(shared: Path) -> None:
    from difficulty.sources.thought_branches import thought_branches_outcomes

    tally = Tally()
    for row in thought_branches_outcomes(shared):
        recomputed = row.extra["recomputed_accuracy"]
        if recomputed is not None:
            tally.add(
                "thought-branches accuracy>=.5", row.profile, (recomputed >= 0.5) == row.correct
            )
    tally.print("Thought-branches: accuracy>=0.5 recomputed from the runs' answers vs the CSV")


_SECTIONS = {
    "mip": _mip,
    "routellm": _routellm,
    "boinf": _boinf,
    "faithful-cot": _faithful,
    "thought-branches": _thought_branches,
}


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    parser.add_argument("--only", nargs="*", choices=sorted(_SECTIONS), default=None)
    args = parser.parse_args(list(argv) if argv is not None else None)
    machine = f"python {platform.python_version()}, {os.cpu_count()} cores"
    print(f"# answer-normaliser agreement ({machine})")
    for name, section in _SECTIONS.items():
        if args.only is None or name in args.only:
            section(args.shared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
