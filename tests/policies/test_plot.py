from __future__ import annotations

from pathlib import Path

import pytest

from policies.plot import draw_report, plot_report

REPORT = {
    "policy": "utility",
    "reference": "think",
    "target": "accuracy loss <= 1.00 points",
    "frontier": [{"accuracy": 0.8, "tokens": 50.0}, {"accuracy": 0.9, "tokens": 100.0}],
    "baselines": {
        "fixed:think": {"accuracy": 0.92, "tokens": 400.0},
        "random": {"accuracy": 0.85, "tokens": 120.0},
        "oracle": {"accuracy": 0.99, "tokens": 20.0},  # drawn once, as the star
    },
    "oracle": {"accuracy": 0.97, "tokens": 30.0},
    "operating_point": {"accuracy": 0.88, "tokens": 90.0},
    "search": {
        "m": {
            "majority@1": {"accuracy": 0.8, "samples": 1.0},
            "majority@4": {"accuracy": 0.86, "samples": 4.0},
            "adaptive": {"accuracy": 0.9, "samples": 4.2},
        }
    },
}


def _series(ax: object) -> dict[str, tuple[list[float], list[float]]]:
    lines = ax.get_lines()  # type: ignore[attr-defined]
    return {line.get_label(): (list(line.get_xdata()), list(line.get_ydata())) for line in lines}


def test_the_frontier_panel_plots_the_report_s_points_in_percent() -> None:
    frontier, search = draw_report(REPORT).axes
    assert _series(frontier) == {
        "utility frontier": ([50.0, 100.0], [80.0, 90.0]),
        "fixed:think": ([400.0], [92.0]),
        "random": ([120.0], [85.0]),
        "oracle": ([30.0], [97.0]),
        "calibrated (accuracy loss <= 1.00 points)": ([90.0], [88.0]),
    }
    assert frontier.get_xlabel() == "mean completion tokens per request"
    assert frontier.get_title() == "routing, reference think"


def test_the_search_panel_plots_majority_of_n_and_the_adaptive_point() -> None:
    _, search = draw_report(REPORT).axes
    lines = search.get_lines()
    majority, adaptive = lines
    assert majority.get_label() == "m"
    assert (list(majority.get_xdata()), list(majority.get_ydata())) == ([1.0, 4.0], [80.0, 86.0])
    assert (list(adaptive.get_xdata()), list(adaptive.get_ydata())) == ([4.2], [90.0])
    assert adaptive.get_color() == majority.get_color()  # one colour per profile
    assert search.get_xscale() == "log"


def test_plot_report_writes_the_drawn_figure(tmp_path: Path) -> None:
    out = plot_report({"frontier": REPORT["frontier"]}, tmp_path / "f.png")
    assert out == tmp_path / "f.png" and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_needs_something_to_draw(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        plot_report({}, tmp_path / "f.png")
