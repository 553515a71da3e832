"""Savings aggregation: the `GET /v1/savings` figures, computed from ledger records.

Every record becomes a list of counter increments (`record_deltas`); `SavingsState` sums them and
renders the summary. `aggregate` does this for a list of records; the stores keep the same
counters incrementally (Redis in hashes shared by replicas), so both paths give one answer.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from policies.savings import saved_share, share_percent
from router.ledger.counterfactual import exploration_summary
from router.ledger.record import SAVED_BY_KEYS, LedgerRecord
from router.ledger.series import (
    SeriesWindow,
    bucket_starts,
    check_bucket_seconds,
    parse_series_field,
    series_field,
    stale_before,
)

__all__ = [
    "Delta",
    "SavingsState",
    "aggregate",
    "record_deltas",
    "feedback_deltas",
    "latency_key",
]

# counters/latency/series add up; "last" keeps the maximum (the latest record's second).
Table = Literal["counters", "latency", "series", "last"]
# One increment: (table, field, amount). int amounts stay integers (Redis HINCRBY).
Delta = tuple[Table, str, int | float]

_PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99))
# A search's counters (router.sources.SearchReport): samples counted and cancelled, the tokens
# the cancelled ones had streamed (not billed), the verifier's calls, tokens and failures.
_SEARCH_COUNTERS = (
    "requests",
    "samples",
    "cancelled",
    "cancelled_tokens",
    "verifier_calls",
    "verifier_tokens",
    "verifier_failures",
)
_PRUNE_EVERY = 50_000  # series entries kept in memory before stale buckets are dropped


def latency_key(latency_ms: float) -> str:
    """Latency to three significant digits: percentiles exact at that resolution, few keys."""
    return f"{float(latency_ms):.3g}"


def _reference_estimate(record: LedgerRecord) -> float:
    # Without a reference estimate nothing beyond what was spent (plus claimed savings) is assumed.
    if record.reference_tokens_estimate is not None:
        return float(record.reference_tokens_estimate)
    return float(record.completion_tokens) + float(record.saved_tokens_estimate)


def record_deltas(record: LedgerRecord) -> list[Delta]:
    """The counter increments one record contributes to the savings figures."""
    reference = _reference_estimate(record)
    saved = float(record.saved_tokens_estimate)
    deltas: list[Delta] = [
        ("counters", "requests", 1),
        ("counters", "prompt_tokens", int(record.prompt_tokens)),
        ("counters", "completion_tokens", int(record.completion_tokens)),
        ("counters", "reference_estimate", reference),
        ("counters", "saved_estimate", saved),
        ("counters", f"profile:requests:{record.profile}", 1),
        ("counters", f"profile:prompt_tokens:{record.profile}", int(record.prompt_tokens)),
        ("counters", f"profile:completion_tokens:{record.profile}", int(record.completion_tokens)),
    ]
    deltas += _key_deltas(record)
    for mechanism, amount in sorted(record.saved_by.items()):
        deltas.append(("counters", f"saved_by:{mechanism}", float(amount)))
    if record.early_exit is not None:
        deltas.append(("counters", "early_exits", 1))
    if record.cost is not None:
        saved_cost = float(record.saved_cost or 0.0)
        deltas += [
            ("counters", "priced_requests", 1),
            ("counters", "cost", float(record.cost)),
            ("counters", "saved_cost", saved_cost),
            ("counters", f"profile:cost:{record.profile}", float(record.cost)),
        ]
    if record.probe_tokens:  # spent beside the stream; already netted out of saved_by
        deltas.append(("counters", "probe_tokens", int(record.probe_tokens)))
    for name, amount in sorted((record.search or {}).items()):
        if name != "max_samples" and amount:
            deltas.append(("counters", f"search:{name}", int(amount)))
    if record.search is not None:
        deltas.append(("counters", "search:requests", 1))
    if record.difficulty is not None:
        deltas.append(("counters", f"difficulty:{record.difficulty}", 1))
    if record.novelty is not None:
        deltas.append(("counters", "novelty:scored", 1))
        if record.novel:
            deltas.append(("counters", "novelty:novel", 1))
    deltas.extend(feedback_deltas(None, record.feedback))
    deltas.append(("latency", latency_key(record.latency_ms), 1))
    deltas.append(("last", "last_second", math.floor(record.time)))
    per_bucket: dict[str, int | float] = {
        "requests": 1,
        "completion_tokens": record.completion_tokens,
        "reference_estimate": reference,
        "saved_estimate": saved,
    }
    for mechanism in SAVED_BY_KEYS:
        per_bucket[f"saved_{mechanism}"] = float(record.saved_by.get(mechanism, 0.0))
    if record.cost is not None:
        per_bucket["cost"] = float(record.cost)
        per_bucket["saved_cost"] = float(record.saved_cost or 0.0)
    for width, start in bucket_starts(record.time):
        deltas += [
            ("series", series_field(width, start, metric), amount)
            for metric, amount in per_bucket.items()
            if amount
        ]
    return deltas


def _key_deltas(record: LedgerRecord) -> list[Delta]:
    # Per API key (its configured name; key names hold no ":"), for the dashboard's breakdown.
    if record.key is None:
        return []
    key = record.key
    deltas: list[Delta] = [
        ("counters", f"key:requests:{key}", 1),
        ("counters", f"key:prompt_tokens:{key}", int(record.prompt_tokens)),
        ("counters", f"key:completion_tokens:{key}", int(record.completion_tokens)),
        ("counters", f"key:saved_estimate:{key}", float(record.saved_tokens_estimate)),
    ]
    if record.cost is not None:
        deltas += [
            ("counters", f"key:cost:{key}", float(record.cost)),
            ("counters", f"key:saved_cost:{key}", float(record.saved_cost or 0.0)),
        ]
    return deltas


def feedback_deltas(old: bool | None, new: bool | None) -> list[Delta]:
    """The increments that relabel one record from `old` to `new` feedback."""
    labelled = int(new is not None) - int(old is not None)
    correct = int(new is True) - int(old is True)
    deltas: list[Delta] = []
    if labelled:
        deltas.append(("counters", "labelled", labelled))
    if correct:
        deltas.append(("counters", "correct", correct))
    return deltas


@dataclass
class SavingsState:
    """Summed counters, the same whether kept in memory or read back from Redis hashes."""

    counters: dict[str, float] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    series: dict[str, float] = field(default_factory=dict)
    last_second: int | None = None
    _prune_at: int = field(default=_PRUNE_EVERY, repr=False, compare=False)

    def apply(self, deltas: Iterable[Delta]) -> None:
        """Add increments to the counters."""
        for table, name, amount in deltas:
            if table == "last":
                last = int(amount)
                self.last_second = last if self.last_second is None else max(self.last_second, last)
                continue
            target: dict[str, float] = getattr(self, table)
            target[name] = target.get(name, 0) + amount
        if len(self.series) > self._prune_at:
            self._prune()

    def _prune(self) -> None:
        # Buckets no window can reach any more (see series.stale_before); output is unchanged.
        last = self.last_second or 0
        self.series = {
            name: value
            for name, value in self.series.items()
            if parse_series_field(name)[1] >= stale_before(parse_series_field(name)[0], last)
        }
        # Amortised: what survives can be live for a long time, so wait for it to double.
        self._prune_at = max(_PRUNE_EVERY, 2 * len(self.series))

    @classmethod
    def from_tables(
        cls, tables: Mapping[str, Mapping[Any, Any]], last_second: Any = None
    ) -> SavingsState:
        """Counters read back as text (Redis HGETALL/HMGET) -> a state."""
        state = cls(last_second=None if last_second is None else int(_text(last_second)))
        for table in ("counters", "latency", "series"):
            raw = tables.get(table, {})
            getattr(state, table).update(
                {_text(k): float(_text(v)) for k, v in raw.items() if v is not None}
            )
        return state

    def summary(self, bucket_seconds: int = 60) -> dict[str, Any]:
        """The `/v1/savings` JSON."""
        check_bucket_seconds(bucket_seconds)
        c = self.counters
        requests = _int(c.get("requests", 0))
        reference = c.get("reference_estimate", 0.0)
        saved = c.get("saved_estimate", 0.0)
        spent = c.get("completion_tokens", 0.0)
        share = saved_share(_round(spent), _round(saved))
        early_exits = _int(c.get("early_exits", 0))
        labelled = _int(c.get("labelled", 0))
        correct = _int(c.get("correct", 0))
        series: list[dict[str, Any]] = []
        if self.last_second is not None:
            window = SeriesWindow.for_request(bucket_seconds, self.last_second)
            series = window.render(self.series)
        return {
            "requests": requests,
            "by_profile": self._by_profile(),
            "by_key": self._by_key(),
            "tokens": {
                "prompt": _int(c.get("prompt_tokens", 0)),
                "completion": _int(c.get("completion_tokens", 0)),
                "probe": _int(c.get("probe_tokens", 0)),
                "reference_estimate": _round(reference),
                "saved_estimate": _round(saved),
                # policies.savings: of what these requests would have spent (spent + saved), the
                # part they did not. Only the saved part is an estimate; the difficulty model's
                # reference estimate runs low on long thinking (it forecasts log tokens).
                "saved_share": round(share, 4),
                "saved_percent": share_percent(share),
            },
            "money": self._money(),
            # The exploration share's background runs: a cost the savings above do not net out.
            "exploration": exploration_summary(c, saved, c.get("saved_cost", 0.0)),
            "saved_by": self._saved_by(),
            "search": {name: _int(c.get(f"search:{name}", 0)) for name in _SEARCH_COUNTERS},
            "early_exits": early_exits,
            "early_exit_rate": round(early_exits / requests, 4) if requests else 0.0,
            "difficulty": {
                name.split(":", 1)[1]: _int(v)
                for name, v in sorted(c.items())
                if name.startswith("difficulty:") and _int(v)
            },
            "novelty": self._novelty(),
            "latency_ms": self._latency_percentiles(),
            "feedback": {
                "labelled": labelled,
                "correct": correct,
                "accuracy": round(correct / labelled, 4) if labelled else None,
            },
            "series": series,
            "bucket_seconds": bucket_seconds,
            "estimate": True,
        }

    def _novelty(self) -> dict[str, Any]:
        """Requests scored for novelty, how many were novel, and their share."""
        scored = _int(self.counters.get("novelty:scored", 0))
        novel = _int(self.counters.get("novelty:novel", 0))
        share = round(novel / scored, 4) if scored else None
        return {"scored": scored, "novel": novel, "share": share}

    def _money(self) -> dict[str, Any]:
        """Cost and the saved estimate in money, by the same definition as tokens."""
        c = self.counters
        cost, saved = _money(c.get("cost", 0.0)), _money(c.get("saved_cost", 0.0))
        share = saved_share(cost, saved)
        return {
            "priced_requests": _int(c.get("priced_requests", 0)),
            "cost": cost,
            "reference_estimate": _money(cost + saved),
            "saved_estimate": saved,
            "saved_share": round(share, 4),
            "saved_percent": share_percent(share),
        }

    def _by_profile(self) -> dict[str, dict[str, float]]:
        profiles: dict[str, dict[str, float]] = {}
        for name, value in self.counters.items():
            if name.startswith("profile:"):
                _, metric, profile = name.split(":", 2)
                profiles.setdefault(profile, {})[metric] = (
                    _money(value) if metric == "cost" else _int(value)
                )
        return {
            p: {m: v.get(m, 0) for m in ("requests", "prompt_tokens", "completion_tokens", "cost")}
            for p, v in sorted(profiles.items())
            if v.get("requests", 0)
        }

    def _by_key(self) -> dict[str, dict[str, Any]]:
        """Per API key name: requests, tokens, cost and the saved estimate (tokens and money),
        the saved share by the one definition (policies.savings)."""
        keys: dict[str, dict[str, float]] = {}
        for name, value in self.counters.items():
            if name.startswith("key:"):
                _, metric, key = name.split(":", 2)
                keys.setdefault(key, {})[metric] = value
        out: dict[str, dict[str, Any]] = {}
        for key, v in sorted(keys.items()):
            if not _int(v.get("requests", 0)):
                continue
            spent, saved = (
                _round(v.get("completion_tokens", 0.0)),
                _round(v.get("saved_estimate", 0.0)),
            )
            out[key] = {
                "requests": _int(v["requests"]),
                "prompt_tokens": _int(v.get("prompt_tokens", 0)),
                "completion_tokens": _int(spent),
                "saved_estimate": saved,
                "saved_percent": share_percent(saved_share(spent, saved)),
                "cost": _money(v.get("cost", 0.0)),
                "saved_cost": _money(v.get("saved_cost", 0.0)),
            }
        return out

    def _saved_by(self) -> dict[str, float]:
        saved_by = {k: 0.0 for k in SAVED_BY_KEYS}
        for name, value in self.counters.items():
            if name.startswith("saved_by:"):
                saved_by[name.split(":", 1)[1]] = _round(value)
        return saved_by

    def _latency_percentiles(self) -> dict[str, float | None]:
        values = sorted((float(k), _int(n)) for k, n in self.latency.items() if _int(n) > 0)
        total = sum(n for _, n in values)
        result: dict[str, float | None] = {}
        for name, q in _PERCENTILES:
            if not total:
                result[name] = None
                continue
            rank, seen = max(1, math.ceil(q * total)), 0  # nearest-rank percentile
            for value, n in values:
                seen += n
                if seen >= rank:
                    result[name] = value
                    break
        return result


def aggregate(records: Iterable[LedgerRecord], bucket_seconds: int = 60) -> dict[str, Any]:
    """The `GET /v1/savings` JSON for these records (pure: no clock, no I/O)."""
    state = SavingsState()
    for record in records:
        state.apply(record_deltas(record))
    return state.summary(bucket_seconds)


def _int(value: float) -> int:
    return int(round(value))


def _round(value: float) -> float:
    # Sums may be added up in another order (or in Redis' long doubles); round so they agree.
    return round(float(value), 3) + 0.0


def _money(value: float) -> float:
    # Prices are per token (1e-6 and below): nine decimals keep sums in any order equal.
    return round(float(value), 9) + 0.0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
