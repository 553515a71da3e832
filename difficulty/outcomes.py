"""The outcome table: one row per (item, profile), read from and written to JSONL."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from difficulty.errors import OutcomeFormatError

__all__ = [
    "Sample",
    "Outcome",
    "read_outcomes",
    "parse_outcomes",
    "write_outcomes",
    "json_rows",
    "open_text",
    "read_jsonl",
    "write_jsonl",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Sample:
    """One sampled answer of a search profile: the extracted answer and its token cost.

    `score` is a verifier's score of the sample (a reward model's, a judge's) when recorded;
    `text` the full sampled response when recorded (the replay upstream serves it).
    """

    answer: str | None
    tokens: int | None
    score: float | None = None
    text: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The sample as a JSON-ready dict, optional fields left out when empty."""
        row: dict[str, Any] = {"answer": self.answer, "tokens": self.tokens}
        if self.score is not None:
            row["score"] = self.score
        if self.text is not None:
            row["text"] = self.text
        return row


@dataclass(frozen=True)
class Outcome:
    """How one profile did on one item: correct or not, and the completion tokens it spent."""

    id: str
    prompt: str
    profile: str
    correct: bool | None
    tokens: int | None
    dataset: str = ""
    gold: str | None = None
    samples: tuple[Sample, ...] | None = None
    reasoning: str | None = None  # thinking text, when recorded (replay upstream, traces)
    response: str | None = None  # the visible answer text, when recorded
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The row as a JSON-ready dict, optional fields left out when empty."""
        row: dict[str, Any] = {
            "id": self.id,
            "prompt": self.prompt,
            "profile": self.profile,
            "correct": self.correct,
            "tokens": self.tokens,
            "dataset": self.dataset,
        }
        if self.gold is not None:
            row["gold"] = self.gold
        if self.samples is not None:
            row["samples"] = [s.to_json() for s in self.samples]
        if self.reasoning is not None:
            row["reasoning"] = self.reasoning
        if self.response is not None:
            row["response"] = self.response
        if self.extra:
            row["extra"] = self.extra
        return row


_REQUIRED = ("id", "prompt", "profile", "correct", "tokens")


def _row_to_outcome(row: Any, source: str, line: int) -> Outcome:
    if not isinstance(row, dict):
        raise OutcomeFormatError(source, line, "expected a JSON object")
    missing = [k for k in _REQUIRED if k not in row]
    if missing:
        raise OutcomeFormatError(source, line, f"missing field(s): {', '.join(missing)}")
    for key in ("id", "prompt", "profile"):
        value = row[key]
        if isinstance(value, int) and not isinstance(value, bool) and key == "id":
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise OutcomeFormatError(source, line, f"field '{key}' must be a non-empty string")
    correct = row["correct"]
    if correct is not None and not isinstance(correct, bool):
        if correct in (0, 1):
            correct = bool(correct)
        else:
            raise OutcomeFormatError(source, line, "field 'correct' must be true, false or null")
    tokens = row["tokens"]
    if tokens is not None and (
        isinstance(tokens, bool) or not isinstance(tokens, int | float) or tokens < 0
    ):
        raise OutcomeFormatError(source, line, "field 'tokens' must be a non-negative number")
    samples = row.get("samples")
    parsed_samples: tuple[Sample, ...] | None = None
    if samples is not None:
        if not isinstance(samples, list):
            raise OutcomeFormatError(source, line, "field 'samples' must be a list")
        items = []
        for s in samples:
            if not isinstance(s, dict) or "answer" not in s:
                raise OutcomeFormatError(source, line, "each sample needs 'answer' and 'tokens'")
            items.append(_sample(s, source, line))
        parsed_samples = tuple(items)
    gold = row.get("gold")
    return Outcome(
        id=str(row["id"]),
        prompt=row["prompt"],
        profile=row["profile"],
        correct=correct,
        tokens=None if tokens is None else int(tokens),
        dataset=str(row.get("dataset") or ""),
        gold=None if gold is None else str(gold),
        samples=parsed_samples,
        reasoning=row.get("reasoning"),
        response=row.get("response"),
        extra=row.get("extra") or {},
    )


def _sample(s: dict[str, Any], source: str, line: int) -> Sample:
    ans, tok, score, text = s["answer"], s.get("tokens"), s.get("score"), s.get("text")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        raise OutcomeFormatError(source, line, "a sample's 'score' must be a number or null")
    return Sample(
        answer=None if ans is None else str(ans),
        tokens=None if tok is None else int(tok),
        score=None if score is None else float(score),
        text=None if text is None else str(text),
    )


def json_rows(lines: Iterable[str], source: str) -> Iterator[tuple[int, Any]]:
    """(line number, decoded row) for each non-blank JSONL line; bad JSON names its line."""
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield number, json.loads(text)
        except json.JSONDecodeError as exc:
            raise OutcomeFormatError(source, number, f"not valid JSON ({exc.msg})") from None


def parse_outcomes(lines: Iterable[str], source: str = "<outcomes>") -> Iterator[Outcome]:
    """Parse JSONL lines into outcomes; a malformed row raises with its line number."""
    for number, row in json_rows(lines, source):
        yield _row_to_outcome(row, source, number)


def open_text(path: Path, mode: str) -> IO[str]:
    """Open a text file for reading or writing, through gzip when the name ends in .gz."""
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return open(path, mode, encoding="utf-8")


def read_jsonl(path: str | Path, parse: Callable[[Iterable[str], str], Iterator[T]]) -> list[T]:
    """Parse a JSONL(.gz) table with `parse(lines, source)`; unreadable files are format errors."""
    p = Path(path)
    try:
        with open_text(p, "r") as fh:
            return list(parse(fh, str(p)))
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as exc:
        raise OutcomeFormatError(str(p), 0, f"not a readable JSONL file ({exc})") from None


def write_jsonl(rows: Iterable[dict[str, Any]], path: str | Path) -> int:
    """Write dict rows as JSONL (gzip when the name ends in .gz); returns the row count."""
    n = 0
    with open_text(Path(path), "w") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_outcomes(path: str | Path) -> list[Outcome]:
    """Read an outcome table (JSONL, optionally gzip-compressed)."""
    return read_jsonl(path, parse_outcomes)


def write_outcomes(outcomes: Iterable[Outcome], path: str | Path) -> int:
    """Write outcomes as JSONL (gzip when the name ends in .gz); returns the row count."""
    return write_jsonl((o.to_json() for o in outcomes), path)
