"""The app factory: `create_app(settings)` with a lifespan that opens and closes every resource."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from difficulty.descriptions import Description
from difficulty.encoder import Encoder
from difficulty.errors import ThinkgateError
from difficulty.general import GENERAL_MODEL_DIR, GeneralModel
from difficulty.level import difficulty_level
from difficulty.model import DEFAULT_MODEL_DIR, DifficultyModel
from difficulty.serving import ProfilePredictor
from policies.convergence import ConvergenceWatcher, WatcherParams
from router import api, chat, endpoints
from router.calibrator import ExitCalibrator
from router.dashboard import mount as mount_dashboard
from router.errors import ConfigError, error_body, invalid_input, render_error
from router.exploration import Explorer
from router.gateway import Gateway, require_metrics_key
from router.ledger.base import open_ledger
from router.ledger.durable import DurableLedger, shared_store, with_spool
from router.limits import RedisCounters
from router.metrics import follow_backlog
from router.metrics import mount as mount_metrics
from router.openapi import mount as mount_openapi
from router.pipeline import Pipeline
from router.policy_sync import follow_policy
from router.redact import install_log_redaction
from router.settings import Settings, load_settings
from router.tracing import CallTracer
from router.upstream import Upstream

__all__ = ["SERVING_ENCODER", "create_app", "app_from_config", "load_predictor"]

_log = logging.getLogger("thinkgate.app")

# How the gateway embeds a prompt with a model trained on MiniLM (the shipped default model runs
# on the minilm-static token table instead, which this does not affect): onnxruntime's int8
# graph (numpy without onnxruntime): 0.7x fp32's wall time on the loaded dev machine. On 1,325
# prompts the MiniLM model never trained on it moved P(correct) by a median 0, p99 0.009, at
# most 0.029, and changed the difficulty level of 8 (bench/encode_one.py --only int8
# --held-out 2000, run with a MiniLM default model). Training and figures stay fp32.
SERVING_ENCODER = "auto-int8"
# A prompt embedded while no other one is uses this many onnxruntime threads (concurrent ones
# use one each): on the 2-core dev machine a lone int8 embedding took 1.7x less wall time.
_IDLE_THREADS = min(4, os.cpu_count() or 1)


def _serving_encoder(name: str) -> Encoder:
    # Serving embeds every prompt afresh (no on-disk cache writes, no progress bars) with one
    # thread per call: see router.scoring for the measurements behind this.
    return Encoder(
        name,
        use_cache=False,
        progress=False,
        threads=1,
        single=SERVING_ENCODER,
        idle_threads=_IDLE_THREADS,
    )


def load_predictor(settings: Settings) -> ProfilePredictor:
    """Load the difficulty models the profiles need and warm them up (blocking): the general
    model for described profiles, the model at `model_dir` for `predictor` heads."""
    descriptions = {
        name: Description(str(p.effort), str(p.strength))
        for name, p in settings.profiles.items()
        if p.described
    }
    heads = {name: p.predictor for name, p in settings.profiles.items() if p.predictor}
    general = named = None
    if set(descriptions) - set(heads):
        general = GeneralModel.load(settings.general_model_dir or GENERAL_MODEL_DIR)
        general.encoder_ = _serving_encoder(general.encoder_.name)
    if heads:
        named = DifficultyModel.load(settings.model_dir or DEFAULT_MODEL_DIR)
        named.encoder_ = _serving_encoder(named.encoder_.name)
        _check_predictors(settings, named)
    if general is None and named is None:  # a fixed policy: nothing to route with
        general = GeneralModel.load(GENERAL_MODEL_DIR)
    predictor = ProfilePredictor(general, descriptions, named, heads)
    predictor.predict_one("warm-up: what is 2 + 3?")  # loads the encoder before the first request
    return predictor


def _check_predictors(settings: Settings, model: DifficultyModel) -> None:
    known = set(model.profiles_ or ())
    for name, profile in settings.profiles.items():
        if profile.predictor and known and profile.predictor not in known:
            key = f"profiles.{name}.predictor"
            raise ConfigError(
                f"config key '{key}': the difficulty model has no profile "
                f"{profile.predictor!r} (it has: {', '.join(sorted(known))})",
                key,
            )


def _check_convergence(settings: Settings) -> None:
    for name, profile in settings.profiles.items():
        if not profile.watches_convergence or profile.probes:
            continue  # probe mode does not use the text watcher's rule
        try:
            ConvergenceWatcher(WatcherParams.from_config(profile.convergence))
        except (ValueError, TypeError, OSError) as exc:
            key = f"profiles.{name}.convergence"
            raise ConfigError(f"config key '{key}': {exc}", key) from None


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    gateway: Gateway = app.state.gateway
    settings = gateway.settings
    # Every log record this process writes from now on is scrubbed of the configured keys.
    unredact = install_log_redaction(gateway.redactor)
    spool = settings.ledger.spool
    gateway.ledger = with_spool(
        open_ledger(settings.ledger.url),
        spool.path,
        max_records=spool.max_records,
        max_bytes=spool.max_bytes,
    )
    policy_task: asyncio.Task[None] | None = None
    gauges_task: asyncio.Task[None] | None = None
    try:
        if isinstance(gateway.ledger, DurableLedger):
            await gateway.ledger.start()  # drain what a previous process left in the spool
        gateway.calibrator = ExitCalibrator(gateway.ledger)
        await gateway.calibrator.refresh(force=True)  # thresholds other replicas certified
        store = shared_store(gateway.ledger)
        if store is not None:  # per-key usage counted where every replica sees it
            gateway.keys.counters = RedisCounters(store.url, prefix=store.prefix)
        try:
            model = await asyncio.to_thread(load_predictor, settings)
        except ThinkgateError as exc:
            _log.error("thinkgate: error: %s", exc.message)
            raise
        gateway.upstream = await asyncio.to_thread(
            Upstream, settings.profiles, settings.load_balancing
        )
        gateway.tracer = CallTracer.from_settings(settings.tracing)
        gateway.pipeline = Pipeline(settings, model, level=difficulty_level)
        await gateway.pipeline.warm()
        gateway.explorer = Explorer(
            settings, gateway.upstream, gateway.ledger, gateway.pipeline.costs, gateway.metrics
        )
        # With a Redis ledger, an admin's policy change reaches (and outlives) every replica.
        policy_task = await follow_policy(gateway)
        gauges_task = follow_backlog(gateway.metrics, gateway.ledger)
        # A full garbage collection scans every object: with the ~480k that the imports and the
        # model leave behind, that is ~170-200 ms on a 2-core machine, during which every stream
        # stalls. Frozen, they are never scanned again (a full collection then takes ~0 ms).
        gc.collect()
        gc.freeze()
        _log.info("thinkgate ready: %d profiles", len(settings.profiles))
        yield
    finally:
        for task in (policy_task, gauges_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if gateway.explorer is not None:  # before the upstream and the ledger it writes to
            await gateway.explorer.aclose()
            gateway.explorer = None
        if gateway.pipeline is not None:
            gateway.pipeline.close()
        gateway.pipeline = None
        if gateway.upstream is not None:
            await gateway.upstream.aclose()
        await gateway.ledger.close()
        await gateway.keys.counters.close()
        if gateway.metrics is not None:
            gateway.metrics.close()
        if gateway.tracer is not None:
            gateway.tracer.shutdown()
        unredact()


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ThinkgateError)
    async def _thinkgate_error(request: Request, exc: ThinkgateError) -> Response:
        return render_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        return render_error(invalid_input(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        err = ThinkgateError(str(exc.detail))
        err.status = exc.status_code
        err.type = "invalid_request_error" if exc.status_code < 500 else "server_error"
        err.code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return JSONResponse(error_body(err), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        _log.exception("unexpected error on %s %s", request.method, request.url.path)
        err = ThinkgateError("the gateway hit an internal error; it has been logged")
        return render_error(err)


def _mount_openapi(app: FastAPI) -> None:
    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_metrics_key)])
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())


def create_app(settings: Settings) -> FastAPI:
    """The gateway's FastAPI app for `settings`; resources open when the app starts."""
    app = FastAPI(
        title="thinkgate",
        summary="Adaptive-compute gateway for LLM traffic",
        lifespan=_lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served below, behind the metrics key when one is set
    )
    _check_convergence(settings)
    _install_error_handlers(app)
    _mount_openapi(app)
    app.include_router(chat.router)
    app.include_router(api.router)
    app.include_router(endpoints.router)
    mount_dashboard(app)
    mount_openapi(app)
    app.state.gateway = Gateway(settings=settings, metrics=mount_metrics(app))
    return app


def app_from_config() -> FastAPI:
    """The app for the config named by $THINKGATE_CONFIG (`thinkgate serve --workers N`)."""
    return create_app(load_settings())
