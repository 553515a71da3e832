"""The savings dashboard: one self-contained HTML page drawn from the `/v1/savings` JSON.

The page, its CSS and its JavaScript ship in ``router/static`` and are inlined into one
document, so it loads nothing from elsewhere. Served live it fetches the savings endpoint and
refreshes; rendered as a report (`thinkgate report`) it carries the savings JSON inside.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import lru_cache
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.responses import HTMLResponse

__all__ = ["dashboard_router", "mount", "render_dashboard"]

_PLACEHOLDER = re.compile(r"/\*(STYLE|CONFIG|DATA|SCRIPT)\*/")


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str, str]:
    static = files("router") / "static"
    return tuple(  # type: ignore[return-value]
        (static / name).read_text("utf-8")
        for name in ("dashboard.html", "dashboard.css", "dashboard.js")
    )


def _script_json(value: Any) -> str:
    # Inside <script>, "</script>" or "<!--" in a string would end the element: escape every "<".
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


def render_dashboard(
    savings: Mapping[str, Any] | None = None,
    *,
    savings_url: str = "v1/savings",
    refresh_seconds: float = 5.0,
    generated: str | None = None,
) -> str:
    """The dashboard HTML; with ``savings`` it is a static report, otherwise it fetches live."""
    html, css, script = _assets()
    config = {
        "savings_url": savings_url,
        "refresh_seconds": 0 if savings is not None else refresh_seconds,
        "generated": generated,
    }
    parts = {
        "STYLE": css,
        "CONFIG": _script_json(config),
        "DATA": _script_json(dict(savings) if savings is not None else None),
        "SCRIPT": script,
    }
    # One pass, so text put in (a profile name, say) is never scanned for placeholders again.
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], html)


def dashboard_router(*, savings_url: str = "v1/savings", refresh_seconds: float = 5.0) -> APIRouter:
    """An APIRouter serving ``GET /dashboard``; the page reads ``savings_url`` (relative)."""
    router = APIRouter()
    page = render_dashboard(savings_url=savings_url, refresh_seconds=refresh_seconds)

    @router.get("/dashboard", include_in_schema=False)
    async def get_dashboard() -> HTMLResponse:
        return HTMLResponse(page, headers={"cache-control": "no-cache"})

    return router


def mount(app: FastAPI) -> None:
    """Serve ``GET /dashboard`` on ``app`` (it reads the app's own ``/v1/savings``)."""
    app.include_router(dashboard_router())
