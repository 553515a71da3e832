from __future__ import annotations

import pytest

from difficulty.errors import InvalidInputError, NotFoundError
from difficulty.outcomes import Outcome, Sample
from policies.routing.calibration import Target
from policies.routing.policy import PolicyConfig
from policies.simulation import select_profiles, simulate

ROWS = [
    Outcome("a", "p", "m1", None, None, gold="1", samples=tuple(Sample("1", 3) for _ in range(8))),
    Outcome("b", "q", "m1", None, None, gold="2", samples=tuple(Sample("3", 3) for _ in range(8))),
]


def test_select_profiles() -> None:
    assert select_profiles(ROWS, None) == ROWS
    assert select_profiles(ROWS, ["m1"]) == ROWS
    with pytest.raises(NotFoundError):
        select_profiles(ROWS, ["m2"])
    with pytest.raises(InvalidInputError):
        select_profiles([], None)


def test_sampled_only_table_gets_a_search_section() -> None:
    report = simulate(ROWS, policy=PolicyConfig(), target=Target(accuracy_loss=0.01), orders=2)
    search = report["search"]["m1"]
    assert search["adaptive"]["accuracy"] == pytest.approx(0.5)
    # Unanimous samples stop at the plan's minimum: two samples of typical length agree.
    assert search["adaptive"]["samples"] == 2
    assert report["search_plan"]["min_samples"] == 2
    assert "operating_point" not in report


def test_nothing_to_simulate() -> None:
    rows = [Outcome("a", "p", "m1", True, 3)]
    with pytest.raises(InvalidInputError):
        simulate(rows, policy=PolicyConfig(), target=Target(tokens=5))
