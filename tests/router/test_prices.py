"""Profile prices: the config's, else litellm's bundled cost map, else zero."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from router.prices import model_prices, profile_prices
from tests.router.conftest import EASY, base_config


def test_the_cost_map_prices_known_models_with_or_without_a_provider() -> None:
    assert model_prices("gpt-4o") == (2.5e-06, 1e-05)
    assert model_prices("openai/gpt-4o") == (2.5e-06, 1e-05)
    assert model_prices("openai/QwQ-32B") is None  # a self-hosted model the map does not know


def test_config_prices_win_and_missing_halves_come_from_the_map() -> None:
    assert profile_prices("openai/gpt-4o", 1e-6, 2e-6) == (1e-6, 2e-6)
    assert profile_prices("openai/gpt-4o", None, None) == (2.5e-06, 1e-05)
    assert profile_prices("openai/gpt-4o", 0.0, None) == (0.0, 1e-05)
    assert profile_prices("openai/QwQ-32B", None, None) == (0.0, 0.0)


def test_each_record_carries_its_cost_reference_cost_and_saved_cost(
    replay: Any, gateway_factory: Any, tmp_path: Path
) -> None:
    config = base_config(replay.base_url, f"sqlite:///{tmp_path / 'ledger.db'}")
    config["profiles"]["direct"].update(price_in=1e-6, price_out=2e-6)
    config["profiles"]["think"].update(price_in=3e-6, price_out=12e-6)
    gw = gateway_factory(config)
    for model in ("thinkgate/direct", "thinkgate/think"):
        body = {"model": model, "messages": [{"role": "user", "content": EASY}]}
        assert httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=60).is_success
    records = {r.profile: r for r in gw.records()}
    direct, think = records["direct"], records["think"]
    assert direct.cost == pytest.approx(
        direct.prompt_tokens * 1e-6 + direct.completion_tokens * 2e-6
    )
    assert think.cost == pytest.approx(think.prompt_tokens * 3e-6 + think.completion_tokens * 12e-6)
    # Routing to direct saved the reference's forecast cost minus direct's, prompt included.
    forecast = {p: direct.predictions[p]["tokens"] for p in ("direct", "think")}
    routing = (direct.prompt_tokens * 3e-6 + forecast["think"] * 12e-6) - (
        direct.prompt_tokens * 1e-6 + forecast["direct"] * 2e-6
    )
    assert direct.saved_cost == pytest.approx(routing)
    for record in (direct, think):
        assert record.reference_cost == pytest.approx(record.cost + record.saved_cost)
    savings = httpx.get(f"{gw.url}/v1/savings", timeout=10).json()["money"]
    assert savings["priced_requests"] == 2
    assert savings["cost"] == pytest.approx(direct.cost + think.cost, abs=1e-9)
