"""Routing one request: score the prompt with the difficulty model, then decide its profile.

The decision itself is `policies.routing`'s; the pipeline resolves the requested model name,
scores on the loaded model and hands the policy its inputs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from difficulty.errors import InvalidInputError
from difficulty.serving import ProfilePredictor
from policies.decision import Decision, SamplingPlan
from policies.profiles import ProfileCost
from policies.routing import PolicyConfig, PredictionLike, decide, forced
from policies.savings import Money, record_money
from router.conversation import thread_forecasts
from router.errors import ModelNotFoundError
from router.novelty import is_novel
from router.scoring import Predictor, Scorer
from router.settings import PolicySettings, ProfileSettings, Settings
from router.sources import SourceReport

__all__ = [
    "planned_tokens",
    "saved_by",
    "AUTO_MODEL",
    "MODEL_PREFIX",
    "ModelRoute",
    "request_mode",
    "profile_cost",
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
    novelty: float | None = None  # distance to the training prompts (difficulty.novelty)
    novel: bool = False
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
            **({} if self.novelty is None else {"x-thinkgate-novelty": f"{self.novelty:.4f}"}),
        }


def request_mode(model: str) -> str:
    """How a model name chooses its profile: ``auto`` (thinkgate/auto, with or without a
    target), ``forced`` (thinkgate/<profile>) or ``passthrough`` (an upstream name or alias)."""
    if model == AUTO_MODEL or model.startswith(AUTO_MODEL + "?"):
        return "auto"
    if model.startswith(MODEL_PREFIX):
        return "forced"
    return "passthrough"


@dataclass(frozen=True)
class ModelRoute:
    """What a requested model name asks for: a profile (None: the policy chooses), the policy."""

    mode: str
    profile: str | None
    policy: PolicyConfig


def _policy_config(p: PolicySettings) -> PolicyConfig:
    return PolicyConfig(
        kind=p.kind,
        lam=p.lam,
        epsilon=p.epsilon,
        profile=p.profile,
        cost_unit=p.cost_unit,
        recalibration=tuple((name, slope, intercept) for name, slope, intercept in p.recalibration),
    )


def profile_cost(name: str, profile: ProfileSettings) -> ProfileCost:
    """The policy's view of a profile: prices (the config's, else litellm's cost map), limits
    and (search profiles) the sampling plan."""
    from router.prices import profile_prices

    search = profile.search
    plan = None
    if search is not None:
        plan = SamplingPlan(
            search.max_samples,
            search.threshold,
            min_samples=search.min_samples,
            typical_tokens=search.typical_tokens,
        )
    price_in, price_out = profile_prices(profile.model, profile.price_in, profile.price_out)
    return ProfileCost(
        name=name,
        price_in=price_in,
        price_out=price_out,
        default_tokens=profile.default_tokens,
        max_tokens=profile.max_tokens,
        search=plan,
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
        if not isinstance(predictor, ProfilePredictor):  # a per-profile model: its heads
            heads = {n: str(p.predictor) for n, p in settings.profiles.items() if p.predictor}
            predictor = ProfilePredictor(None, {}, predictor, heads)
        self._scorer = Scorer(predictor)

    async def warm(self) -> None:
        """Start the scoring threads before the first request (router.scoring.Scorer.warm)."""
        await self._scorer.warm()

    def close(self) -> None:
        """Release the scoring threads."""
        self._scorer.close()

    def set_policy(self, policy: PolicySettings) -> None:
        """Replace the default policy (admin)."""
        self.settings.policy = policy
        self.policy = _policy_config(policy)

    # -- scoring ----------------------------------------------------------------------------

    async def score(self, prompt: str) -> dict[str, PredictionLike]:
        """Per gateway profile predictions (profiles with neither a description nor a
        predictor are left out)."""
        raw = await self._scorer.score(prompt)
        return {name: raw[name] for name in self.settings.profiles if name in raw}

    def novelty_of(self, predictions: Mapping[str, Any]) -> tuple[float | None, bool]:
        """The novelty score the predictor attached, and whether it counts as novel."""
        score = getattr(predictions, "novelty", None)
        threshold = getattr(predictions, "novelty_threshold", None)
        return score, is_novel(score, threshold, self.settings.novelty)

    def difficulty(self, predictions: Mapping[str, PredictionLike]) -> str | None:
        """The human difficulty level for these predictions, when a level function is set."""
        if self._level is None or not predictions:
            return None
        return str(self._level(predictions))

    # -- deciding ---------------------------------------------------------------------------

    def resolve(self, model: str) -> ModelRoute:
        """What a requested model name asks for; unknown names and targets are refused."""
        mode = request_mode(model)
        if mode == "auto":
            _, _, query = model.partition("?")
            if not query:
                return ModelRoute(mode, None, self.policy)
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
            return ModelRoute(mode, None, self.targets[value])
        name = model.removeprefix(MODEL_PREFIX) if mode == "forced" else self._aliases.get(model)
        if name is None or name not in self.settings.profiles:
            raise ModelNotFoundError(
                f"the model {model!r} does not exist; use {AUTO_MODEL}, thinkgate/<profile> "
                f"or an upstream model name",
                param="model",
            )
        return ModelRoute(mode, name, self.policy)

    async def route(
        self,
        model: str,
        prompt: str,
        *,
        n: int | None = None,
        eligible: Collection[str] | None = None,
        check: Callable[[str], None] | None = None,
        earlier: Sequence[str] = (),
    ) -> Routing:
        """Resolve `model` (once), score the prompt and decide its profile: among the
        `eligible` profiles (those that can take the request), after `check` when forced.
        `earlier`: the conversation's earlier user turns to score too (router.conversation)."""
        t0 = time.perf_counter()
        route = self.resolve(model)
        if route.profile is None and n is not None and n > 1:
            raise InvalidInputError("n > 1 is not supported with thinkgate/auto", param="n")
        if route.profile is not None and check is not None:
            check(route.profile)
        raw = await self._scorer.score(prompt)
        predictions = {name: raw[name] for name in self.settings.profiles if name in raw}
        if earlier:
            before = [await self._scorer.score(text) for text in earlier]
            predictions = thread_forecasts(predictions, before)
        novelty, novel = self.novelty_of(raw)
        if route.profile is not None:
            name = route.profile
            how = "forced by the caller"
            if route.mode == "passthrough":
                how = "upstream model name passed through"
            decision = forced(name, self.costs.get(name), predictions.get(name), f"{how}: {model}")
        else:
            candidates = predictions
            if eligible is not None:
                candidates = {k: v for k, v in predictions.items() if k in eligible}
            if not candidates:
                raise InvalidInputError(
                    "no profile that can take this request has a predictor to route with",
                    param="model",
                )
            reference = self.settings.reference_profile
            if reference not in candidates:
                reference = None
            decision = decide(route.policy, candidates, self.costs, reference=reference)
            target = self._novel_target(novel)
            if target is not None and target in candidates and target != decision.profile:
                why = f"novel prompt (novelty {novelty:.3f}): {self.settings.novelty.action}"
                decision = forced(target, self.costs.get(target), candidates[target], why)
        return Routing(
            request_id=new_request_id(),
            model=model,
            profile=decision.profile,
            decision=decision,
            predictions=predictions,
            difficulty=self.difficulty(predictions),
            forced=route.profile is not None,
            decision_ms=(time.perf_counter() - t0) * 1000.0,
            novelty=novelty,
            novel=novel,
        )

    def _novel_target(self, novel: bool) -> str | None:
        """Where the novelty policy sends a novel prompt (None: the policy decides)."""
        if not novel:
            return None
        action = self.settings.novelty
        if action.action == "reference":
            return self.settings.reference_profile
        return action.profile if action.action == "profile" else None

    def money(
        self,
        routing: Routing,
        answered: str,
        prompt_tokens: int,
        completion_tokens: int,
        savings: Mapping[str, float],
    ) -> Money:
        """The token savings of a finished request, priced mechanism by mechanism."""
        reference = self.settings.reference_profile
        ref_pred = routing.predictions.get(reference) if reference else None
        planned = planned_tokens(routing, answered)
        forecasts = None
        if ref_pred is not None and ref_pred.tokens is not None and planned is not None:
            forecasts = (float(ref_pred.tokens), planned)
        return record_money(
            prompt_tokens,
            completion_tokens,
            savings,
            self.costs.get(answered) or ProfileCost(answered),
            self.costs.get(reference) if reference else None,
            forecasts,
        )


def planned_tokens(routing: Routing, answered: str) -> float | None:
    """The forecast completion tokens of what was planned on `answered`: one sample, or a
    search's maximum; None without a forecast."""
    used = routing.predictions.get(answered)
    if used is None or used.tokens is None:
        return None
    plan = routing.decision.sampling
    return float(used.tokens) * (plan.max_samples if plan is not None else 1)


def saved_by(
    routing: Routing, report: SourceReport | None, reference: str | None
) -> tuple[dict[str, float], dict[str, Any] | None, int | None]:
    """Estimated tokens saved against the reference profile, by mechanism; the ledger's
    `early_exit` fields; the tokens probes spent.

    Routing saves the reference's forecast minus the forecast of what was planned (one sample,
    or a search's maximum); an early exit saves the forecast length left unthought, net of its
    probes' tokens (negative when probes ran and never cut the stream); a search saves the
    samples it did not draw.
    """
    ref_pred = routing.predictions.get(reference) if reference else None
    answered = report.profile if report is not None else routing.profile
    planned = planned_tokens(routing, answered)
    routed = 0.0
    if ref_pred is not None and ref_pred.tokens is not None and planned is not None:
        routed = ref_pred.tokens - planned
    early_exit: dict[str, Any] | None = None
    exited = 0.0
    probe_tokens = None
    if report is not None and report.early_exit is not None:
        early_exit = report.early_exit.to_json()
        exited = report.early_exit.saved
    if report is not None and report.probes is not None:
        probe_tokens = report.probes.probe_tokens
        if early_exit is not None:
            early_exit["saved_before_probes"] = exited
            early_exit.update(report.probes.to_json())
        exited -= probe_tokens
    sampled = report.search.saved if report is not None and report.search is not None else 0.0
    savings = {"routing": float(routed), "early_exit": float(exited), "sampling": float(sampled)}
    return savings, early_exit, probe_tokens
