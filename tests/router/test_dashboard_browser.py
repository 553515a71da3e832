"""The dashboard in real headless Chromium (Debian's `chromium`, driven over the DevTools protocol).

The page must show exactly the numbers of `/v1/savings`; a screenshot is saved. Skipped when no
Chromium is installed (CI: `apt-get install -y chromium`). The browser downloads nothing.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import openai
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request

from router.dashboard import mount, render_dashboard
from router.ledger import Ledger, open_ledger
from router.server_thread import ServerThread
from tests.router.conftest import PROMPTS, RunningGateway, stop_process
from tests.router.test_metrics import make_record

API_KEY = "dashboard-test-key"
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
    "--window-size=1280,1400",
)


def _find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


# Decided at collection, so no gateway or ledger is started just to be skipped.
pytestmark = pytest.mark.skipif(
    _find_chromium() is None,
    reason="Chromium is not installed (Debian: apt-get install -y chromium)",
)


def _chromium() -> str:
    path = _find_chromium()
    assert path is not None
    return path


class DevTools:
    """A minimal DevTools-protocol client over one page session."""

    def __init__(self, ws: Any, session_id: str) -> None:
        self.ws = ws
        self.session_id = session_id
        self._next = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        ident = self._next
        message = {"id": ident, "method": method, "params": params, "sessionId": self.session_id}
        await self.ws.send_str(json.dumps(message))
        while True:
            reply = json.loads((await self.ws.receive(timeout=30)).data)
            if reply.get("id") == ident:
                if "error" in reply:
                    raise AssertionError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    async def open(self, url: str, ready: str, timeout: float = 20.0) -> None:
        await self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while not await self.evaluate(ready):
            if time.monotonic() > deadline:
                status = await self.evaluate("document.getElementById('status').textContent")
                raise AssertionError(f"page not ready: {status}")
            await asyncio.sleep(0.1)

    async def open_wait(self, ready: str, timeout: float = 20.0) -> None:
        """Wait until `ready` holds on the current page (after an in-page action)."""
        deadline = time.monotonic() + timeout
        while not await self.evaluate(ready):
            if time.monotonic() > deadline:
                raise AssertionError(f"page not ready: {ready}")
            await asyncio.sleep(0.1)

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))


@asynccontextmanager
async def chromium_page() -> AsyncIterator[DevTools]:
    """Start Chromium with a throwaway profile and attach to a fresh page."""
    import aiohttp

    binary = _chromium()
    profile = tempfile.mkdtemp(prefix="thinkgate-chromium-")
    try:
        # Its own session, so the helpers Chromium forks (zygote, crashpad, utility processes)
        # can be stopped with it: one still writing to the profile made its removal fail in CI.
        process = subprocess.Popen(
            [binary, *_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            ws_url = None
            assert process.stderr is not None
            deadline = time.monotonic() + 30
            while ws_url is None and time.monotonic() < deadline:
                line = process.stderr.readline()
                found = re.search(r"DevTools listening on (ws://\S+)", line)
                ws_url = found.group(1) if found else None
                if not line and process.poll() is not None:
                    break
            assert ws_url, "Chromium did not start its DevTools endpoint"
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(ws_url, max_msg_size=0) as ws,
            ):
                target = await _browser_call(ws, "Target.createTarget", url="about:blank")
                attached = await _browser_call(
                    ws, "Target.attachToTarget", targetId=target["targetId"], flatten=True
                )
                page = DevTools(ws, attached["sessionId"])
                await page.call("Page.enable")
                yield page
        finally:
            stop_process(process)
            _stop_group(process.pid)
    finally:
        _remove_profile(profile)


def _stop_group(pgid: int) -> None:
    """Kill whatever is left of Chromium's process group and wait until none of it runs."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _remove_profile(profile: str) -> None:
    """Remove the throwaway profile, retrying while a dying helper still writes into it."""
    for _ in range(20):
        try:
            shutil.rmtree(profile)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(profile, ignore_errors=True)


async def _browser_call(ws: Any, method: str, **params: Any) -> dict[str, Any]:
    await ws.send_str(json.dumps({"id": 10_000, "method": method, "params": params}))
    while True:
        reply = json.loads((await ws.receive(timeout=30)).data)
        if reply.get("id") == 10_000:
            return reply["result"]


_READ_PAGE = """JSON.stringify({
  metrics: Array.from(document.querySelectorAll('[data-metric]')).map(
    e => [e.dataset.metric, e.dataset.value, e.textContent]),
  bars: Array.from(document.querySelectorAll('#chart-profiles rect')).map(
    e => [e.dataset.label, Number(e.dataset.value)]),
  points: document.querySelectorAll('#chart-series circle').length,
  keys: Array.from(document.querySelectorAll('#keys-table tbody tr')).map(e => e.dataset.key),
  status: document.getElementById('status').dataset.state
})"""


def _lookup(data: Any, path: str) -> Any:
    for key in path.split("/"):
        data = None if data is None else data.get(unquote(key))
    return data


def _assert_page_matches(page: dict[str, Any], savings: dict[str, Any]) -> None:
    assert page["status"] == "ok"
    shown = {metric: (value, text) for metric, value, text in page["metrics"]}
    assert len(shown) >= 20
    for metric, (value, text) in shown.items():
        expected = _lookup(savings, metric)
        if expected is None:
            assert value == "" and text == "–", metric
        else:
            assert math.isclose(float(value), float(expected), abs_tol=1e-9), metric
            assert text != "–", metric
    for profile, stats in savings["by_profile"].items():
        assert shown[f"by_profile/{profile}/requests"][0] == str(stats["requests"])
    assert dict(page["bars"]) == {p: s["requests"] for p, s in savings["by_profile"].items()}
    # One row per key name, every cell one of /v1/savings' by_key numbers (checked above).
    assert page["keys"] == sorted(savings["by_key"])
    for key, stats in savings["by_key"].items():
        for metric in ("requests", "completion_tokens", "saved_percent", "cost", "saved_cost"):
            assert float(shown[f"by_key/{key}/{metric}"][0]) == stats[metric]
    assert page["points"] == 3 * len(savings["series"])


def _key_required(request: Request) -> None:
    if request.headers.get("authorization") != f"Bearer {API_KEY}":
        raise HTTPException(401, "API key needed")


@pytest.fixture(scope="module")
def ledger_site() -> Iterator[tuple[str, str]]:
    """A real SQLite ledger with traffic, its /v1/savings (key required) and the dashboard."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/ledger.db"
        ledger: Ledger = open_ledger(url)

        async def fill() -> None:
            now = time.time()
            for i in range(12):
                await ledger.append(
                    make_record(
                        request_id=f"req-{i}",
                        time=now - 600 + 50 * i,
                        profile=("direct", "cot", "think")[i % 3],
                        difficulty=("easy", "medium", "hard")[i % 3],
                        completion_tokens=150 + 90 * i,
                        saved_by={"routing": 80.5 * i, "early_exit": 40.0 * (i % 2)},
                        saved_tokens_estimate=80.5 * i + 40.0 * (i % 2),
                        early_exit={"tokens_at_exit": 500} if i % 4 == 0 else None,
                        latency_ms=20.0 + 13.0 * i,
                        feedback=(True, False, None)[i % 3],
                        key=("team-a", "team-b", "default", "team-a")[i % 4],
                        cost=0.001 * (i + 1),
                        saved_cost=0.0005 * i,
                    )
                )

        asyncio.run(fill())
        app = FastAPI()

        @app.get("/v1/savings", dependencies=[Depends(_key_required)])
        async def savings(bucket_seconds: int = 60) -> dict[str, Any]:
            return await ledger.savings(bucket_seconds=bucket_seconds)

        mount(app)
        with ServerThread(app) as server:
            yield server.url, url


def _artifact(tmp_path: Path, name: str) -> Path:
    # THINKGATE_TEST_ARTIFACTS keeps screenshots after the run (CI uploads that folder).
    folder = Path(os.environ.get("THINKGATE_TEST_ARTIFACTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def test_live_dashboard_shows_the_savings_numbers(
    ledger_site: tuple[str, str], tmp_path: Path
) -> None:
    base, _ = ledger_site

    async def scenario() -> dict[str, Any]:
        async with chromium_page() as page:
            # Without a key the page shows the key form (and no numbers) instead of failing.
            await page.open(f"{base}/dashboard", "document.getElementById('auth').hidden === false")
            assert await page.evaluate("document.body.dataset.loaded") is None
            await page.open(f"{base}/dashboard#key={API_KEY}", "document.body.dataset.loaded")
            await page.screenshot(_artifact(tmp_path, "dashboard.png"))
            return json.loads(await page.evaluate(_READ_PAGE))

    shown = asyncio.run(scenario())
    savings = httpx.get(f"{base}/v1/savings", headers={"authorization": f"Bearer {API_KEY}"}).json()
    _assert_page_matches(shown, savings)
    assert savings["requests"] == 12 and savings["feedback"]["labelled"] == 8
    assert {k: v["requests"] for k, v in savings["by_key"].items()} == {
        "default": 3,
        "team-a": 6,
        "team-b": 3,
    }
    assert _artifact(tmp_path, "dashboard.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


_READ_AXIS = """JSON.stringify({
  from: Number(document.querySelector('#chart-series svg').dataset.from),
  to: Number(document.querySelector('#chart-series svg').dataset.to),
  points: Array.from(
    document.querySelectorAll('#chart-series circle[data-series=completion_tokens]')
  ).map(e => [Number(e.dataset.t), Number(e.getAttribute('cx'))]),
  bucket: document.querySelector('[data-metric=bucket_seconds]').dataset.value,
  csv: window.thinkgateCSV()
})"""


def test_time_axis_window_picker_and_csv(ledger_site: tuple[str, str]) -> None:
    base, _ = ledger_site

    async def pick(page: DevTools, value: str) -> dict[str, Any]:
        await page.evaluate(
            "(() => { const s = document.getElementById('window'); s.value = '" + value + "';"
            " document.body.dataset.loaded = ''; s.dispatchEvent(new Event('change')); })()"
        )
        await page.open_wait("document.body.dataset.loaded === 'true'")
        return dict(json.loads(await page.evaluate(_READ_AXIS)))

    async def scenario() -> list[dict[str, Any]]:
        async with chromium_page() as page:
            await page.open(f"{base}/dashboard#key={API_KEY}", "document.body.dataset.loaded")
            return [await pick(page, "3600"), await pick(page, "604800")]

    hour, week = asyncio.run(scenario())
    headers = {"authorization": f"Bearer {API_KEY}"}
    for shown, bucket in ((hour, 60), (week, 3600)):
        assert shown["bucket"] == str(bucket)
        assert shown["to"] - shown["from"] == pytest.approx({60: 3600, 3600: 604800}[bucket], abs=5)
        # x is the bucket's time inside the window: cx = 64 + 820 * (t - from) / (to - from).
        for t, cx in shown["points"]:
            expected = 64 + 820 * (t - shown["from"]) / (shown["to"] - shown["from"])
            assert cx == pytest.approx(expected, abs=0.06)
        savings = httpx.get(f"{base}/v1/savings?bucket_seconds={bucket}", headers=headers).json()
        rows = [line.split(",") for line in shown["csv"].strip().splitlines()]
        columns = [
            "requests", "completion_tokens", "reference_estimate", "saved_estimate",
            "saved_routing", "saved_early_exit", "saved_sampling", "cost", "saved_cost",
        ]  # fmt: skip
        assert rows[0] == ["bucket_start_utc", *columns]
        totals = [float(v) for v in rows[-1][1:]]
        assert totals == pytest.approx([sum(b[c] for b in savings["series"]) for c in columns])
        assert totals[4] + totals[5] + totals[6] == pytest.approx(totals[3])  # by mechanism
        assert len(rows) - 2 == len(savings["series"]) == len(shown["points"])
    assert len(week["points"]) < len(hour["points"])  # hourly buckets hold the ten minutes


def test_report_file_shows_its_embedded_numbers(
    ledger_site: tuple[str, str], tmp_path: Path
) -> None:
    _, url = ledger_site

    async def read() -> dict[str, Any]:
        ledger = open_ledger(url)
        try:
            return await ledger.savings(bucket_seconds=120)
        finally:
            await ledger.close()

    savings = asyncio.run(read())
    report = tmp_path / "report.html"
    report.write_text(render_dashboard(savings, generated="test"), encoding="utf-8")

    async def scenario() -> dict[str, Any]:
        async with chromium_page() as page:
            await page.open(report.as_uri(), "document.body.dataset.loaded")
            await page.screenshot(_artifact(tmp_path, "report.png"))
            return json.loads(await page.evaluate(_READ_PAGE))

    _assert_page_matches(asyncio.run(scenario()), savings)


def test_gateway_dashboard_shows_its_savings(gateway: RunningGateway, tmp_path: Path) -> None:
    client = openai.OpenAI(base_url=gateway.base_url, api_key="unused", max_retries=0)
    request_ids: list[str] = []
    for prompt in PROMPTS:
        raw = client.chat.completions.with_raw_response.create(
            model="thinkgate/auto", messages=[{"role": "user", "content": prompt}]
        )
        request_ids.append(raw.headers["x-thinkgate-request-id"])
        stream = client.chat.completions.create(
            model="thinkgate/think",
            messages=[{"role": "user", "content": prompt}],
            stream=True,
        )
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    labelled = httpx.post(
        f"{gateway.url}/v1/feedback", json={"request_id": request_ids[0], "correct": True}
    )
    assert labelled.status_code == 200

    async def scenario() -> dict[str, Any]:
        async with chromium_page() as page:
            await page.open(f"{gateway.url}/dashboard", "document.body.dataset.loaded")
            await page.screenshot(_artifact(tmp_path, "gateway-dashboard.png"))
            return json.loads(await page.evaluate(_READ_PAGE))

    shown = asyncio.run(scenario())
    savings = httpx.get(f"{gateway.url}/v1/savings").json()
    _assert_page_matches(shown, savings)
    assert savings["requests"] >= 2 * len(PROMPTS)
    assert savings["feedback"]["labelled"] >= 1
    assert {"think"} <= set(savings["by_profile"])
