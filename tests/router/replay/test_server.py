"""The replay upstream as a real HTTP server, driven with the official `openai` client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from difficulty.outcomes import Outcome
from difficulty.tokens import count_tokens
from router.replay.catalog import NoReplayableOutcomesError, UnknownModelError, split_pieces
from router.replay.server import ReplayUpstream, create_replay_app
from router.replay.stream import Pace
from tests.router.conftest import wait_for

PROMPT = "James runs 3 sprints 3 times a week.  He runs 60 meters each sprint. How far a week?"
REASONING = (
    "Okay, so James runs 3 sprints each time, 3 times a week, that is 9 sprints. "
    "Each sprint is 60 meters, so 9 times 60 is 540. Wait, let me check: 3 times 3 is 9, "
    "and 9 times 60 is 540. Yes, 540 meters."
)
RESPONSE = "He runs 9 sprints of 60 meters, so the answer is \\boxed{540}."
DIRECT = "3 x 3 x 60 = 540. The answer is 540."
LONG = "step " * 600

ROWS = [
    Outcome(
        "gsm-1", PROMPT, "QwQ-32B", True, 99, "gsm8k", "540", reasoning=REASONING, response=RESPONSE
    ),
    Outcome("gsm-1", PROMPT, "Qwen2.5-32B", True, 20, "gsm8k", "540", response=DIRECT),
    Outcome("long-1", "Count slowly.", "QwQ-32B", None, 600, reasoning=LONG, response="Done."),
    Outcome("no-text", "Unrecorded text.", "o1", True, 500),
]


def _client(up: ReplayUpstream, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=up.base_url, api_key="unused", max_retries=0, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def upstream() -> Iterator[ReplayUpstream]:
    with ReplayUpstream(ROWS, aliases={"think": "QwQ-32B", "direct": "Qwen2.5-32B"}) as up:
        yield up


@pytest.fixture(scope="module")
def slow_upstream() -> Iterator[ReplayUpstream]:
    with ReplayUpstream(ROWS, tokens_per_second=400.0) as up:
        yield up


def test_non_streamed_chat_returns_reasoning_response_and_counted_usage(
    upstream: ReplayUpstream,
) -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": PROMPT},
    ]
    reply = _client(upstream).chat.completions.create(model="QwQ-32B", messages=messages)  # type: ignore[arg-type]
    message = reply.choices[0].message
    assert message.content == RESPONSE
    assert message.reasoning_content == REASONING  # type: ignore[attr-defined]
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == count_tokens("Be brief.") + count_tokens(PROMPT)
    assert reply.usage.completion_tokens == count_tokens(REASONING) + count_tokens(RESPONSE)
    assert reply.usage.completion_tokens_details is not None
    assert reply.usage.completion_tokens_details.reasoning_tokens == count_tokens(REASONING)


def test_streamed_chat_sends_reasoning_then_content_and_usage_last(
    upstream: ReplayUpstream,
) -> None:
    stream = _client(upstream).chat.completions.create(
        model="QwQ-32B",
        messages=[{"role": "user", "content": PROMPT}],
        stream=True,
        stream_options={"include_usage": True},
    )
    kinds: list[str] = []
    reasoning, content, finish, usage = "", "", None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            piece = getattr(choice.delta, "reasoning_content", None)
            if piece:
                reasoning += piece
                kinds.append("r")
            if choice.delta.content:
                content += choice.delta.content
                kinds.append("c")
            finish = choice.finish_reason or finish
    assert reasoning == REASONING
    assert content == RESPONSE
    assert kinds == sorted(kinds, reverse=True)  # every reasoning delta precedes the content
    assert kinds.count("r") > 10  # streamed in pieces, not in one block
    assert finish == "stop"
    assert usage is not None
    assert usage.completion_tokens == count_tokens(REASONING) + count_tokens(RESPONSE)


def test_usage_only_when_asked_for_in_a_stream(upstream: ReplayUpstream) -> None:
    stream = _client(upstream).chat.completions.create(
        model="Qwen2.5-32B", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    chunks = list(stream)
    assert all(c.usage is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == DIRECT


def test_prompt_whitespace_aliases_and_provider_prefix_select_the_recording(
    upstream: ReplayUpstream,
) -> None:
    client = _client(upstream)
    loose = "  " + PROMPT.replace(" ", "\n ") + "\n"
    for model in ("think", "openai/QwQ-32B", "qwq-32b"):
        reply = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": loose}]
        )
        assert reply.choices[0].message.content == RESPONSE
    parts = [{"type": "text", "text": PROMPT}]
    reply = client.chat.completions.create(
        model="direct",
        messages=[{"role": "user", "content": parts}],  # type: ignore[list-item,misc]
    )
    assert reply.choices[0].message.content == DIRECT


def test_unknown_prompt_and_model_are_openai_404s(upstream: ReplayUpstream) -> None:
    client = _client(upstream)
    before = upstream.stats.not_found
    with pytest.raises(openai.NotFoundError) as prompt_error:
        client.chat.completions.create(
            model="QwQ-32B", messages=[{"role": "user", "content": "What is 2+2?"}]
        )
    assert prompt_error.value.code == "prompt_not_found"
    assert "What is 2+2?" in prompt_error.value.message
    with pytest.raises(openai.NotFoundError) as model_error:
        client.chat.completions.create(
            model="gpt-9", messages=[{"role": "user", "content": PROMPT}]
        )
    assert model_error.value.code == "model_not_found"
    assert "QwQ-32B" in model_error.value.message  # names what is available
    assert upstream.stats.not_found == before + 2


def test_rows_without_text_are_not_served_and_models_are_listed(
    upstream: ReplayUpstream,
) -> None:
    ids = {m.id for m in _client(upstream).models.list()}
    assert ids == {"QwQ-32B", "Qwen2.5-32B", "think", "direct"}


def test_bad_input_is_a_400_with_an_openai_error_body(upstream: ReplayUpstream) -> None:
    url = f"{upstream.base_url}/chat/completions"
    bad_json = httpx.post(url, content=b"{nope", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["type"] == "invalid_request_error"
    no_messages = httpx.post(url, json={"model": "QwQ-32B", "messages": []})
    assert no_messages.status_code == 400
    assert no_messages.json()["error"]["param"] == "messages"


def test_max_tokens_cuts_the_replay_with_finish_length(upstream: ReplayUpstream) -> None:
    reply = _client(upstream).chat.completions.create(
        model="QwQ-32B", messages=[{"role": "user", "content": PROMPT}], max_tokens=12
    )
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert 0 < reply.usage.completion_tokens <= 12
    assert REASONING.startswith(reply.choices[0].message.reasoning_content or "")  # type: ignore[attr-defined]
    assert reply.choices[0].message.content == ""


def test_assistant_prefill_continuation_returns_only_the_recorded_answer(
    upstream: ReplayUpstream,
) -> None:
    reply = _client(upstream).chat.completions.create(
        model="QwQ-32B",
        messages=[
            {"role": "user", "content": PROMPT},
            {"role": "assistant", "content": "<think>\n9 sprints of 60 is 540.\n</think>\n\n"},
        ],
    )
    assert reply.choices[0].message.content == RESPONSE
    assert getattr(reply.choices[0].message, "reasoning_content", None) is None


def test_text_completions_continue_after_the_given_reasoning(upstream: ReplayUpstream) -> None:
    client = _client(upstream)
    template = f"<|im_start|>user\n{PROMPT}<|im_end|>\n<|im_start|>assistant\n<think>\n"
    full = client.completions.create(model="QwQ-32B", prompt=template)
    assert full.choices[0].text == f"{REASONING}\n</think>\n\n{RESPONSE}"
    assert full.usage is not None
    assert full.usage.prompt_tokens == count_tokens(template)
    prefix = REASONING[:100]
    rest = client.completions.create(model="QwQ-32B", prompt=template + prefix)
    assert rest.choices[0].text == f"{REASONING[100:]}\n</think>\n\n{RESPONSE}"
    closed = client.completions.create(model="QwQ-32B", prompt=template + prefix + "\n</think>\n")
    assert closed.choices[0].text == RESPONSE
    streamed = client.completions.create(model="QwQ-32B", prompt=template + prefix, stream=True)
    assert "".join(c.choices[0].text for c in streamed if c.choices) == rest.choices[0].text


def test_deltas_are_due_at_the_token_rate() -> None:
    # The stream sleeps until each delta's due time; how long that takes is bench/'s business.
    assert Pace(400.0).duration(800) == 2.0
    assert Pace(100.0, first_token_delay=0.5).duration(50) == 1.0
    assert Pace(None, first_token_delay=0.25).duration(10_000) == 0.25  # unpaced


def test_a_paced_stream_relays_the_whole_recording(slow_upstream: ReplayUpstream) -> None:
    stream = _client(slow_upstream).chat.completions.create(
        model="QwQ-32B", messages=[{"role": "user", "content": PROMPT}], stream=True
    )
    chunks = [c for c in stream if c.choices]
    reasoning = "".join(
        getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert (reasoning, content) == (REASONING, RESPONSE)
    pieces = len(split_pieces(REASONING, 1)) + len(split_pieces(RESPONSE, 1))
    assert len(chunks) == pieces + 2  # the role, one delta per piece, the stop


def test_upstream_sees_a_client_that_disconnects_mid_stream(
    slow_upstream: ReplayUpstream,
) -> None:
    stats = slow_upstream.stats
    # The previous test's stream may still be closing on the server's thread: its `completed`
    # lands after the client saw [DONE]. Read the counters once nothing is in flight.
    assert wait_for(lambda: stats.active == 0, step=0.02)
    before, completed = stats.disconnects, stats.completed
    with httpx.stream(
        "POST",
        f"{slow_upstream.base_url}/chat/completions",
        json={
            "model": "QwQ-32B",
            "stream": True,
            "messages": [{"role": "user", "content": "Count slowly."}],
        },
    ) as response:
        lines = response.iter_lines()
        received = [next(lines) for _ in range(6)]
    assert any("reasoning_content" in line for line in received)
    assert wait_for(lambda: stats.disconnects == before + 1 and stats.active == 0, step=0.02)
    assert stats.completed == completed  # 600 tokens at 400/s were not all sent


def test_upstream_sees_a_non_streaming_client_that_gives_up(
    slow_upstream: ReplayUpstream,
) -> None:
    stats = slow_upstream.stats
    before = stats.disconnects
    client = _client(slow_upstream, timeout=0.3)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(
            model="QwQ-32B", messages=[{"role": "user", "content": "Count slowly."}]
        )
    assert wait_for(lambda: stats.disconnects == before + 1 and stats.active == 0, step=0.02)


def test_fault_header_returns_the_injected_status(upstream: ReplayUpstream) -> None:
    client = _client(upstream)
    with pytest.raises(openai.InternalServerError) as error:
        client.chat.completions.create(
            model="QwQ-32B",
            messages=[{"role": "user", "content": PROMPT}],
            extra_headers={"x-replay-fault": "503"},
        )
    assert error.value.status_code == 503
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(
            model="QwQ-32B",
            messages=[{"role": "user", "content": PROMPT}],
            extra_headers={"x-replay-fault": "429"},
        )
    bad = httpx.post(
        f"{upstream.base_url}/chat/completions",
        json={"model": "QwQ-32B", "messages": [{"role": "user", "content": PROMPT}]},
        headers={"x-replay-fault": "explode"},
    )
    assert bad.status_code == 400


def test_break_fault_drops_the_stream_mid_body(upstream: ReplayUpstream) -> None:
    before = upstream.stats.broken
    received: list[str] = []
    with (
        pytest.raises((httpx.RemoteProtocolError, openai.APIError)),
        httpx.stream(
            "POST",
            f"{upstream.base_url}/chat/completions",
            json={
                "model": "QwQ-32B",
                "stream": True,
                "messages": [{"role": "user", "content": PROMPT}],
            },
            headers={"x-replay-fault": "break-after=3"},
        ) as response,
    ):
        for line in response.iter_lines():
            received.append(line)
    assert not any("[DONE]" in line for line in received)
    assert sum("reasoning_content" in line for line in received) == 3
    assert upstream.stats.broken == before + 1


def test_scheduled_faults_hit_the_next_requests_only(upstream: ReplayUpstream) -> None:
    client = _client(upstream)
    scheduled = httpx.post(f"{upstream.url}/replay/faults", json={"fault": "500", "count": 2})
    assert scheduled.json() == {"scheduled": 2}
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(
                model="QwQ-32B", messages=[{"role": "user", "content": PROMPT}]
            )
    reply = client.chat.completions.create(
        model="QwQ-32B", messages=[{"role": "user", "content": PROMPT}]
    )
    assert reply.choices[0].message.content == RESPONSE


def test_timeout_fault_hangs_until_the_client_gives_up(upstream: ReplayUpstream) -> None:
    stats = upstream.stats
    before = stats.disconnects
    upstream.schedule_fault("timeout")
    with pytest.raises(openai.APITimeoutError):
        _client(upstream, timeout=0.3).chat.completions.create(
            model="QwQ-32B", messages=[{"role": "user", "content": PROMPT}]
        )
    assert wait_for(lambda: stats.disconnects == before + 1, step=0.02)


def test_stats_endpoint_reports_the_counters(upstream: ReplayUpstream) -> None:
    stats = httpx.get(f"{upstream.url}/replay/stats").json()
    assert stats["requests"] >= stats["completed"] > 0
    assert stats["by_model"]["QwQ-32B"] > 0
    assert stats["active"] == 0


def test_catalog_rejects_tables_without_text_and_bad_aliases() -> None:
    with pytest.raises(NoReplayableOutcomesError):
        create_replay_app([ROWS[3]])
    with pytest.raises(UnknownModelError):
        create_replay_app(ROWS, aliases={"think": "missing-model"})


def test_n_copies_the_recording_and_bad_n_is_refused(upstream: ReplayUpstream) -> None:
    reply = _client(upstream).chat.completions.create(
        model="Qwen2.5-32B", messages=[{"role": "user", "content": PROMPT}], n=2
    )
    assert [c.message.content for c in reply.choices] == [DIRECT, DIRECT]
    active = upstream.stats.active
    bad = httpx.post(
        f"{upstream.base_url}/chat/completions",
        json={"model": "QwQ-32B", "n": 0, "messages": [{"role": "user", "content": PROMPT}]},
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "n"
    assert upstream.stats.active == active
