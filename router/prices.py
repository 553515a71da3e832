"""Profile prices: the config's, or litellm's model cost map for the profile's model.

A profile that names its prices (`price_in` / `price_out`, per token) keeps them; one that does
not is priced from litellm's bundled cost map (read offline: LITELLM_LOCAL_MODEL_COST_MAP), under
its model string as given or without the provider prefix; a model the map does not know costs 0,
and its money figures say nothing.
"""

from __future__ import annotations

__all__ = ["model_prices", "profile_prices"]


def model_prices(model: str) -> tuple[float, float] | None:
    """(input, output) price per token from litellm's cost map, or None when it has no entry."""
    import litellm

    names = [model]
    if "/" in model:
        names.append(model.split("/", 1)[1])
    for name in names:
        entry = litellm.model_cost.get(name) or {}
        price_in, price_out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
        if price_in is not None and price_out is not None:
            return float(price_in), float(price_out)
    return None


def profile_prices(
    model: str, price_in: float | None, price_out: float | None
) -> tuple[float, float]:
    """A profile's (input, output) price per token: the config's where given, else the map's."""
    if price_in is not None and price_out is not None:
        return price_in, price_out
    known = model_prices(model) or (0.0, 0.0)
    return (
        price_in if price_in is not None else known[0],
        price_out if price_out is not None else known[1],
    )
