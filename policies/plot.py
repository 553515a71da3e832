"""The simulator's PNG: the cost-accuracy frontier with the baselines and the oracle."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["draw_report", "plot_report"]


def draw_report(report: dict[str, Any]) -> Figure:
    """The routing frontier (and search curves when present) as a matplotlib Figure."""
    from matplotlib.figure import Figure

    panels = [k for k in ("frontier", "search") if report.get(k)]
    if not panels:
        raise ValueError("the report has neither a frontier nor a search section")
    # A bare Figure, not pyplot's: no global state, no display, collected like any object.
    fig = Figure(figsize=(6.5 * len(panels), 4.8))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "frontier":
            _frontier(ax, report)
        else:
            _search(ax, report["search"])
    fig.tight_layout()
    return fig


def plot_report(report: dict[str, Any], path: str | Path) -> Path:
    """Draw the report (see `draw_report`) to a PNG; returns the path."""
    out = Path(path)
    draw_report(report).savefig(out, dpi=120)
    return out


def _frontier(ax: Any, report: dict[str, Any]) -> None:
    pts = report["frontier"]
    ax.plot(
        [p["tokens"] for p in pts],
        [100 * p["accuracy"] for p in pts],
        "-",
        color="tab:blue",
        label=f"{report.get('policy', 'policy')} frontier",
    )
    for name, p in report.get("baselines", {}).items():
        if name == "oracle":
            continue
        marker = "s" if name.startswith("fixed:") else "^"
        ax.plot(p["tokens"], 100 * p["accuracy"], marker, label=name)
    orc = report.get("oracle")
    if orc:
        ax.plot(orc["tokens"], 100 * orc["accuracy"], "*", ms=14, color="gold", label="oracle")
    op = report.get("operating_point")
    if op:
        ax.plot(
            op["tokens"],
            100 * op["accuracy"],
            "o",
            ms=10,
            mfc="none",
            color="black",
            label=f"calibrated ({report.get('target', '')})",
        )
    ax.set_xlabel("mean completion tokens per request")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"routing, reference {report.get('reference', '')}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _search(ax: Any, search: dict[str, dict[str, dict[str, float]]]) -> None:
    for name, rows in search.items():
        fixed = sorted(
            (r["samples"], 100 * r["accuracy"]) for k, r in rows.items() if k != "adaptive"
        )
        (line,) = ax.plot([x for x, _ in fixed], [y for _, y in fixed], ".-", label=name)
        a = rows.get("adaptive")
        if a:
            ax.plot(a["samples"], 100 * a["accuracy"], "o", mfc="none", color=line.get_color())
    ax.set_xscale("log", base=2)
    ax.set_xlabel("mean samples per problem (dots: majority of N; circles: adaptive)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("search: majority vote vs adaptive stopping")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
