"""The one savings definition: saved / (spent + saved), shown with Grafana's rounding."""

from __future__ import annotations

import pytest

from policies.profiles import ProfileCost
from policies.savings import format_share, record_money, saved_share, share_percent


def test_share_is_saved_over_what_would_have_been_spent() -> None:
    assert saved_share(750, 1300) == pytest.approx(1300 / 2050)
    assert saved_share(0, 0) == 0.0
    assert saved_share(100, -20) == pytest.approx(-0.25)  # overspending is a negative share


def test_percent_rounds_once_half_up_like_grafana() -> None:
    # JavaScript: Math.round(100 * share * 10) / 10, on the unrounded share.
    assert share_percent(0.34449) == 34.4  # not 34.5, which rounding to 4 decimals first gives
    assert share_percent(0.3445) == 34.4  # 100 * 0.3445 * 10 is 344.4999... in doubles, as in JS
    assert share_percent(0.34451) == 34.5
    assert share_percent(0.32304) == 32.3
    assert share_percent(1.0) == 100.0 and share_percent(0.0) == 0.0
    assert share_percent(-0.25) == -25.0
    assert format_share(1300 / 2050) == "63.4%"


def test_money_mirrors_the_token_savings_mechanism_by_mechanism() -> None:
    used = ProfileCost("direct", price_in=1e-6, price_out=2e-6)
    reference = ProfileCost("think", price_in=3e-6, price_out=10e-6)
    money = record_money(
        prompt_tokens=100,
        completion_tokens=200,
        saved_by={"routing": 1300.0, "early_exit": 50.0, "sampling": 0.0},
        used=used,
        reference=reference,
        forecasts=(1500.0, 200.0),  # reference forecast, used forecast
    )
    assert money.cost == pytest.approx(100 * 1e-6 + 200 * 2e-6)
    routing = (100 * 3e-6 + 1500 * 10e-6) - (100 * 1e-6 + 200 * 2e-6)
    assert money.saved == pytest.approx(routing + 50 * 2e-6)
    assert money.reference == pytest.approx(money.cost + money.saved)
    # No reference profile (or no forecast): only what the used profile itself saved.
    alone = record_money(100, 200, {"early_exit": 50.0}, used, None, None)
    assert alone.saved == pytest.approx(50 * 2e-6)
