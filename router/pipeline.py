"""Routing one request: score the prompt with the difficulty model, then decide its profile.

The decision itself is `policies.routing`'s; the pipeline resolves the requested model name,
scores on the loaded model and hands the policy its inputs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from difficulty.errors import InvalidInputError
from policies.decision import Decision, SamplingPlan
from policies.profiles import ProfileCost
from policies.routing import PolicyConfig, PredictionLike, decide
from router.errors import ModelNotFoundError
from router.scoring import Predictor, Scorer
from router.settings import PolicySettings, ProfileSettings, Settings

__all__ = [
    "AUTO_MODEL",
    "MODEL_PREFIX",
    "Routing",
    "Pipeline",
    "new_request_id",
]

# The difficulty level shown to people, from the predictions (difficulty.level.difficulty_level).
LevelFunction = Callable[[Mapping[str, Any]], str]

MODEL_PREFIX = "thinkgate/"
AUTO_MODEL = "thinkgate/auto"


def new_request_id() -> str:
    """A fresh request id."""
    return uuid.uuid4().hex


@dataclass
class Routing:
    """What the gateway decided for one request, and on what predictions."""

    request_id: str
    model: str
    profile: str
    decision: Decision
    predictions: dict[str, PredictionLike]  # keyed by gateway profile
    difficulty: str | None
    forced: bool
    decision_ms: float = 0.0

    def facts(self) -> dict[str, Any]:
        """The `thinkgate` field of a response body."""
        return {
            "request_id": self.request_id,
            "profile": self.profile,
            "difficulty": self.difficulty,
            "reason": self.decision.reason,
            "forced": self.forced,
        }

    def headers(self) -> dict[str, str]:
        """The x-thinkgate-* response headers."""
        return {
            "x-thinkgate-profile": self.profile,
            "x-thinkgate-difficulty": self.difficulty or "unknown",
            "x-thinkgate-request-id": self.request_id,
        }


def _policy_config(p: PolicySettings) -> PolicyConfig:
    return PolicyConfig(
        kind=p.kind,
        lam=p.lam,
        epsilon=p.epsilon,
        profile=p.profile,
        cost_unit=p.cost_unit,
        threshold=p.threshold,
    )


def profile_cost(name: str, profile: ProfileSettings) -> ProfileCost:
    """The policy's view of a profile: prices and limits."""
    return ProfileCost(
        name=name,
        price_in=profile.price_in,
        price_out=profile.price_out,
        default_tokens=profile.default_tokens,
        max_tokens=profile.max_tokens,
        max_samples=profile.search.max_samples if profile.search else 1,
    )


class Pipeline:
    """Scores prompts and decides their profiles, on the loaded difficulty model."""

    def __init__(
        self,
        settings: Settings,
        predictor: Predictor,
        *,
        level: LevelFunction | None = None,
    ) -> None:
        self.settings = settings
        self.predictor = predictor
        self.policy = _policy_config(settings.policy)
        self.targets = {k: _policy_config(v) for k, v in settings.targets.items()}
        self.costs = {n: profile_cost(n, p) for n, p in settings.profiles.items()}
        self._level = level
        self._aliases: dict[str, str] = {}
        for name, profile in settings.profiles.items():
            for alias in [profile.upstream_name, *profile.aliases]:
                self._aliases.setdefault(alias, name)
        self._scorer = Scorer(predictor)

    def close(self) -> None:
        """Release the scoring threads."""
        self._scorer.close()

    def set_policy(self, policy: PolicySettings) -> None:
        """Replace the default policy (admin)."""
        self.settings.policy = policy
        self.policy = _policy_config(policy)

    # -- scoring ----------------------------------------------------------------------------

    async def score(self, prompt: str) -> dict[str, PredictionLike]:
        """Per gateway profile predictions (profiles without a predictor are left out)."""
        raw = await self._scorer.score(prompt)
        out: dict[str, PredictionLike] = {}
        for name, profile in self.settings.profiles.items():
            if profile.predictor and profile.predictor in raw:
                out[name] = raw[profile.predictor]
        return out

    def difficulty(self, predictions: Mapping[str, PredictionLike]) -> str | None:
        """The human difficulty level for these predictions, when a level function is set."""
        if self._level is None or not predictions:
            return None
        return str(self._level(predictions))

    # -- deciding ---------------------------------------------------------------------------

    def _resolve(self, model: str) -> tuple[str | None, PolicyConfig, bool]:
        """(forced profile or None, policy, passthrough) for a requested model name."""
        if model == AUTO_MODEL or model.startswith(AUTO_MODEL + "?"):
            _, _, query = model.partition("?")
            if not query:
                return None, self.policy, False
            key, _, value = query.partition("=")
            if key != "target" or not value:
                raise InvalidInputError(
                    f"model {model!r}: use thinkgate/auto?target=NAME", param="model"
                )
            if value not in self.targets:
                known = ", ".join(sorted(self.targets)) or "none configured"
                raise InvalidInputError(
                    f"unknown target {value!r} (targets: {known})", param="model"
                )
            return None, self.targets[value], False
        if model.startswith(MODEL_PREFIX):
            name = model[len(MODEL_PREFIX) :]
            if name in self.settings.profiles:
                return name, self.policy, False
        elif model in self._aliases:
            return self._aliases[model], self.policy, True
        raise ModelNotFoundError(
            f"the model {model!r} does not exist; use {AUTO_MODEL}, thinkgate/<profile> "
            f"or an upstream model name",
            param="model",
        )

    def check_model(self, model: str, n: int | None) -> None:
        """Refuse unknown models and n > 1 with automatic routing, before any scoring."""
        forced, _, _ = self._resolve(model)
        if forced is None and n is not None and n > 1:
            raise InvalidInputError("n > 1 is not supported with thinkgate/auto", param="n")

    async def route(self, model: str, prompt: str, *, n: int | None = None) -> Routing:
        """Score the prompt and pick the profile for `model`."""
        t0 = time.perf_counter()
        self.check_model(model, n)
        forced, policy, passthrough = self._resolve(model)
        predictions = await self.score(prompt)
        if forced is not None:
            how = "upstream model name passed through" if passthrough else "forced by the caller"
            profile = self.settings.profiles[forced]
            pred = predictions.get(forced)
            decision = Decision(
                profile=forced,
                budget=profile.max_tokens,
                sampling=None,
                reason=f"{how}: {model}",
                p_correct=pred.p_correct if pred else None,
                tokens=pred.tokens if pred else None,
            )
        else:
            if not predictions:
                raise InvalidInputError("no profile has a predictor to route with", param="model")
            decision = decide(
                policy, predictions, self.costs, reference=self.settings.reference_profile
            )
        decision = self._with_search_plan(decision)
        return Routing(
            request_id=new_request_id(),
            model=model,
            profile=decision.profile,
            decision=decision,
            predictions=predictions,
            difficulty=self.difficulty(predictions),
            forced=forced is not None,
            decision_ms=(time.perf_counter() - t0) * 1000.0,
        )

    def _with_search_plan(self, decision: Decision) -> Decision:
        search = self.settings.profiles[decision.profile].search
        if search is None:
            return replace(decision, sampling=None)
        plan = SamplingPlan(
            max_samples=search.max_samples,
            threshold=search.threshold,
            min_samples=search.min_samples,
            prior_p_correct=decision.p_correct,
        )
        return replace(decision, sampling=plan)
