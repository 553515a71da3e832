"""The one definition of what thinkgate saved, used by every surface that shows it.

saved share = saved / (spent + saved): of what the requests would have spent without thinkgate
(what they spent plus what they saved), the part they did not spend. Spent is measured. Saved is
an estimate in the gateway's ledger (the difficulty model's forecasts) and measured in the demo
(recorded always-think outputs); surfaces report the two apart. The same formula holds for
tokens and for money.

A share is shown as a percentage with one decimal, rounded once, the way Grafana's
``percentunit`` rounds (``Math.round(100 * share * 10) / 10``), so that `/v1/savings`, the
dashboard, `thinkgate ledger stats`, the report, the demo and Grafana print the same digits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from policies.profiles import ProfileCost

__all__ = [
    "GRAFANA_SAVED_SHARE",
    "Money",
    "format_share",
    "record_money",
    "saved_share",
    "share_percent",
]

# The saved share over Prometheus counters, as the Grafana dashboard computes it: net saved
# (savings minus estimated overspending, which counters keep apart because they only go up)
# over spent + net saved.
_SAVED = (
    "(sum(increase(thinkgate_saved_tokens_estimate_total[$__range])) "
    "- sum(increase(thinkgate_extra_tokens_estimate_total[$__range])))"
)
GRAFANA_SAVED_SHARE = (
    f"{_SAVED} / (sum(increase(thinkgate_completion_tokens_total[$__range])) + {_SAVED})"
)


def saved_share(spent: float, saved: float) -> float:
    """saved / (spent + saved); 0.0 when nothing was spent or saved."""
    whole = float(spent) + float(saved)
    return float(saved) / whole if whole > 0 else 0.0


def share_percent(share: float) -> float:
    """The share as a percentage with one decimal, rounded half up as Grafana's display does."""
    return math.floor(100 * float(share) * 10 + 0.5) / 10


def format_share(share: float) -> str:
    """The share as printed everywhere: ``34.4%``."""
    return f"{share_percent(share):.1f}%"


@dataclass(frozen=True)
class Money:
    """What one request cost and what it saved, in the profiles' currency; the reference cost
    is what it would have cost without thinkgate (cost + saved), as for tokens."""

    cost: float
    saved: float

    @property
    def reference(self) -> float:
        """cost + saved: the request's cost had nothing been saved."""
        return self.cost + self.saved


def record_money(
    prompt_tokens: float,
    completion_tokens: float,
    saved_by: Mapping[str, float],
    used: ProfileCost,
    reference: ProfileCost | None,
    forecasts: tuple[float, float] | None,
) -> Money:
    """The money side of one ledger record, mirroring its token savings mechanism by mechanism.

    Routing saved the reference's forecast cost minus the used profile's planned forecast cost
    (`forecasts`: reference tokens, used tokens), prompt included; early exit and sampling saved
    tokens of the used profile, at its output price.
    """
    cost = used.cost(completion_tokens, prompt_tokens)
    routing = 0.0
    if reference is not None and forecasts is not None:
        ref_tokens, used_tokens = forecasts
        routing = reference.cost(ref_tokens, prompt_tokens) - used.cost(used_tokens, prompt_tokens)
    rest = sum(float(v) for k, v in saved_by.items() if k != "routing")
    return Money(cost=cost, saved=routing + rest * used.price_out)
