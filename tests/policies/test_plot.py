from __future__ import annotations

from pathlib import Path

import pytest

from policies.plot import plot_report


def test_plot_writes_a_png_with_frontier_and_search(tmp_path: Path) -> None:
    point = {"accuracy": 0.9, "tokens": 100.0}
    report = {
        "policy": "utility",
        "reference": "think",
        "frontier": [{"accuracy": 0.8, "tokens": 50.0}, point],
        "baselines": {"fixed:think": point, "random": point, "oracle": point},
        "oracle": point,
        "operating_point": point,
        "search": {
            "m": {
                "majority@1": {"accuracy": 0.8, "samples": 1.0},
                "adaptive": {"accuracy": 0.9, "samples": 4.2},
            }
        },
    }
    out = plot_report(report, tmp_path / "f.png")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_plot_needs_something_to_draw(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        plot_report({}, tmp_path / "f.png")
