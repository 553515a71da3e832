"""Routing on the shipped model: a model name resolved once, a search plan from its profile."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from difficulty.errors import InvalidInputError
from difficulty.model import DEFAULT_MODEL_DIR, DifficultyModel
from policies.decision import SamplingPlan
from router.errors import ModelNotFoundError
from router.pipeline import Pipeline, request_mode
from router.settings import settings_from_mapping
from tests.router.conftest import EASY, base_config


@pytest.fixture(scope="module")
def pipeline() -> Any:
    config = base_config("http://127.0.0.1:9/v1", "sqlite:///unused.db")
    config["profiles"]["vote"] = {
        "model": "openai/Qwen2.5-32B-vote",
        "api_base": "http://127.0.0.1:9/v1",
        "predictor": "Qwen2.5-32B",
        "search": {"max_samples": 6, "min_samples": 3, "threshold": 0.8},
    }
    pipeline = Pipeline(settings_from_mapping(config), DifficultyModel.load(DEFAULT_MODEL_DIR))
    yield pipeline
    pipeline.close()


@pytest.mark.parametrize(
    ("model", "mode"),
    [("thinkgate/auto", "auto"), ("thinkgate/auto?target=accurate", "auto"),
     ("thinkgate/think", "forced"), ("thinkgate/autonomous", "forced"),
     ("gpt-4o", "passthrough")],
)  # fmt: skip
def test_request_mode(model: str, mode: str) -> None:
    assert request_mode(model) == mode


def test_model_names_resolve_to_a_profile_or_a_policy(pipeline: Any) -> None:
    auto = pipeline.resolve("thinkgate/auto")
    assert (auto.mode, auto.profile, auto.policy.kind) == ("auto", None, "target")
    target = pipeline.resolve("thinkgate/auto?target=accurate")
    assert (target.profile, target.policy.kind, target.policy.profile) == (None, "fixed", "think")
    assert pipeline.resolve("thinkgate/think").profile == "think"
    alias = pipeline.resolve("qwq")
    assert (alias.mode, alias.profile) == ("passthrough", "think")
    assert pipeline.resolve("QwQ-32B").profile == "think"  # the upstream name is an alias
    for unknown in ("thinkgate/nope", "gpt-4o", "thinkgate/QwQ-32B"):
        with pytest.raises(ModelNotFoundError):
            pipeline.resolve(unknown)
    for bad in ("thinkgate/auto?target=nope", "thinkgate/auto?mood=calm"):
        with pytest.raises(InvalidInputError):
            pipeline.resolve(bad)


def test_n_above_one_needs_a_named_profile(pipeline: Any) -> None:
    with pytest.raises(InvalidInputError, match="n > 1"):
        asyncio.run(pipeline.route("thinkgate/auto", EASY, n=2))
    routing = asyncio.run(pipeline.route("thinkgate/direct", EASY, n=2))
    assert routing.forced and routing.profile == "direct"


def test_a_search_profile_samples_by_its_own_plan(pipeline: Any) -> None:
    routing = asyncio.run(pipeline.route("thinkgate/vote", EASY))
    forecast = routing.predictions["vote"]
    # The forecast is the vote's prior and, with no typical length configured, a sample's.
    expected = SamplingPlan(6, 0.8, 3, forecast.p_correct, forecast.tokens)
    assert routing.decision.sampling == expected and forecast.tokens
    assert routing.decision.reason == "forced by the caller: thinkgate/vote"
    auto = asyncio.run(pipeline.route("thinkgate/auto?target=accurate", EASY))
    assert auto.profile == "think" and auto.decision.sampling is None
    passed = asyncio.run(pipeline.route("qwq", EASY))
    assert passed.decision.reason == "upstream model name passed through: qwq"
