"""The savings time series: counters per time bucket at a few widths, read over a bounded window.

Counters are kept per 1 s, 1 min and 1 h bucket. A request for `bucket_seconds` is served from
the widest of these that divides it, over at most `MAX_POINTS` buckets ending at the latest
record, and never over more than `MAX_FINE` stored buckets, so a long-running ledger answers in
bounded time and the stores may forget stored buckets that no window can reach.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from router.ledger.errors import LedgerFormatError

__all__ = [
    "SERIES_WIDTHS",
    "SERIES_METRICS",
    "MAX_POINTS",
    "MAX_FINE",
    "SeriesWindow",
    "series_field",
    "parse_series_field",
    "shard_of",
    "bucket_starts",
    "check_bucket_seconds",
    "stale_before",
]

SERIES_WIDTHS = (1, 60, 3600)
# Per bucket: requests and tokens, the saved estimate by mechanism, and money.
SERIES_METRICS = (
    "requests",
    "completion_tokens",
    "reference_estimate",
    "saved_estimate",
    "saved_routing",
    "saved_early_exit",
    "saved_sampling",
    "cost",
    "saved_cost",
)
_COUNTS = ("requests", "completion_tokens")
_MONEY = ("cost", "saved_cost")
MAX_POINTS = 1440  # a day of minutes
MAX_FINE = 14_400  # stored buckets one window may read (4 h of seconds)


def series_field(width: int, start: int, metric: str) -> str:
    """The counter name of one metric in one stored bucket."""
    return f"{width}:{start}:{metric}"


def parse_series_field(name: str) -> tuple[int, int, str]:
    """(width, start, metric) of a counter name."""
    width, start, metric = name.split(":", 2)
    return int(width), int(start), metric


def shard_of(width: int, start: int) -> int:
    """Stored buckets are grouped in shards of MAX_FINE; a window touches at most two."""
    return start // (width * MAX_FINE)


@dataclass(frozen=True)
class SeriesWindow:
    """Which stored buckets answer a request for `bucket_seconds`, given the latest record."""

    bucket_seconds: int
    width: int  # stored bucket width used
    first: int  # start of the first reported bucket
    end: int  # start of the last reported bucket (the latest record's)

    @classmethod
    def for_request(cls, bucket_seconds: int, last_second: int) -> SeriesWindow:
        """The window for `bucket_seconds` buckets ending with the bucket of `last_second`."""
        check_bucket_seconds(bucket_seconds)
        width = max(w for w in SERIES_WIDTHS if bucket_seconds % w == 0)
        per_bucket = bucket_seconds // width
        points = min(MAX_POINTS, MAX_FINE // per_bucket)
        end = last_second // bucket_seconds * bucket_seconds
        return cls(bucket_seconds, width, end - (points - 1) * bucket_seconds, end)

    def render(self, counters: Mapping[str, float]) -> list[dict[str, Any]]:
        """The reported buckets (those with requests), from stored counters of any widths."""
        buckets: dict[int, dict[str, float]] = {}
        for name, value in counters.items():
            width, start, metric = parse_series_field(name)
            if width != self.width or not self.first <= start < self.end + self.bucket_seconds:
                continue
            row = buckets.setdefault(start // self.bucket_seconds * self.bucket_seconds, {})
            row[metric] = row.get(metric, 0.0) + value
        return [
            {"t": start, **{m: _rounded(m, row.get(m, 0.0)) for m in SERIES_METRICS}}
            for start, row in sorted(buckets.items())
            if round(row.get("requests", 0))
        ]


def _rounded(metric: str, value: float) -> float | int:
    # Sums may be added up in another order (or in Redis' long doubles); round so they agree.
    if metric in _COUNTS:
        return round(value)
    return round(float(value), 9 if metric in _MONEY else 3) + 0.0


def check_bucket_seconds(bucket_seconds: int) -> int:
    """Buckets are a whole number of seconds, and a window may read at most MAX_FINE buckets."""
    if (
        isinstance(bucket_seconds, bool)
        or not isinstance(bucket_seconds, int)
        or bucket_seconds < 1
    ):
        raise LedgerFormatError("bucket_seconds must be a positive whole number of seconds")
    width = max(w for w in SERIES_WIDTHS if bucket_seconds % w == 0)
    if bucket_seconds // width > MAX_FINE:
        raise LedgerFormatError(
            f"bucket_seconds={bucket_seconds} needs {bucket_seconds // width} stored buckets "
            f"each; use a multiple of 60 or 3600 (at most {MAX_FINE} buckets)"
        )
    return bucket_seconds


def stale_before(width: int, last_second: int) -> int:
    """Stored buckets of `width` starting before this can be in no window."""
    return last_second - width * MAX_FINE - width


def bucket_starts(time: float) -> list[tuple[int, int]]:
    """(width, start) of the stored bucket holding `time`, for every width."""
    second = math.floor(time)
    return [(w, second // w * w) for w in SERIES_WIDTHS]
