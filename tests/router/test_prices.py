"""Profile prices: the config's, else litellm's bundled cost map, else zero."""

from __future__ import annotations

from router.prices import model_prices, profile_prices


def test_the_cost_map_prices_known_models_with_or_without_a_provider() -> None:
    assert model_prices("gpt-4o") == (2.5e-06, 1e-05)
    assert model_prices("openai/gpt-4o") == (2.5e-06, 1e-05)
    assert model_prices("openai/QwQ-32B") is None  # a self-hosted model the map does not know


def test_config_prices_win_and_missing_halves_come_from_the_map() -> None:
    assert profile_prices("openai/gpt-4o", 1e-6, 2e-6) == (1e-6, 2e-6)
    assert profile_prices("openai/gpt-4o", None, None) == (2.5e-06, 1e-05)
    assert profile_prices("openai/gpt-4o", 0.0, None) == (0.0, 1e-05)
    assert profile_prices("openai/QwQ-32B", None, None) == (0.0, 0.0)
