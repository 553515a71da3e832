"""A search against the replay upstream serving recorded samples and their reward scores
(qwen25-math-eval): it draws what the rule says, streams progress, and bills what it counted."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from difficulty.answers import extract_answer, stated_answer
from difficulty.datasets import load_dataset
from difficulty.outcomes import Outcome, Sample
from difficulty.tokens import count_tokens
from policies.decision import SamplingPlan
from policies.search import AdaptiveVote, Confidence, cluster_answers, sample_weight
from router.replay.server import ReplayUpstream
from tests.router.conftest import RunningGateway, base_config, replay_rows, wait_for

# logit P(correct | reward score), fitted on all 100 problems (policies.search.fit_confidence).
CALIBRATION = {"intercept": -0.0653, "slope": 1.2562, "curve": 0.1652, "base_logit": 2.329}


@pytest.fixture(scope="module")
def scored() -> list[Outcome]:
    return load_dataset("qwen25-math-eval")


@pytest.fixture(scope="module")
def upstream(scored: list[Outcome]) -> Iterator[ReplayUpstream]:
    with ReplayUpstream(replay_rows() + scored) as replay:
        yield replay


def _config(replay: ReplayUpstream, tmp_path: Path, **search: Any) -> dict[str, Any]:
    config = base_config(replay.base_url, f"sqlite:///{tmp_path / 'search.db'}")
    config["profiles"]["vote"] = {
        "model": "openai/math-cot-sampled",
        "api_base": replay.base_url,
        "predictor": "QwQ-32B",
        "search": {"max_samples": 8, "min_samples": 2, **search},
    }
    config["profiles"]["rm"] = {
        "model": "openai/reward-model",
        "api_base": replay.base_url,
        "verifier": {"kind": "pooling", **CALIBRATION},
    }
    return config


def _ask(gw: RunningGateway, prompt: str, **body: Any) -> httpx.Response:
    payload = {"model": "thinkgate/vote", "messages": [{"role": "user", "content": prompt}]}
    return httpx.post(f"{gw.url}/v1/chat/completions", json=payload | body, timeout=120)


def _record(gw: RunningGateway, request_id: str) -> Any:
    (found,) = [r for r in gw.records() if r.request_id == request_id]
    return found


def _predicted(row: Outcome, record: Any, verifier: bool) -> AdaptiveVote:
    """The rule replayed on the recorded samples in their recorded order, with the request's
    forecast: the calls a one-at-a-time search must make."""
    forecast = record.predictions["vote"]
    plan = SamplingPlan(8, 0.995, 2, forecast["p_correct"], forecast["tokens"])
    vote = AdaptiveVote(plan, settle_answerless=not verifier)
    judge = Confidence(**CALIBRATION) if verifier else None
    answers: list[str | None] = []
    for s in row.samples or ():
        text = s.text or ""
        answers.append(stated_answer(text))
        score = s.score if verifier else None
        weight = sample_weight(count_tokens(text), plan.typical_tokens, score, verifier=judge)
        if vote.add(cluster_answers(answers)[-1], weight, score, finished=True):
            break
    return vote


def _split(scored: list[Outcome]) -> Outcome:
    """The first problem whose first samples disagree (so the rule has work to do)."""
    return next(r for r in scored if len({s.answer for s in (r.samples or ())[:3]}) > 1)


@pytest.mark.parametrize("verifier", [False, True])
def test_a_search_makes_the_calls_the_rule_predicts_and_bills_them(
    upstream: ReplayUpstream,
    scored: list[Outcome],
    gateway_factory: Callable[..., RunningGateway],
    tmp_path: Path,
    verifier: bool,
) -> None:
    extra = {"verifier": "rm", "aggregate": "best_of_n"} if verifier else {}
    gw = gateway_factory(_config(upstream, tmp_path, wave=1, **extra))
    row = _split(scored)
    upstream.reset_samples()
    before = upstream.stats.requests
    reply = _ask(gw, row.prompt)
    assert reply.status_code == 200
    record = _record(gw, reply.headers["x-thinkgate-request-id"])
    vote = _predicted(row, record, verifier)
    drawn = vote.samples
    assert 2 < drawn <= 8
    assert upstream.stats.requests - before == drawn == int(reply.headers["x-thinkgate-samples"])
    texts = [s.text or "" for s in (row.samples or ())[:drawn]]
    billed = sum(count_tokens(t) for t in texts)
    assert reply.json()["usage"]["completion_tokens"] == record.completion_tokens == billed
    assert record.search["samples"] == drawn and record.search["cancelled"] == 0
    assert record.search["verifier_calls"] == (drawn if verifier else 0)
    spent = sum(count_tokens(row.prompt) + count_tokens(t) for t in texts) if verifier else 0
    assert record.search["verifier_tokens"] == spent
    answer = reply.json()["choices"][0]["message"]["content"]
    keys = cluster_answers([extract_answer(t) for t in texts])
    chosen = vote.answer("best_of_n" if verifier else "majority")
    assert extract_answer(answer) == extract_answer(texts[keys.index(chosen)])


def test_the_stream_shows_progress_then_the_answer(
    upstream: ReplayUpstream,
    scored: list[Outcome],
    gateway_factory: Callable[..., RunningGateway],
    tmp_path: Path,
) -> None:
    gw = gateway_factory(_config(upstream, tmp_path, wave=1))
    row = _split(scored)
    upstream.reset_samples()
    reply = _ask(gw, row.prompt, stream=True)
    lines = reply.text.splitlines()
    progress = [line for line in lines if line.startswith(": thinkgate search:")]
    first_data = next(i for i, line in enumerate(lines) if line.startswith("data:"))
    # One line per sample, all before the answer's first chunk; the last says it agreed.
    assert len(progress) >= 3 and lines.index(progress[-1]) < first_data
    assert progress[0].startswith(": thinkgate search: 1 sample, 1 agree")
    assert lines[-2] == "data: [DONE]" or lines[-1] == "data: [DONE]"


def test_a_sample_still_running_when_the_vote_stops_is_cancelled_and_not_billed(
    upstream: ReplayUpstream,
    scored: list[Outcome],
    gateway_factory: Callable[..., RunningGateway],
    tmp_path: Path,
) -> None:
    # Samples far shorter than typical weigh 3 votes, so the first one to finish can end the
    # search (min 1); the rule asked for two at once, and the other one hangs.
    config = _config(upstream, tmp_path, min_samples=1, wave=2, typical_tokens=100000)
    gw = gateway_factory(config)
    row = next(r for r in scored if len({s.answer for s in r.samples or ()}) == 1)
    upstream.reset_samples()
    before = upstream.stats.disconnects
    upstream.schedule_fault("timeout")
    reply = _ask(gw, row.prompt)
    assert reply.status_code == 200
    record = _record(gw, reply.headers["x-thinkgate-request-id"])
    assert record.search["samples"] == 1 and record.search["cancelled"] == 1
    lengths = {count_tokens(s.text or "") for s in (row.samples or ())[:2]}
    assert record.completion_tokens == reply.json()["usage"]["completion_tokens"] in lengths
    assert wait_for(lambda: upstream.stats.disconnects == before + 1)


def test_n_choices_come_from_at_least_n_samples(
    upstream: ReplayUpstream,
    scored: list[Outcome],
    gateway_factory: Callable[..., RunningGateway],
    tmp_path: Path,
) -> None:
    gw = gateway_factory(_config(upstream, tmp_path))
    row = _split(scored)
    upstream.reset_samples()
    reply = _ask(gw, row.prompt, n=3)
    assert [c["index"] for c in reply.json()["choices"]] == [0, 1, 2]
    assert int(reply.headers["x-thinkgate-samples"]) >= 3
    too_many = _ask(gw, row.prompt, n=9)
    assert too_many.status_code == 400 and too_many.json()["error"]["param"] == "n"


# Free-form samples: no sample states an answer, so there is nothing to vote on.
POEMS = (
    "Rain taps the window,\nthe kettle hums along.",
    "Grey clouds drift slowly;\nthe street shines after rain.",
    "Soft rain on the roof,\na cat asleep by the door.",
    "Puddles hold the sky;\nwe walk home with wet shoes.",
)


def test_a_search_over_free_form_answers_stops_at_its_minimum(
    gateway_factory: Callable[..., RunningGateway], tmp_path: Path
) -> None:
    prompt = "Write a two-line poem about rain."
    samples = tuple(Sample(None, count_tokens(t), text=t) for t in POEMS)
    row = Outcome("free-form-0", prompt, "math-cot-sampled", None, None, samples=samples)
    with ReplayUpstream([*replay_rows(), row]) as replay:
        gw = gateway_factory(_config(replay, tmp_path, wave=1))
        before = replay.stats.requests
        reply = _ask(gw, prompt)
        assert reply.status_code == 200, reply.text
        # The rule alone would draw all 8: two answerless samples never reach its threshold.
        assert replay.stats.requests - before == 2 == int(reply.headers["x-thinkgate-samples"])
        assert reply.json()["choices"][0]["message"]["content"] == POEMS[0]
        billed = sum(count_tokens(t) for t in POEMS[:2])
        assert reply.json()["usage"]["completion_tokens"] == billed
