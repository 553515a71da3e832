"""The running gateway's resources (opened by the app's lifespan) and the request dependencies."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from policies.capabilities import Capability
from router.calibrator import ExitCalibrator
from router.errors import AuthenticationError, NotReadyError, PermissionDeniedError
from router.keys import ApiKey, KeyGuard
from router.ledger.base import Ledger
from router.limits import MemoryCounters
from router.metrics import GatewayMetrics
from router.pipeline import Pipeline
from router.redact import Redactor
from router.settings import Settings, configured_secrets
from router.tracing import CallTracer
from router.upstream import Upstream

if TYPE_CHECKING:
    from router.exploration import Explorer

__all__ = [
    "Gateway",
    "get_gateway",
    "require_api_key",
    "require_admin",
    "require_metrics_key",
    "GatewayDep",
    "bearer_token",
    "api_key_name",
    "caller_key",
]


@dataclass
class Gateway:
    """Everything a request needs; `pipeline` is None until the model has loaded."""

    settings: Settings
    ledger: Ledger | None = None
    upstream: Upstream | None = None
    pipeline: Pipeline | None = None
    metrics: GatewayMetrics | None = None
    tracer: CallTracer | None = None  # OpenTelemetry spans, when `tracing.enabled`
    calibrator: ExitCalibrator | None = None  # early exit's thresholds from shadow streams
    explorer: Explorer | None = None  # the exploration share's background runs
    _capabilities: dict[str, Capability] | None = None
    keys: KeyGuard = field(init=False)
    redactor: Redactor = field(init=False)  # scrubs keys out of what the ledger stores

    def __post_init__(self) -> None:
        # Counted in memory until the lifespan moves the counters to a Redis ledger's server.
        auth = self.settings.auth
        self.keys = KeyGuard(auth.keys, auth.default, MemoryCounters())
        self.redactor = Redactor(configured_secrets(self.settings))

    def capabilities(self) -> dict[str, Capability]:
        """What every profile can take (modalities; a litellm provider's fields), once."""
        if self._capabilities is None:
            from router.request_plan import capabilities
            from router.upstream import supported_params

            profiles = self.settings.profiles
            supported = {name: supported_params(p) for name, p in profiles.items()}
            self._capabilities = capabilities(self.settings, supported)
        return self._capabilities

    def ready_pipeline(self) -> Pipeline:
        """The pipeline, or 503 while the gateway is still starting."""
        if self.pipeline is None or self.upstream is None:
            raise NotReadyError("the gateway is starting; the difficulty model is not loaded yet")
        return self.pipeline

    def ready_upstream(self) -> Upstream:
        """The upstream client, or 503 while starting."""
        if self.upstream is None:
            raise NotReadyError("the gateway is starting")
        return self.upstream

    def ready_ledger(self) -> Ledger:
        """The ledger, or 503 while starting."""
        if self.ledger is None:
            raise NotReadyError("the gateway is starting; the ledger is not open yet")
        return self.ledger


# The dependencies are coroutines: FastAPI runs a plain `def` dependency on its thread pool, and
# under streaming load each hop waited several milliseconds for the GIL before the request began.


async def get_gateway(request: Request) -> Gateway:
    """The app's Gateway."""
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def bearer_token(request: Request) -> str | None:
    """The bearer token of the Authorization header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _matches(token: str, keys: list[str]) -> bool:
    return _which(token, keys) is not None


def _which(token: str, keys: list[str]) -> int | None:
    found: int | None = None
    for i, key in enumerate(keys):
        # compare against every key so timing does not reveal which one matched
        if hmac.compare_digest(token.encode(), key.encode()) and found is None:
            found = i
    return found


def api_key_name(request: Request) -> str | None:
    """The env variable name of the API key the request authenticated with (None: open)."""
    name: str | None = getattr(request.state, "api_key_name", None)
    return name


async def require_api_key(request: Request, gateway: GatewayDep) -> None:
    """401 unless the request carries a configured API key (open when none are configured);
    the key it carries (router.keys.ApiKey) is kept for the handler as `caller_key`."""
    auth = gateway.settings.auth
    legacy = [k.get_secret_value() for k in auth.api_keys]
    if not legacy and not auth.keys:
        request.state.api_key = gateway.keys.default
        return
    token = bearer_token(request)
    if token is None:
        raise AuthenticationError(
            "You didn't provide an API key. Send 'Authorization: Bearer YOUR_KEY'."
        )
    named = gateway.keys.identify(token)
    which = _which(token, legacy)
    if named is not None:
        # The env variable that holds it names it for per-key settings (effort.keys).
        request.state.api_key = named
        request.state.api_key_name = getattr(named.policy, "key_env", None)
    elif which is not None:
        request.state.api_key = gateway.keys.default
        request.state.api_key_name = auth.api_key_envs[which]
    else:
        raise AuthenticationError("Incorrect API key provided.")


def caller_key(request: Request, gateway: Gateway) -> ApiKey:
    """The key `require_api_key` found on this request (the default policy's otherwise)."""
    found = getattr(request.state, "api_key", None)
    return found if isinstance(found, ApiKey) else gateway.keys.default


async def require_metrics_key(request: Request, gateway: GatewayDep) -> None:
    """401/403 unless the request carries the metrics (or admin) key; open when none is set."""
    auth = gateway.settings.auth
    if auth.metrics_key is None:
        return
    token = bearer_token(request)
    if token is None:
        raise AuthenticationError("this endpoint needs 'Authorization: Bearer METRICS_KEY'")
    keys = [auth.metrics_key.get_secret_value()]
    if auth.admin_key is not None:
        keys.append(auth.admin_key.get_secret_value())
    if not _matches(token, keys):
        raise PermissionDeniedError("this key may not read metrics or the API description")


async def require_admin(request: Request, gateway: GatewayDep) -> None:
    """401/403 unless the request carries the admin key."""
    admin = gateway.settings.auth.admin_key
    if admin is None:
        raise PermissionDeniedError("admin endpoints are disabled: no auth.admin_key_env set")
    token = bearer_token(request)
    if token is None:
        raise AuthenticationError("admin endpoints need 'Authorization: Bearer ADMIN_KEY'")
    if not _matches(token, [admin.get_secret_value()]):
        raise PermissionDeniedError("this key may not use admin endpoints")
