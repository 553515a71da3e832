"""Per-model exit calibration from shadow streams: what the watcher would have done, and its book.

A shadow stream runs to its end while the watcher only records where it would have exited: the
checkpoints at which its score beat every earlier one (the `trail`), with the candidate there.
For any threshold the would-be exit is the first trail entry at or above it, so one record
answers for every threshold of the grid. A `CalibrationBook` keeps, per (upstream model, task
family), how many shadow streams each threshold would have changed, cut and saved, and certifies
a threshold with `risk.fixed_sequence`. Pure: the gateway stores the records, this counts them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from difficulty.answers import answers_match
from policies.convergence.risk import (
    THRESHOLDS,
    Certificate,
    fixed_sequence,
    streams_needed,
)

__all__ = [
    "CalibrationSettings",
    "ShadowRecord",
    "CalibrationBook",
    "KeyBook",
    "in_shadow",
    "seed_rows",
]


@dataclass(frozen=True)
class CalibrationSettings:
    """The operator's guarantee and the share of streams that keep running to calibrate it."""

    max_changed_answers: float = 0.01
    miss_probability: float = 0.1
    shadow_share: float = 0.1
    # Exits before a threshold is certified: None = none (every stream is a free shadow).
    cold_threshold: float | None = None
    # What max_changed_answers is a rate of: every stream (the accuracy an exit may cost, in
    # points: the operator's reading), or, stricter, the threshold's exits.
    changed_rate_over: str = "streams"

    def __post_init__(self) -> None:
        if not 0 < self.max_changed_answers < 1 or not 0 < self.miss_probability < 1:
            raise ValueError("max_changed_answers and miss_probability must lie in (0, 1)")
        if not 0 <= self.shadow_share <= 1:
            raise ValueError("shadow_share must lie in [0, 1]")
        if self.cold_threshold is not None and not 0 < self.cold_threshold <= 1:
            raise ValueError("cold_threshold must lie in (0, 1]")
        if self.changed_rate_over not in ("exits", "streams"):
            raise ValueError("changed_rate_over must be 'exits' or 'streams'")

    @property
    def streams_needed(self) -> int:
        """Fewest shadow streams that can certify a threshold (at the first look)."""
        return streams_needed(self.max_changed_answers, self.look_delta(0))

    def look_delta(self, look: int) -> float:
        """The miss probability spent at look j (delta / 2^(j+1): all looks sum to delta)."""
        return self.miss_probability / 2 ** (look + 1)

    def look_at(self, n: int) -> int | None:
        """Which look a sample of n shadow streams is (None: not a look).

        Looks come at n0, 2 n0, 4 n0, ... (n0 = `streams_needed`): recertifying on every new
        record would test the same hypothesis hundreds of times and let luck through.
        """
        first = self.streams_needed
        if n < first or n % first:
            return None
        ratio = n // first
        return ratio.bit_length() - 1 if ratio & (ratio - 1) == 0 else None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> CalibrationSettings:
        """From a profile's `convergence.calibration` mapping; unknown keys refused."""
        if not config:
            return cls()
        known = {"max_changed_answers", "miss_probability", "shadow_share", "cold_threshold"}
        unknown = sorted(set(config) - known - {"enabled", "changed_rate_over"})
        if unknown:
            raise ValueError(f"unknown calibration setting '{unknown[0]}'")
        values: dict[str, Any] = {
            k: None if v is None else float(v) for k, v in config.items() if k in known
        }
        if "changed_rate_over" in config:
            values["changed_rate_over"] = str(config["changed_rate_over"])
        return cls(**values)


def in_shadow(request_id: str, share: float, salt: str = "thinkgate-shadow") -> bool:
    """Whether a request is one of the `share` that run to the end (seeded by its id)."""
    if share >= 1:
        return True
    digest = hashlib.sha256(f"{salt}:{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass(frozen=True)
class ShadowRecord:
    """One stream run to its end: its score trail, its full length and the answer it gave."""

    model: str
    family: str
    trail: tuple[tuple[float, str, int], ...]  # (score, candidate, tokens): new maxima only
    tokens_full: int
    final: str | None

    def exit_at(self, threshold: float) -> tuple[str, int] | None:
        """(candidate, tokens) where a watcher with this threshold would have exited."""
        for score, candidate, tokens in self.trail:
            if score >= threshold:
                return candidate, tokens
        return None

    def to_json(self) -> dict[str, Any]:
        """The record as the ledger store keeps it."""
        return {
            "model": self.model,
            "family": self.family,
            "trail": [[round(s, 6), c, t] for s, c, t in self.trail],
            "tokens_full": self.tokens_full,
            "final": self.final,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ShadowRecord:
        """The record from `to_json`'s form."""
        return cls(
            model=str(data["model"]),
            family=str(data.get("family") or "default"),
            trail=tuple((float(s), str(c), int(t)) for s, c, t in data.get("trail") or ()),
            tokens_full=int(data["tokens_full"]),
            final=None if data.get("final") is None else str(data["final"]),
        )


def seed_rows(records: Sequence[ShadowRecord]) -> list[dict[str, Any]]:
    """Offline records as the store keeps them: marked as a seed, a look asked at each key's end.

    A seed is no live traffic (`threshold` None: nothing forgone), and every replica counting
    the store in order takes the same looks at the same rows.
    """
    last = {(r.model, r.family): i for i, r in enumerate(records)}
    ends = set(last.values())
    return [
        {**r.to_json(), "threshold": None, "seed": True, **({"look": True} if i in ends else {})}
        for i, r in enumerate(records)
    ]


@dataclass
class KeyBook:
    """Counts for one (model, family): per grid threshold, streams changed, cut, tokens saved."""

    thresholds: Sequence[float] = THRESHOLDS
    n: int = 0
    tokens_full: int = 0
    changed: list[int] = field(default_factory=list)
    exits: list[int] = field(default_factory=list)
    saved: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        size = len(self.thresholds)
        self.changed = self.changed or [0] * size
        self.exits = self.exits or [0] * size
        self.saved = self.saved or [0] * size

    def add(self, record: ShadowRecord) -> None:
        """Count one shadow stream under every threshold."""
        self.n += 1
        self.tokens_full += record.tokens_full
        verdicts: dict[str, bool] = {}
        for index, threshold in enumerate(self.thresholds):
            exit_ = record.exit_at(threshold)
            if exit_ is None:
                continue
            candidate, tokens = exit_
            if candidate not in verdicts:
                same = record.final is not None and answers_match(candidate, record.final)
                verdicts[candidate] = not same
            self.exits[index] += 1
            self.changed[index] += verdicts[candidate]
            self.saved[index] += max(0, record.tokens_full - tokens)

    def certify(self, settings: CalibrationSettings, look: int | None = None) -> Certificate:
        """The threshold these counts certify: in one test (look None, the whole miss
        probability), or at look j of a sequence (its share, `look_delta`)."""
        delta = settings.miss_probability if look is None else settings.look_delta(look)
        return fixed_sequence(
            self.changed,
            self.exits,
            self.n,
            max_changed=settings.max_changed_answers,
            delta=delta,
            thresholds=self.thresholds,
            over=settings.changed_rate_over,
        )

    def saved_share(self, threshold: float | None) -> float:
        """Share of the shadow streams' thinking this threshold would have saved."""
        if threshold is None or not self.tokens_full:
            return 0.0
        return self.saved[list(self.thresholds).index(threshold)] / self.tokens_full


@dataclass
class CalibrationBook:
    """Every (model, family)'s counts and certificate, refreshed as shadow records arrive."""

    settings: CalibrationSettings = field(default_factory=CalibrationSettings)
    books: dict[tuple[str, str], KeyBook] = field(default_factory=dict)
    certificates: dict[tuple[str, str], Certificate] = field(default_factory=dict)
    looks: dict[tuple[str, str], int] = field(default_factory=dict)  # looks taken per key

    def add(
        self, record: ShadowRecord, *, look: bool = False, seed: bool = False
    ) -> Certificate | None:
        """Count a shadow record; at a look, recertify its key (the certificate in force).

        Looks come at `streams_needed` times 1, 2, 4, ... records (not inside a `seed`), and
        where `look` asks for one (a seed's end); the j-th look of a key spends
        `look_delta(j)`, so all of them together spend at most the miss probability.
        """
        key = (record.model, record.family)
        book = self.books.setdefault(key, KeyBook())
        book.add(record)
        scheduled = not seed and self.settings.look_at(book.n) is not None
        if scheduled or (look and book.n >= self.settings.streams_needed):
            taken = self.looks.get(key, 0)
            self.looks[key] = taken + 1
            self.certificates[key] = book.certify(self.settings, taken)
        return self.certificates.get(key)

    def extend(self, records: Iterable[ShadowRecord]) -> None:
        """Count many records (a replica loading the shared store: the same looks)."""
        for record in records:
            self.add(record)

    def seed(self, records: Sequence[ShadowRecord]) -> None:
        """Count offline records as `seed_rows` stores them: a look at each key's last one."""
        for record, row in zip(records, seed_rows(records), strict=True):
            self.add(record, look=bool(row.get("look")), seed=True)

    def threshold(self, model: str, family: str) -> float | None:
        """The exit threshold in force: the certified one, else the cold-start one (or None)."""
        certificate = self.certificates.get((model, family))
        if certificate is not None and certificate.threshold is not None:
            return certificate.threshold
        return self.settings.cold_threshold

    def certified(self, model: str, family: str) -> bool:
        """Whether a threshold is certified for this key."""
        certificate = self.certificates.get((model, family))
        return certificate is not None and certificate.threshold is not None

    def shadow(self, model: str, family: str, request_id: str) -> bool:
        """Whether this request runs to its end: every one before certification, then a share."""
        if not self.certified(model, family):
            return True
        return in_shadow(request_id, self.settings.shadow_share)

    def summary(self) -> list[dict[str, Any]]:
        """One row per key for `/v1/savings` and the dashboard."""
        rows = []
        for (model, family), book in sorted(self.books.items()):
            cert = self.certificates.get((model, family)) or book.certify(self.settings, 0)
            rows.append(
                {
                    "model": model,
                    "family": family,
                    "sample_size": book.n,
                    "streams_needed": self.settings.streams_needed,
                    "threshold": cert.threshold,
                    "changed_rate": round(cert.changed_rate, 4),
                    "changed_rate_over": self.settings.changed_rate_over,
                    "changed_rate_bound": round(cert.upper_bound, 4),
                    "certified_at": cert.n if cert.threshold is not None else None,
                    "max_changed_answers": self.settings.max_changed_answers,
                    "miss_probability": self.settings.miss_probability,
                    "shadow_share": self.settings.shadow_share,
                    "saved_share_on_shadow": round(book.saved_share(cert.threshold), 4),
                }
            )
        return rows
