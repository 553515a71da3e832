"""Profiles as litellm Router model groups: deployments, load balancing, cooldowns, retries with
backoff (honouring Retry-After) and fallbacks all come from `litellm.Router`.

An upstream's Retry-After of up to MAX_RETRY_AFTER_S (2 s) is waited out by the Router; a longer
one is not: that deployment is not asked again in the call (its failure is replayed to the Router
at once, without the wait) and, when it has siblings, is cooled down for what it asked, so the
siblings and the profile's fallbacks are tried, else the caller gets the 429 with the upstream's
Retry-After.

litellm's Router (a Rust core) picks a deployment, retries and falls back, and runs each attempt
through its *host*. Our host runs the attempt on thinkgate's own transports (the direct SSE client
for OpenAI-compatible endpoints, litellm otherwise) and returns the gateway's `UpstreamStream`
unchanged, so the streaming watcher, the ledger and the per-chunk path are the same as before;
only the choice of endpoint and the handling of failures before the first chunk are litellm's.
"""

from __future__ import annotations

import contextvars
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from difficulty.errors import ThinkgateError
from router.errors import RateLimitedError, UpstreamRejectedError, UpstreamTimeoutError
from router.settings import LoadBalancingSettings, ProfileSettings
from router.upstream_errors import MAX_RETRY_AFTER_S, waits_too_long

__all__ = ["Attempt", "Deployments", "endpoints", "for_router"]

# Opens one stream on (profile name, endpoint settings, messages, params); raises ThinkgateError.
Attempt = Callable[[str, ProfileSettings, list[dict[str, Any]], Mapping[str, Any]], Awaitable[Any]]


def endpoints(profile: ProfileSettings) -> list[ProfileSettings]:
    """The profile as each of its deployments: the profile's settings with the deployment's
    model, api_base and key where it gives them."""
    if not profile.deployments:
        return [profile]
    out = []
    for d in profile.deployments:
        update: dict[str, Any] = {"deployments": []}
        if d.model is not None:
            update["model"] = d.model
        if d.api_base is not None:
            update["api_base"] = d.api_base
        if d.api_key is not None or d.api_key_env is not None:
            update["api_key"] = d.api_key
        out.append(profile.model_copy(update=update))
    return out


def for_router(err: ThinkgateError, model: str) -> Exception:
    """The litellm exception the Router's retry policy reads for a gateway error; the gateway's
    own error rides along (`thinkgate_error`) so that it is what the caller finally sees."""
    import httpx
    import litellm

    request = httpx.Request("POST", "http://upstream/v1/chat/completions")
    exc: Exception
    if isinstance(err, RateLimitedError):
        # Whole seconds, as the header is written (litellm reads an integer).
        seconds = err.retry_after
        headers = {"retry-after": str(math.ceil(seconds))} if seconds is not None else {}
        response = httpx.Response(429, headers=headers, request=request)
        exc = litellm.RateLimitError(err.message, llm_provider="openai", model=model,
                                     response=response)  # fmt: skip
    elif isinstance(err, UpstreamTimeoutError):
        exc = litellm.Timeout(err.message, model=model, llm_provider="openai")
    elif isinstance(err, UpstreamRejectedError):
        response = httpx.Response(400, request=request)
        exc = litellm.BadRequestError(err.message, model=model, llm_provider="openai",
                                      response=response)  # fmt: skip
    else:
        exc = litellm.InternalServerError(err.message, llm_provider="openai", model=model)
    setattr(exc, "thinkgate_error", err)  # noqa: B010  (litellm exceptions have no such field)
    return exc


class Deployments:
    """Opens a stream on one of a profile's deployments, litellm's Router deciding which and
    handling every failure before the first chunk.

    The Router's full call costs ~1.5 ms of CPU per request (bench/gateway.py), so the first
    attempt of a simple-shuffle profile skips it: a single deployment is simply attempted, and
    several are picked with the Router's own `select` (weights and cooldowns, ~0.2 ms). Only a
    failure hands the request to `Router.acompletion`: on a single deployment the failure is
    replayed as the Router's first attempt (its retries, Retry-After and fallbacks then go as
    if it had made it); on several it is recorded against that deployment (its cooldown) and the
    Router then retries the group and falls back.
    """

    def __init__(
        self,
        profiles: Mapping[str, ProfileSettings],
        balancing: LoadBalancingSettings,
        attempt: Attempt,
    ) -> None:
        self.profiles = dict(profiles)
        self._attempt = attempt
        self._table = {name: endpoints(profile) for name, profile in self.profiles.items()}
        self._fast = balancing.strategy == "simple-shuffle"
        self._router = _build_router(self.profiles, self._table, balancing, self._run)

    async def open(
        self, name: str, messages: list[dict[str, Any]], params: Mapping[str, Any]
    ) -> Any:
        """A stream of profile `name` (or of a fallback): the first chunk is already read."""
        retries = self.profiles[name].retries
        call = _Call(messages, params)
        index = await self._pick(name, messages) if self._fast else None
        if index is not None:
            group = self._table[name]
            try:
                return await self._attempt(name, group[index], messages, params)
            except ThinkgateError as err:
                self._refused(call, name, index, err)
                if len(group) == 1:
                    call.replay.append((name, index, err))
                else:
                    exc = for_router(err, group[index].model)
                    self._router.health().record_failure(f"{name}#{index}", exc, err.status)
        token = _CALL.set(call)
        try:
            return await self._router.acompletion(
                model=name, messages=messages, stream=True, num_retries=retries
            )
        finally:
            _CALL.reset(token)

    async def _pick(self, name: str, messages: list[dict[str, Any]]) -> int | None:
        """The deployment the fast first attempt goes to; None when every one is cooling down
        (the Router's call then walks the profile's fallbacks)."""
        from litellm.types.router import RouterRateLimitError

        if len(self._table[name]) == 1:
            return 0
        try:
            deployment = await self._router.select(name, messages=messages)
        except RouterRateLimitError:
            return None
        return int(deployment["model_info"]["thinkgate_deployment"])

    async def _run(self, **kwargs: Any) -> Any:
        # The Router's attempt, on the deployment it picked.
        info = kwargs.get("model_info") or {}
        name, index = info["thinkgate_profile"], info["thinkgate_deployment"]
        endpoint = self._table[name][index]
        call = _CALL.get()
        if call.replay and call.replay[0][:2] == (name, index):
            raise for_router(call.replay.pop()[2], endpoint.model)
        if (name, index) in call.refused:  # it asked for a longer wait than a retry may take
            raise for_router(call.refused[(name, index)], endpoint.model)
        try:
            return await self._attempt(name, endpoint, call.messages, call.params)
        except ThinkgateError as err:
            exc = for_router(err, endpoint.model)
            self._refused(call, name, index, err, exc)
            raise exc from err

    def _refused(
        self, call: _Call, name: str, index: int, err: ThinkgateError, exc: Exception | None = None
    ) -> None:
        """Note a deployment that asked for a longer wait than a retry may take: not asked again
        in this call, and set aside for what it asked when it has siblings to take its load."""
        if not waits_too_long(err):
            return
        call.refused[(name, index)] = err
        if len(self._table[name]) > 1:
            cooldowns = self._router.health().cooldowns
            exc = exc or for_router(err, self._table[name][index].model)
            seconds = getattr(err, "retry_after", None)
            cooldowns.add_deployment_to_cooldown(f"{name}#{index}", exc, 429, seconds)


@dataclass
class _Call:
    """The request a Router call's attempts open (the Router passes its own kwargs, which must
    not reshape ours); a failure the gateway's own first attempt met, for the Router to take as
    its first attempt; the deployments that asked for a longer wait than a retry may take. The
    containers are shared by the attempts, whichever task context they run in."""

    messages: list[dict[str, Any]]
    params: Mapping[str, Any]
    replay: list[tuple[str, int, ThinkgateError]] = field(default_factory=list)
    refused: dict[tuple[str, int], ThinkgateError] = field(default_factory=dict)


_CALL: contextvars.ContextVar[_Call] = contextvars.ContextVar("thinkgate_router_call")


def _wait(seconds: float) -> float:
    """The Router's wait before a retry, unless a deployment of this call asked for longer than
    a retry may wait: then none (its attempts are replayed failures, no request is made)."""
    call = _CALL.get(None)
    return 0.0 if seconds > MAX_RETRY_AFTER_S and call is not None and call.refused else seconds


def _build_router(
    profiles: Mapping[str, ProfileSettings],
    table: Mapping[str, list[ProfileSettings]],
    balancing: LoadBalancingSettings,
    run: Callable[..., Awaitable[Any]],
) -> Any:
    """A litellm Router with one model group per profile, whose attempts run `run`."""
    from litellm.router import Router, router_arguments
    from litellm.router_config import build_router_config
    from litellm.router_python_host import PythonHost

    class _Host(PythonHost):
        __slots__ = ()

        def invoke(self, op: str) -> Any:
            return run if op == "acompletion" else super().invoke(op)

        def sleep(self, seconds: float) -> Awaitable[None]:
            return super().sleep(_wait(seconds))

    model_list = [
        {
            "model_name": name,
            "litellm_params": {
                "model": endpoint.model,
                "api_base": endpoint.api_base,
                "weight": _weight(profiles[name], i),
            },
            "model_info": {
                "id": f"{name}#{i}",
                "thinkgate_profile": name,
                "thinkgate_deployment": i,
            },
        }
        for name, group in table.items()
        for i, endpoint in enumerate(group)
    ]
    fallbacks = [{n: list(p.fallbacks)} for n, p in profiles.items() if p.fallbacks]
    # The Router logs every failed fallback at ERROR; the gateway reports the outcome itself.
    logging.getLogger("LiteLLM Router").setLevel(logging.CRITICAL)
    arguments = router_arguments(
        model_list=model_list,
        fallbacks=fallbacks,
        routing_strategy=balancing.strategy,
        allowed_fails=balancing.allowed_fails,
        cooldown_time=balancing.cooldown_s,
        num_retries=0,  # each call passes its profile's retries
    )
    return Router.from_config(build_router_config(arguments), host=_Host())


def _weight(profile: ProfileSettings, index: int) -> float:
    return profile.deployments[index].weight if profile.deployments else 1.0
