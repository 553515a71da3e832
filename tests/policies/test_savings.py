"""The one savings definition: saved / (spent + saved), shown with Grafana's rounding."""

from __future__ import annotations

import pytest

from policies.savings import format_share, saved_share, share_percent


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
