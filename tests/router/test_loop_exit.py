"""A stream going round in circles is stopped through the gateway and abstained, as configured."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from difficulty.outcomes import Outcome
from policies.convergence import ABSTAIN_TEXT
from router.replay.server import ReplayUpstream
from tests.router.conftest import RunningGateway, base_config, start_gateway

QUESTION = "A basket holds some apples and Tom takes 3. How many apples are left?"
CIRCLE = (
    "The question does not say how many apples were in the basket at the start. "
    "Without that number the count left cannot be computed from what is given. "
    "Maybe the starting count was meant to be in the problem statement somewhere. "
)
REASONING = "Okay, let me read the question carefully and list what it gives. " * 3 + CIRCLE * 60


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    row = Outcome("mip", QUESTION, "QwQ-32B", False, 3000, reasoning=REASONING, response="3")
    with ReplayUpstream([row], tokens_per_second=4000) as upstream:
        ledger = f"sqlite:///{tmp_path_factory.mktemp('loop') / 'ledger.db'}"
        config = base_config(upstream.base_url, ledger)
        config["profiles"]["think"]["convergence"] = {
            "enabled": True,
            "calibration": False,
            "loop_action": "abstain",
            "loop_window": 10,
            "loop_min_tokens": 200,
        }
        gateway = start_gateway(config)
        yield gateway
        gateway.server.stop()


def test_a_looping_stream_is_cut_and_abstained(gw: RunningGateway) -> None:
    body = {"model": "thinkgate/think", "messages": [{"role": "user", "content": QUESTION}]}
    reply = httpx.post(f"{gw.base_url}/chat/completions", json=body, timeout=60).json()
    message = reply["choices"][0]["message"]
    assert message["content"] == ABSTAIN_TEXT
    assert len(message["reasoning_content"]) < len(REASONING) / 2
    exit_ = reply["thinkgate"]["early_exit"]
    assert exit_["answer_from"] == "abstain"
