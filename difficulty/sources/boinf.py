"""Best-of-Infinity samples: ~80 answers per problem per reasoning model on MATH-500 / AIME 2024.

``correct`` is whether the FIRST sample is right (what a single call would have scored);
``samples`` keeps every sample for search and voting; ``tokens`` is the mean sample cost.
A sample's 100000 tokens is BoInf's truncation marker (the generation hit its limit); it is kept
as the sample's cost and counted in ``extra.truncated``.

Prompt texts come from Dynasor's MATH-500 / AIME-24 files. MATH-500 is in BoInf's order (joined
by index); BoInf's AIME 2024 order is another one, so AIME problems are joined by their (integer)
answer, and the two problems sharing the answer 104 are left out as ambiguous.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from difficulty.answers import answers_match
from difficulty.errors import ThinkgateError
from difficulty.outcomes import Outcome, Sample

__all__ = ["TRUNCATED", "JoinReport", "JoinError", "boinf_outcomes", "join_report", "problems"]

JSONL = Path("boinf") / "boinf" / "jsonl"
TRUNCATED = 100000
MIN_JOIN_AGREEMENT = 0.95
# BoInf benchmark -> the problem set its problem_num indexes (same order), from Dynasor.
_PROBLEMS = {
    "math500": Path("dynasor")
    / "benchmark"
    / "TokenDeprivation"
    / "data"
    / "math500"
    / "test.jsonl",
    "aime2024": Path("dynasor")
    / "benchmark"
    / "TokenDeprivation"
    / "data"
    / "aime24"
    / "test.jsonl",
}


class JoinError(ThinkgateError):
    """The joined problem texts do not carry the gold answers BoInf recorded."""


@dataclass(frozen=True)
class JoinReport:
    """How well BoInf's gold answers agree with the joined problem set's answers."""

    benchmark: str
    method: str
    checked: int
    agreeing: int
    unjoined: tuple[int, ...] = ()  # problem_num left out (no unique partner)

    @property
    def rate(self) -> float:
        """Share of (model, problem) gold answers that match the joined set's answer."""
        return self.agreeing / self.checked if self.checked else 0.0


def problems(shared: Path, benchmark: str) -> list[dict[str, Any]]:
    """The problem set BoInf's ``problem_num`` indexes, in order."""
    lines = (shared / _PROBLEMS[benchmark]).read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _files(shared: Path, benchmark: str) -> list[Path]:
    return sorted((shared / JSONL).glob(f"analysis_{benchmark}_*.jsonl"))


def _model(path: Path, benchmark: str) -> str:
    return path.stem.removeprefix(f"analysis_{benchmark}_")


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _partners(shared: Path, benchmark: str) -> tuple[str, dict[int, int | None]]:
    """problem_num -> index into the problem set (None: no unique partner), and the method."""
    reference = problems(shared, benchmark)
    nums = sorted({int(r["problem_num"]) for p in _files(shared, benchmark) for r in _records(p)})
    if benchmark != "aime2024":
        return "index", {k: k for k in nums}
    golds = {
        int(r["problem_num"]): str(r["gold_answer"]) for r in _records(_files(shared, benchmark)[0])
    }
    partners: dict[int, int | None] = {}
    for k in nums:
        hits = [i for i, p in enumerate(reference) if answers_match(golds[k], str(p["answer"]))]
        partners[k] = hits[0] if len(hits) == 1 else None
    return "unique answer", partners


def join_report(shared: Path, benchmark: str) -> JoinReport:
    """Check every model file's gold answers against the joined problem set's answers."""
    reference = problems(shared, benchmark)
    method, partners = _partners(shared, benchmark)
    checked = agreeing = 0
    for path in _files(shared, benchmark):
        for record in _records(path):
            k = partners[int(record["problem_num"])]
            if k is None:
                continue
            checked += 1
            agreeing += answers_match(str(record["gold_answer"]), str(reference[k]["answer"]))
    unjoined = tuple(sorted(n for n, k in partners.items() if k is None))
    return JoinReport(benchmark, method, checked, agreeing, unjoined)


def boinf_outcomes(shared: Path, benchmark: str) -> Iterator[Outcome]:
    """Rows of ``boinf-<benchmark>``: one per problem x reasoning model, with all samples."""
    report = join_report(shared, benchmark)
    if report.rate < MIN_JOIN_AGREEMENT:
        raise JoinError(
            f"boinf-{benchmark}: only {report.rate:.1%} of gold answers match the joined "
            f"problem set (need {MIN_JOIN_AGREEMENT:.0%}); the join by index is wrong"
        )
    reference = problems(shared, benchmark)
    _, partners = _partners(shared, benchmark)
    name = f"boinf-{benchmark}"
    for path in _files(shared, benchmark):
        model = _model(path, benchmark)
        for record in _records(path):
            num = int(record["problem_num"])
            k = partners[num]
            if k is None:
                continue
            problem = reference[k]
            gold = str(record["gold_answer"])
            samples = tuple(
                Sample(answer=None if not answer else str(answer), tokens=int(tokens))
                for answer, tokens in record["all_answers"]
            )
            spent = [s.tokens or 0 for s in samples]
            extra: dict[str, Any] = {
                "problem_num": num,
                "majority": record.get("majority_answer"),
                "truncated": sum(t >= TRUNCATED for t in spent),
            }
            if "level" in problem:
                extra["level"] = int(problem["level"])
                extra["subject"] = problem.get("subject")
                extra["unique_id"] = problem.get("unique_id")
            yield Outcome(
                id=f"{benchmark}-{num:03d}",
                prompt=str(problem["problem"]),
                profile=model,
                correct=answers_match(samples[0].answer, gold),
                tokens=round(sum(spent) / len(spent)),
                dataset=name,
                gold=gold,
                samples=samples,
                extra=extra,
            )
