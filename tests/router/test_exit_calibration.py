"""Early exit calibrated live: cold start runs streams whole as shadows, their records land in
the ledger store, a certified threshold then cuts streams, and /v1/savings shows the book."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from difficulty.outcomes import Outcome
from policies.convergence import CalibrationSettings
from router.calibrator import ExitCalibrator
from router.ledger import open_ledger
from router.replay.server import ReplayUpstream
from tests.router.conftest import RunningGateway, base_config, start_gateway
from tests.router.test_early_exit import _OPENING, QUESTION, RESPONSE

# A stream that settles the way the learned rule recognises: checked, confirmed, restated.
REASONING = (
    _OPENING
    + (
        "Let me double-check: 12 times 15 is 180, minus 108 is 72. Yes, that checks out. "
        "So the answer is 72.\n\n"
    )
    * 30
)

# A loose guarantee so that three shadow streams certify a threshold: the first look spends
# half the miss probability, ceil(log .25 / log .6) = 3.
CALIBRATION = {"max_changed_answers": 0.4, "miss_probability": 0.5, "shadow_share": 0.0}


@pytest.fixture(scope="module")
def paced() -> Iterator[ReplayUpstream]:
    row = Outcome(
        "cookies", QUESTION, "QwQ-32B", True, 1200, reasoning=REASONING, response=RESPONSE
    )
    with ReplayUpstream([row], tokens_per_second=2000) as upstream:
        yield upstream


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('cal') / 'ledger.db'}"


@pytest.fixture(scope="module")
def gw(paced: ReplayUpstream, ledger_url: str) -> Iterator[RunningGateway]:
    config = base_config(paced.base_url, ledger_url)
    config["profiles"]["think"]["convergence"] = {"enabled": True, "calibration": CALIBRATION}
    gateway = start_gateway(config)
    yield gateway
    gateway.server.stop()


def _ask(gw: RunningGateway) -> dict[str, Any]:
    body = {"model": "thinkgate/think", "messages": [{"role": "user", "content": QUESTION}]}
    response = httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=60)
    assert response.status_code == 200
    return response.json()


def _calibration(gw: RunningGateway) -> list[dict[str, Any]]:
    body = httpx.get(f"{gw.base_url}/savings", timeout=10).json()
    return body["early_exit_calibration"]


def test_cold_start_shadows_then_certified_exits(gw: RunningGateway, ledger_url: str) -> None:
    assert _calibration(gw) == []
    for _ in range(3):  # cold: nothing is cut, every stream is a shadow record
        reply = _ask(gw)
        assert reply["thinkgate"].get("early_exit") is None
        assert len(reply["choices"][0]["message"]["reasoning_content"]) == len(REASONING)
    row = _calibration(gw)[0]
    assert (row["model"], row["family"], row["sample_size"]) == ("QwQ-32B", "default/history", 3)
    assert row["streams_needed"] == 3 and row["threshold"] is not None
    assert row["changed_rate"] == 0.0 and 0 < row["changed_rate_bound"] < 1
    assert row["shadow_tokens"] > 0 and row["shadow_tokens_forgone"] == 0
    reply = _ask(gw)  # certified, shadow share 0: this one is cut on the certified threshold
    assert reply["thinkgate"]["early_exit"]["answer"] == "72"
    assert len(reply["choices"][0]["message"]["reasoning_content"]) < len(REASONING)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_new_replica_reads_the_book_from_the_store(ledger_url: str) -> None:
    # Runs after the test above (module order): the store holds its three shadow records.
    ledger = open_ledger(ledger_url)
    try:
        records = await ledger.shadow_records()  # type: ignore[attr-defined]
        assert len(records) == 3 and all(r["final"] == "72" for r in records)
        calibrator = ExitCalibrator(ledger)
        book = calibrator.book(CalibrationSettings.from_config(CALIBRATION))
        await calibrator.refresh(force=True)
        assert book.certified("QwQ-32B", "default/history")
        assert calibrator.summary()[0]["sample_size"] == 3
    finally:
        await ledger.close()
