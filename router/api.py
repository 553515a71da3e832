"""The gateway's other endpoints: models, route, feedback, savings, health, admin policy."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from difficulty.errors import InvalidInputError, NotFoundError
from router.chat_request import Message, parse_json, read_body, validated
from router.conversation import earlier_turns
from router.gateway import GatewayDep, caller_key, require_admin, require_api_key
from router.ledger.durable import DurableLedger
from router.pipeline import AUTO_MODEL, MODEL_PREFIX
from router.settings import PolicySettings

__all__ = ["router", "RouteRequest", "FeedbackRequest"]

router = APIRouter()

# A streamed request's record lands after its last event: feedback sent as soon as the stream
# ends (or from the response headers) waits this long for it before answering 404.
FEEDBACK_WAIT_S = 2.0


class RouteRequest(BaseModel):
    """POST /v1/route: a prompt (or messages) and the model to route as."""

    model_config = ConfigDict(extra="forbid")
    model: StrictStr = AUTO_MODEL
    prompt: StrictStr | None = None
    messages: list[Message] | None = None


class FeedbackRequest(BaseModel):
    """POST /v1/feedback: whether a recorded request was answered correctly."""

    model_config = ConfigDict(extra="forbid")
    request_id: StrictStr = Field(min_length=1)
    correct: StrictBool


async def _json(request: Request, limit: int) -> Any:
    timeout = request.app.state.gateway.settings.limits.body_timeout_s
    return parse_json(await read_body(request, limit, timeout))


@router.get("/v1/models", dependencies=[Depends(require_api_key)])
async def models(gateway: GatewayDep) -> dict[str, Any]:
    """thinkgate/auto, its targets, and one forced model per profile."""
    ids = [AUTO_MODEL]
    ids += [f"{AUTO_MODEL}?target={t}" for t in gateway.settings.targets]
    ids += [MODEL_PREFIX + name for name in gateway.settings.profiles]
    data = [{"id": i, "object": "model", "created": 0, "owned_by": "thinkgate"} for i in ids]
    return {"object": "list", "data": data}


@router.post("/v1/route", dependencies=[Depends(require_api_key)])
async def route(request: Request, gateway: GatewayDep) -> dict[str, Any]:
    """The decision and per-profile predictions for a prompt; nothing is sent upstream."""
    pipeline = gateway.ready_pipeline()
    body = validated(RouteRequest, await _json(request, gateway.settings.limits.max_body_bytes))
    gateway.keys.check_model(caller_key(request, gateway), body.model, None)
    earlier: list[str] = []
    if body.prompt is not None:
        prompt = body.prompt
    else:
        users = [m.text for m in body.messages or [] if m.role == "user"]
        prompt = users[-1] if users else ""
        earlier = earlier_turns(users, gateway.settings.conversation.turns)
    if not prompt.strip():
        raise InvalidInputError("give a non-empty 'prompt' or user message", param="prompt")
    routing = await pipeline.route(body.model, prompt, earlier=earlier)
    d = routing.decision
    sampling = None
    if d.sampling is not None:
        sampling = {
            "max_samples": d.sampling.max_samples,
            "min_samples": d.sampling.min_samples,
            "threshold": d.sampling.threshold,
        }
    ref = gateway.settings.reference_profile
    return {
        "model": body.model,
        "profile": d.profile,
        "difficulty": routing.difficulty,
        "reason": d.reason,
        "forced": routing.forced,
        "budget": d.budget,
        "sampling": sampling,
        "expected": {"p_correct": d.p_correct, "tokens": d.tokens, "cost": d.cost},
        "reference_profile": ref,
        "predictions": {
            n: {"p_correct": p.p_correct, "tokens": p.tokens}
            for n, p in routing.predictions.items()
        },
        "decision_ms": routing.decision_ms,
        "novelty": routing.novelty,
        "novel": routing.novel,
    }


@router.post("/v1/feedback", dependencies=[Depends(require_api_key)])
async def feedback(request: Request, gateway: GatewayDep) -> dict[str, Any]:
    """Label a recorded request as correct or not (for accuracy figures and retraining)."""
    ledger = gateway.ready_ledger()
    body = validated(FeedbackRequest, await _json(request, gateway.settings.limits.max_body_bytes))
    delay, waited = 0.01, 0.0
    while not await ledger.set_feedback(body.request_id, body.correct):
        if waited >= FEEDBACK_WAIT_S:
            raise NotFoundError(f"no recorded request {body.request_id!r}", param="request_id")
        await asyncio.sleep(delay)
        waited += delay
        delay = min(delay * 2, 0.25)
    if gateway.metrics is not None:
        gateway.metrics.observe_feedback(body.correct)
    return {"request_id": body.request_id, "correct": body.correct, "recorded": True}


@router.get("/v1/savings", dependencies=[Depends(require_api_key)])
async def savings(
    gateway: GatewayDep, bucket_seconds: int = Query(60, ge=1, le=86_400)
) -> dict[str, Any]:
    """Tokens spent and (estimated) saved, by profile, mechanism and time; early exit's
    calibration per model (shadow streams, certified threshold, changed-answer rate and bound)."""
    body = await gateway.ready_ledger().savings(bucket_seconds=bucket_seconds)
    if gateway.calibrator is not None:
        await gateway.calibrator.refresh()
        body["early_exit_calibration"] = gateway.calibrator.summary()
    return body


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(gateway: GatewayDep) -> JSONResponse:
    """Readiness: the difficulty model is loaded and the ledger answers (within a quarter
    second with a Redis ledger); `ledger_backlog` tells what waits for it in the spool."""
    model = gateway.pipeline is not None
    ledger = False
    body: dict[str, Any] = {}
    if gateway.ledger is not None:
        try:
            ledger = await gateway.ledger.ping()
        except Exception:  # an unreachable store is "not ready", never a 500
            ledger = False
        if isinstance(gateway.ledger, DurableLedger):
            body["ledger_backlog"] = (await gateway.ledger.backlog()).as_dict()
    ready = model and ledger
    body = {"status": "ready" if ready else "not ready", "model": model, "ledger": ledger, **body}
    return JSONResponse(body, status_code=200 if ready else 503)


@router.put("/admin/policy", dependencies=[Depends(require_admin)])
async def put_policy(request: Request, gateway: GatewayDep) -> dict[str, Any]:
    """Replace the default policy: of every replica (and later ones) with a Redis ledger,
    of this replica until it restarts with SQLite (`shared` in the reply says which)."""
    from router.policy_sync import publish_policy

    pipeline = gateway.ready_pipeline()
    policy = validated(PolicySettings, await _json(request, gateway.settings.limits.max_body_bytes))
    if policy.profile is not None and policy.profile not in gateway.settings.profiles:
        raise InvalidInputError(f"unknown profile {policy.profile!r}", param="profile")
    pipeline.set_policy(policy)
    shared = await publish_policy(gateway, policy)
    return {"policy": policy.model_dump(), "shared": shared}


@router.get("/admin/policy", dependencies=[Depends(require_admin)])
async def get_policy(gateway: GatewayDep) -> dict[str, Any]:
    """The default policy in force."""
    return {"policy": gateway.settings.policy.model_dump()}
