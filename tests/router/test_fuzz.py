"""Fuzzing the live gateway: schemathesis over /openapi.json (its CLI, so its own pytest plugin
stays out of ours), and hypothesis-made JSON bodies on every JSON endpoint. No input may get a
5xx. Bounded: schemathesis has a 25 s budget and the rest ~60 requests, on the session's gateway
(admin endpoints disabled there; tests/router/test_bad_input.py covers the admin policy), so the
module stays under a minute in CI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.router.conftest import EASY, RunningGateway

FUZZ = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


def test_schemathesis_finds_no_5xx(gateway: RunningGateway, tmp_path: Path) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    run = subprocess.run(
        [cli, "run", f"{gateway.url}/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", "20", "--max-time", "25", "--request-timeout", "30", "--seed", "16",
         "--no-color",
         "--report-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    summary = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert summary is not None and int(summary.group(1)) > 100, run.stdout[-2000:]


# Any character, lone surrogates and NUL included (json.dumps escapes them as \\uXXXX).
TEXT = st.text(st.characters(codec=None, categories=None), max_size=40)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=16,
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "tool", "x"]), "content": JSON | TEXT}
)
CHAT = st.fixed_dictionaries(
    {"model": st.sampled_from(["thinkgate/auto", "thinkgate/direct", "qwq", "nope"]) | TEXT,
     "messages": st.lists(MESSAGE, max_size=3) | JSON},
    optional={"stream": JSON, "n": JSON, "max_tokens": JSON, "temperature": JSON,
              "stream_options": JSON, "stop": JSON, "extra": JSON},
)  # fmt: skip
ENDPOINTS = {
    "/v1/chat/completions": CHAT | JSON,
    "/v1/route": st.fixed_dictionaries(
        {}, optional={"prompt": TEXT | JSON, "model": TEXT, "messages": JSON}
    )
    | JSON,  # fmt: skip
    "/v1/feedback": st.fixed_dictionaries({}, optional={"request_id": TEXT | JSON, "correct": JSON})
    | JSON,  # fmt: skip
}


@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_arbitrary_json_bodies_never_get_a_5xx(gateway: RunningGateway, path: str) -> None:
    with httpx.Client(base_url=gateway.url, timeout=30) as client:

        @given(body=ENDPOINTS[path])
        @FUZZ
        def post(body: Any) -> None:
            data = json.dumps(body).encode()
            response = client.post(path, content=data, headers={"content-type": "application/json"})
            assert response.status_code < 500, (data[:300], response.text[:300])

        post()


@given(noise=st.binary(max_size=200))
@FUZZ
def test_arbitrary_bytes_never_get_a_5xx(gateway: RunningGateway, noise: bytes) -> None:
    response = httpx.post(f"{gateway.url}/v1/chat/completions", content=noise, timeout=30)
    assert response.status_code < 500, (noise, response.text[:300])


def test_a_valid_request_still_works_after_the_fuzzing(gateway: RunningGateway) -> None:
    body = {"model": "thinkgate/direct", "messages": [{"role": "user", "content": EASY}]}
    response = httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 200 and "72" in response.text
