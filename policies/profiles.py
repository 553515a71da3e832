"""What a profile costs: prices per input and output token, its limits and its sampling plan."""

from __future__ import annotations

from dataclasses import dataclass

from policies.decision import SamplingPlan

__all__ = ["ProfileCost"]


@dataclass(frozen=True)
class ProfileCost:
    """Prices (per token) and limits of one profile, so decisions and reports speak money too.

    `default_tokens` stands in for the expected completion tokens when the difficulty model
    gives none; `search` is a search profile's sampling plan (several samples and a vote), its
    prior left for each decision to fill in.
    """

    name: str
    price_in: float = 0.0
    price_out: float = 0.0
    default_tokens: float = 0.0
    max_tokens: int | None = None
    search: SamplingPlan | None = None

    def __post_init__(self) -> None:
        if self.price_in < 0 or self.price_out < 0:
            raise ValueError(f"profile {self.name!r}: prices must be non-negative")

    def cost(self, tokens_out: float, tokens_in: float = 0.0) -> float:
        """Money spent on one request with these completion and prompt token counts."""
        return self.price_in * tokens_in + self.price_out * tokens_out
