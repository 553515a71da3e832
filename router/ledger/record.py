"""One ledger record: what a request cost, what it was estimated to save, and its label."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from router.ledger.errors import LedgerFormatError

__all__ = ["LedgerRecord", "MAX_SHADOW_RECORDS", "SAVED_BY_KEYS"]

# The newest early-exit shadow records a store keeps (`max_shadow` in the ledger URL; 0 keeps
# all): about 10 MB of trails. Reads stay correct past the cap because they name records by
# their place in the whole history, not in what is kept.
MAX_SHADOW_RECORDS = 20_000

# The mechanisms that save tokens; every record's `saved_by` is reported under these keys.
SAVED_BY_KEYS = ("routing", "early_exit", "sampling")


@dataclass
class LedgerRecord:
    """One request through the gateway; token savings are estimates against the reference."""

    request_id: str
    time: float  # epoch seconds
    model: str  # as requested by the caller
    profile: str  # the profile that answered
    decision_reason: str
    predictions: dict[str, dict[str, float | None]]  # {profile: {"p_correct", "tokens"}}
    difficulty: str | None
    reference_profile: str | None
    prompt_tokens: int
    completion_tokens: int
    tokens_counted: bool  # True: counted by thinkgate; False: from upstream usage
    reference_tokens_estimate: float | None
    saved_tokens_estimate: float
    saved_by: dict[str, float]
    early_exit: dict[str, Any] | None  # {"tokens_at_exit", "checkpoint", "answer"}
    samples: int | None
    latency_ms: float
    ttft_ms: float | None
    stream: bool
    status: int
    error: str | None
    feedback: bool | None = None
    prompt: str | None = None  # stored only when the config opts in
    completion: str | None = None  # stored only when the config opts in
    gold: str | None = None
    probe_tokens: int | None = None  # probe mode: completion tokens its probes spent
    endpoint: str = "chat"  # chat | responses | completions | embeddings
    # {"dialect", "tokens", "hidden"}: how the upstream wrote thinking and how much there was
    # (usage.completion_tokens_details.reasoning_tokens when the text is hidden)
    reasoning: dict[str, Any] | None = None
    effort: dict[str, Any] | None = None  # policies.effort: {"mode", "client", "honoured", "sent"}
    # Money (policies.savings.record_money), in the profiles' prices' currency; None when the
    # record predates prices. reference_cost = cost + saved_cost, as for tokens.
    cost: float | None = None
    reference_cost: float | None = None
    saved_cost: float | None = None
    # search: samples counted and cancelled, tokens the cancelled had streamed (not billed in
    # completion_tokens), the verifier's calls and tokens (router.sources.SearchReport)
    search: dict[str, int] | None = None
    # The caller's API key by its configured name (router.keys: "default" for keys listed in
    # api_key_envs and for an open gateway), never the key; None in records from before.
    key: str | None = None
    # difficulty.novelty: distance to the training prompts, and whether over the threshold
    novelty: float | None = None
    novel: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (every field, nulls included)."""
        return asdict(self)

    def dumps(self) -> str:
        """The record as one line of compact JSON."""
        return json.dumps(
            self.to_json(), ensure_ascii=False, separators=(",", ":"), default=_json_scalar
        )

    @classmethod
    def from_json(cls, row: Mapping[str, Any] | str | bytes) -> LedgerRecord:
        """Read a record from a dict or JSON text; unknown keys are ignored."""
        if isinstance(row, str | bytes):
            try:
                row = json.loads(row)
            except json.JSONDecodeError as exc:
                raise LedgerFormatError(f"ledger record is not valid JSON ({exc.msg})") from None
        if not isinstance(row, Mapping):
            raise LedgerFormatError("ledger record must be a JSON object")
        known = {f.name for f in fields(cls)}
        missing = [f.name for f in fields(cls) if f.name not in row and f.name not in _OPTIONAL]
        if missing:
            raise LedgerFormatError(f"ledger record is missing field(s): {', '.join(missing)}")
        values = {k: v for k, v in row.items() if k in known}
        if not isinstance(values["request_id"], str) or not values["request_id"]:
            raise LedgerFormatError("ledger record field 'request_id' must be a non-empty string")
        try:
            values["time"] = float(values["time"])
            values["prompt_tokens"] = int(values["prompt_tokens"])
            values["completion_tokens"] = int(values["completion_tokens"])
            values["saved_tokens_estimate"] = float(values["saved_tokens_estimate"])
            values["latency_ms"] = float(values["latency_ms"])
            values["status"] = int(values["status"])
        except (TypeError, ValueError) as exc:
            raise LedgerFormatError(f"ledger record has a non-numeric count ({exc})") from None
        return cls(**values)


_OPTIONAL = frozenset(
    {
        "feedback",
        "prompt",
        "completion",
        "gold",
        "probe_tokens",
        "endpoint",
        "reasoning",
        "effort",
        "cost",
        "reference_cost",
        "saved_cost",
        "search",
        "key",
    }
)


def _json_scalar(value: Any) -> Any:
    # numpy scalars (model predictions) carry .item(); anything else is a caller's bug.
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"ledger record value of type {type(value).__name__} is not JSON")
