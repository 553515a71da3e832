"""The registry of bundled outcome datasets shipped inside the package (``difficulty/data``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from difficulty.errors import NotFoundError
from difficulty.outcomes import Outcome, read_outcomes

__all__ = [
    "DATA_DIR",
    "DatasetInfo",
    "dataset_path",
    "list_datasets",
    "load_dataset",
    "load_outcomes",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
_INDEX = "index.json"
_SUFFIX = ".jsonl.gz"


@dataclass(frozen=True)
class DatasetInfo:
    """What a bundled dataset holds: rows (item x profile), distinct items and profiles."""

    name: str
    description: str
    rows: int
    items: int
    profiles: tuple[str, ...]


def _names() -> list[str]:
    return sorted(p.name[: -len(_SUFFIX)] for p in DATA_DIR.glob(f"*{_SUFFIX}"))


def dataset_path(name: str) -> Path:
    """Path of a bundled dataset's gzip JSONL file; unknown names list the valid ones."""
    names = _names()
    if name not in names:
        valid = ", ".join(names) or "none bundled"
        raise NotFoundError(f"unknown dataset '{name}' (available: {valid})", param="name")
    return DATA_DIR / f"{name}{_SUFFIX}"


def load_dataset(name: str) -> list[Outcome]:
    """All outcome rows of a bundled dataset."""
    return read_outcomes(dataset_path(name))


def _describe(name: str, index: dict[str, dict[str, object]]) -> DatasetInfo:
    entry = index.get(name)
    if entry is None:
        # The index is written by the build; count from the file when it is missing.
        rows = load_dataset(name)
        return DatasetInfo(
            name=name,
            description="",
            rows=len(rows),
            items=len({r.id for r in rows}),
            profiles=tuple(sorted({r.profile for r in rows})),
        )
    profiles = entry.get("profiles", [])
    return DatasetInfo(
        name=name,
        description=str(entry.get("description", "")),
        rows=int(str(entry.get("rows", 0))),
        items=int(str(entry.get("items", 0))),
        profiles=tuple(str(p) for p in profiles) if isinstance(profiles, list) else (),
    )


def list_datasets() -> list[DatasetInfo]:
    """Every bundled dataset with its size and profiles, sorted by name."""
    index_path = DATA_DIR / _INDEX
    index = json.loads(index_path.read_text("utf-8")) if index_path.is_file() else {}
    return [_describe(name, index) for name in _names()]


def load_outcomes(path: str | Path | None = None, datasets: Sequence[str] = ()) -> list[Outcome]:
    """The rows of an outcome file when one is given, else the named bundled datasets combined."""
    if path is not None:
        return read_outcomes(path)
    return [row for name in datasets for row in load_dataset(name)]
