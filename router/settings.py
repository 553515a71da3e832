"""The gateway's one Settings object, read from one YAML file; the only reader of env vars."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from router.conversation import ConversationSettings
from router.errors import ConfigError, validation_problem
from router.exploration_settings import ExplorationSettings, exploration_problem
from router.novelty import NoveltySettings
from router.search_settings import SearchSettings, VerifierSettings
from router.tracing import TracingSettings

__all__ = [
    "SearchSettings",
    "VerifierSettings",
    "ProbeSettings",
    "ProfileSettings",
    "DeploymentSettings",
    "LoadBalancingSettings",
    "PolicySettings",
    "LedgerSettings",
    "SpoolSettings",
    "AuthSettings",
    "KeyPolicy",
    "KeySettings",
    "LimitSettings",
    "EffortSettings",
    "Settings",
    "load_settings",
    "config_path_from_env",
    "configured_secrets",
]

_STRICT = ConfigDict(extra="forbid")


class ProbeSettings(BaseModel):
    """Probe mode (policies.convergence.probe): every m thinking tokens, ask the text-completions
    API for the answer with an answer-forcing suffix; exit on k agreeing probes. Unset: defaults."""

    model_config = _STRICT
    enabled: bool = True
    k: int | None = Field(default=None, ge=1)
    interval_tokens: int | None = Field(default=None, ge=1)
    min_tokens: int | None = Field(default=None, ge=0)
    max_tokens: int = Field(default=16, ge=1, le=512)  # each probe's completion
    suffix: str | None = None  # None: Dynasor-CoT's "... **Final Answer**\n\n\\boxed{"
    markers: list[str] | None = None  # hesitation words; None: the text watcher's
    # How to write the chat as the model saw it; the completions API applies no template.
    template: Literal["chatml"] = "chatml"
    system: str | None = None  # the template's default system prompt, when the chat has none
    think_open: str = "<think>\n"  # what opens the thinking after the assistant header
    api_base: str | None = None  # None: the profile's api_base (its /completions)
    model: str | None = None  # None: the profile's upstream model name
    timeout_s: float = Field(default=30.0, gt=0.0)
    # Early exit's calibration (the text watcher's settings): the streak to exit on is certified
    # from shadow streams per model; False exits on k agreeing probes from the first stream.
    calibration: bool | dict[str, Any] = True


class DeploymentSettings(BaseModel):
    """One endpoint serving a profile (a replica, or the same model at another provider); what
    it leaves out comes from the profile."""

    model_config = _STRICT
    model: str | None = Field(default=None, min_length=1)
    api_base: str | None = None
    api_key_env: str | None = None
    api_key: SecretStr | None = Field(default=None, exclude=True)  # filled from api_key_env at load
    weight: float = Field(default=1.0, gt=0.0)  # share of the traffic (simple-shuffle)


class LoadBalancingSettings(BaseModel):
    """How litellm's Router spreads a profile over its deployments and sets failing ones aside."""

    model_config = _STRICT
    strategy: Literal[
        "simple-shuffle", "least-busy", "latency-based-routing", "usage-based-routing"
    ] = "simple-shuffle"
    allowed_fails: int = Field(default=3, ge=0)  # failures a minute before a cooldown
    cooldown_s: float = Field(default=30.0, ge=0.0)


class ProfileSettings(BaseModel):
    """One way to answer: the upstream litellm model, its reasoning controls, limits and price.

    `params` is passed to litellm as is (e.g. `reasoning_effort`, Anthropic `thinking`,
    `extra_body: {chat_template_kwargs: {enable_thinking: false}}`).
    """

    model_config = _STRICT
    model: str = Field(min_length=1)
    api_base: str | None = None
    api_key_env: str | None = None
    api_key: SecretStr | None = Field(default=None, exclude=True)  # filled from api_key_env at load
    # What the profile is, for the general difficulty model (difficulty.descriptions); a
    # `predictor` (a head of the model at `model_dir`, fitted on own outcomes) overrides it.
    effort: Literal["direct", "cot", "think"] | None = None
    strength: Literal["weak", "mid", "strong"] | None = None
    predictor: str | None = None
    prompt_style: Literal["direct", "step_by_step"] = "direct"
    max_tokens: int | None = Field(default=None, ge=1)
    # Per token; None: litellm's bundled cost map for `model` (router/prices.py), else 0.
    price_in: float | None = Field(default=None, ge=0.0)
    price_out: float | None = Field(default=None, ge=0.0)
    default_tokens: float = Field(default=0.0, ge=0.0)
    params: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float = Field(default=120.0, gt=0.0)
    retries: int = Field(default=1, ge=0, le=10)
    fallbacks: list[str] = Field(default_factory=list)
    # Several endpoints for this profile, balanced by litellm's Router (none: the profile's own).
    deployments: list[DeploymentSettings] = Field(default_factory=list)
    search: SearchSettings | None = None
    verifier: VerifierSettings | None = None  # this profile scores answers (see VerifierSettings)
    convergence: dict[str, Any] | None = None
    probe: ProbeSettings | None = None  # probe mode instead of the text watcher
    prefill: bool = False  # the endpoint accepts a prefilled assistant turn (closed thinking)
    prefill_params: dict[str, Any] = Field(default_factory=dict)  # extra params for that call
    aliases: list[str] = Field(default_factory=list)
    # auto: the direct SSE client for OpenAI-compatible endpoints with an api_base, else litellm
    transport: Literal["auto", "litellm", "http"] = "auto"
    # Input modalities of content parts the model takes (text, image, audio, file, or a part
    # type), and what it can answer in (`audio` for `modalities: [text, audio]` requests).
    modalities: list[str] = Field(default_factory=lambda: ["text"], min_length=1)
    output_modalities: list[str] = Field(default_factory=lambda: ["text"], min_length=1)
    # Where the upstream writes thinking (router.dialects); `think_close` for thinking opened by
    # the chat template (R1-Distill, QwQ served without a reasoning parser).
    reasoning_format: Literal[
        "auto", "reasoning_content", "reasoning", "think_tags", "think_close", "none"
    ] = "auto"

    @property
    def upstream_name(self) -> str:
        """The model name the upstream knows (the litellm string without its provider)."""
        return self.model.split("/", 1)[1] if "/" in self.model else self.model

    @property
    def watches_convergence(self) -> bool:
        """Whether the live convergence watcher (text or probe mode) runs on this profile."""
        return self._watches_text or self.probes

    @property
    def _watches_text(self) -> bool:
        return bool(self.convergence) and bool((self.convergence or {}).get("enabled", True))

    @property
    def probes(self) -> bool:
        """Whether the watcher runs in probe mode on this profile."""
        return self.probe is not None and self.probe.enabled

    @property
    def described(self) -> bool:
        """Whether the profile says what it is (effort and strength)."""
        return self.effort is not None and self.strength is not None

    @model_validator(mode="after")
    def _probe_needs_endpoint(self) -> ProfileSettings:
        if (self.effort is None) != (self.strength is None):
            raise ValueError("a description needs both effort and strength")
        if self.probes and self._watches_text:
            raise ValueError("set either convergence (text mode) or probe (probe mode), not both")
        if self.probes and not (self.api_base or (self.probe and self.probe.api_base)):
            raise ValueError("probe mode needs an api_base with a text-completions API")
        return self


class PolicySettings(BaseModel):
    """The operator's policy (see policies.routing.PolicyConfig). A search profile's stopping
    threshold is the profile's own (`search.threshold`).

    `lam` is bounded at 1e6: with costs in money (~1e-4 a request) that already makes any
    P(correct) difference worthless, so larger values are typos; `epsilon` is a probability.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    kind: Literal["fixed", "utility", "target"] = "utility"
    lam: float = Field(default=0.0, ge=0.0, le=1e6)
    epsilon: float = Field(default=0.0, ge=0.0, le=1.0)
    profile: str | None = None
    cost_unit: Literal["tokens", "money"] = "tokens"
    # (profile, slope, intercept): P(correct) recalibrated as `thinkgate simulate` fitted it
    recalibration: list[tuple[str, float, float]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fixed_needs_profile(self) -> PolicySettings:
        if self.kind == "fixed" and not self.profile:
            raise ValueError("the fixed policy needs a profile")
        return self


class SpoolSettings(BaseModel):
    """The local file that holds records while a `redis://` ledger is down or slow
    (router.ledger.spool); past either bound new records are dropped and counted."""

    model_config = _STRICT
    path: str = "thinkgate-spool.db"
    max_records: int = Field(default=100_000, ge=1)
    max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024)


class LedgerSettings(BaseModel):
    """Where records go (`sqlite:///file.db` or `redis://host:port/db?prefix=...`)."""

    model_config = _STRICT
    url: str = "sqlite:///thinkgate-ledger.db"
    store_text: bool = False
    spool: SpoolSettings = Field(default_factory=lambda: SpoolSettings())


class KeyPolicy(BaseModel):
    """What one key may do; the defaults allow everything, as a gateway with no policy did."""

    model_config = ConfigDict(extra="forbid")
    models: list[str] = Field(default_factory=lambda: ["*"])
    max_n: int = Field(default=16, ge=1, le=16)
    requests_per_minute: int | None = Field(default=None, ge=1)
    tokens_per_day: int | None = Field(default=None, ge=1)
    budget: float | None = Field(default=None, gt=0.0, allow_inf_nan=False)
    budget_period: Literal["day", "week", "month", "total"] = "month"


class KeySettings(KeyPolicy):
    """A named key, read from the environment variable `key_env`, and its policy."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    key_env: str = Field(min_length=1)
    key: SecretStr | None = Field(default=None, exclude=True)  # filled from key_env at load


class AuthSettings(BaseModel):
    """Bearer keys, named by environment variable; no key names means an open gateway.

    `keys` are named keys with a policy each (router.keys); keys in `api_key_envs` (and every
    request to an open gateway) get the `default` policy. With `metrics_key_env` set, /metrics and
    /openapi.json need that key (or the admin key).
    """

    model_config = _STRICT
    api_key_envs: list[str] = Field(default_factory=list)
    admin_key_env: str | None = None
    metrics_key_env: str | None = None
    keys: list[KeySettings] = Field(default_factory=list)
    default: KeyPolicy = Field(default_factory=lambda: KeyPolicy())
    api_keys: list[SecretStr] = Field(default_factory=list, exclude=True)
    admin_key: SecretStr | None = Field(default=None, exclude=True)
    metrics_key: SecretStr | None = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _unique_key_names(self) -> AuthSettings:
        names = [k.name for k in self.keys]
        if len(set(names)) != len(names) or "default" in names:
            raise ValueError("auth.keys names must be unique and not 'default'")
        return self


class LimitSettings(BaseModel):
    """Request and connection limits (`thinkgate serve` applies the connection ones)."""

    model_config = _STRICT
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_messages: int = Field(default=256, ge=1)
    # The whole body must arrive within this, else 408 and the connection closes (10 s is
    # 100 KB/s for the largest body; raise it for clients on slow links).
    body_timeout_s: float = Field(default=10.0, gt=0.0, le=3600.0)
    max_connections: int | None = Field(default=None, ge=1)  # more at once: 503 (uvicorn)
    keep_alive_s: int = Field(default=5, ge=1, le=600)  # idle keep-alive connections close


class EffortSettings(BaseModel):
    """Whose reasoning effort wins when a client sends one (policies.effort): `override` (the
    router's), `keep` (the client's) or `cap` (the lower); per API key (by its env variable
    name) and, when `per_request`, per request through `thinkgate.effort`."""

    model_config = _STRICT
    mode: Literal["override", "keep", "cap"] = "override"
    keys: dict[str, Literal["override", "keep", "cap"]] = Field(default_factory=dict)
    per_request: bool = True


class Settings(BaseSettings):
    """Everything the gateway is configured with; built by `load_settings` from YAML.

    Precedence: `THINKGATE_*` environment variables (nested keys joined by `__`, e.g.
    `THINKGATE_LEDGER__URL`) over the config file over the defaults. The file's values arrive
    as init values (`Settings(**data)`), so the environment is ranked above them.
    """

    model_config = SettingsConfigDict(
        extra="forbid", env_prefix="THINKGATE_", env_nested_delimiter="__"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment first, then the config file's values; no .env or secrets directory."""
        return env_settings, init_settings

    profiles: dict[str, ProfileSettings]
    policy: PolicySettings = Field(default_factory=lambda: PolicySettings())
    targets: dict[str, PolicySettings] = Field(default_factory=dict)
    reference_profile: str | None = None
    model_dir: str | None = None  # the model `predictor` heads name (None: the shipped one)
    general_model_dir: str | None = None  # None: the general model shipped with the package
    novelty: NoveltySettings = Field(default_factory=lambda: NoveltySettings())
    conversation: ConversationSettings = Field(default_factory=lambda: ConversationSettings())
    ledger: LedgerSettings = Field(default_factory=lambda: LedgerSettings())
    auth: AuthSettings = Field(default_factory=lambda: AuthSettings())
    limits: LimitSettings = Field(default_factory=lambda: LimitSettings())
    effort: EffortSettings = Field(default_factory=lambda: EffortSettings())
    # How clients get thinking (router.dialects): as the upstream sent it, or in one dialect.
    reasoning_output: Literal[
        "upstream", "reasoning_content", "reasoning", "think_tags", "none"
    ] = "upstream"
    load_balancing: LoadBalancingSettings = Field(default_factory=lambda: LoadBalancingSettings())
    tracing: TracingSettings = Field(default_factory=lambda: TracingSettings())  # router.tracing
    exploration: ExplorationSettings = Field(default_factory=lambda: ExplorationSettings())
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)

    @model_validator(mode="after")
    def _cross_references(self) -> Settings:
        if not self.profiles:
            raise _KeyProblem("profiles", "at least one profile is needed")
        names = set(self.profiles)
        for name in self.profiles:
            if not name or "/" in name or "?" in name:
                raise _KeyProblem(f"profiles.{name}", "profile names may not contain '/' or '?'")
        if self.reference_profile is not None and self.reference_profile not in names:
            raise _KeyProblem("reference_profile", f"unknown profile {self.reference_profile!r}")
        for key, policy in [("policy", self.policy)] + [
            (f"targets.{t}", p) for t, p in self.targets.items()
        ]:
            if policy.profile is not None and policy.profile not in names:
                raise _KeyProblem(f"{key}.profile", f"unknown profile {policy.profile!r}")
        key_envs = set(self.auth.api_key_envs) | {k.key_env for k in self.auth.keys}
        for key in self.effort.keys:
            if key not in key_envs:
                raise _KeyProblem(
                    f"effort.keys.{key}", "not one of auth.api_key_envs or auth.keys' key_env"
                )
        for name, profile in self.profiles.items():
            for i, fb in enumerate(profile.fallbacks):
                if fb not in names or fb == name:
                    raise _KeyProblem(f"profiles.{name}.fallbacks.{i}", f"bad fallback {fb!r}")
        for name, profile in self.profiles.items():
            _check_search(name, profile, self.profiles)
        routed = [p for p in self.profiles.values() if p.predictor or p.described]
        if not routed and self.policy.kind != "fixed":
            raise _KeyProblem(
                "profiles", "no profile has effort and strength (or a predictor) to route with"
            )
        if self.novelty.action == "profile" and self.novelty.profile not in names:
            raise _KeyProblem("novelty.profile", f"unknown profile {self.novelty.profile!r}")
        problem = exploration_problem(self.exploration, self.profiles)
        if problem is not None:
            raise _KeyProblem(*problem)
        return self


def _check_search(
    name: str, profile: ProfileSettings, profiles: dict[str, ProfileSettings]
) -> None:
    search = profile.search
    if search is None:
        return
    key = f"profiles.{name}.search"
    if search.verifier is not None:
        target = profiles.get(search.verifier)
        if target is None or target.verifier is None:
            raise _KeyProblem(f"{key}.verifier", f"{search.verifier!r} is not a verifier profile")
    elif search.aggregate == "best_of_n":
        raise _KeyProblem(f"{key}.aggregate", "best_of_n needs a verifier to score the samples")


class _KeyProblem(ValueError):
    """A cross-field problem that names its config key."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def config_path_from_env() -> str | None:
    """The config path named by THINKGATE_CONFIG, if any."""
    return os.environ.get("THINKGATE_CONFIG") or None


def _read_secret(env_name: str, key: str) -> SecretStr:
    value = os.environ.get(env_name)
    if not value:
        raise ConfigError(f"config key '{key}': environment variable {env_name} is not set", key)
    return SecretStr(value)


def _resolve_secrets(settings: Settings) -> Settings:
    for name, profile in settings.profiles.items():
        if profile.api_key_env:
            profile.api_key = _read_secret(profile.api_key_env, f"profiles.{name}.api_key_env")
        for i, deployment in enumerate(profile.deployments):
            if deployment.api_key_env:
                key = f"profiles.{name}.deployments.{i}.api_key_env"
                deployment.api_key = _read_secret(deployment.api_key_env, key)
    auth = settings.auth
    auth.api_keys = [
        _read_secret(env, f"auth.api_key_envs.{i}") for i, env in enumerate(auth.api_key_envs)
    ]
    if auth.admin_key_env:
        auth.admin_key = _read_secret(auth.admin_key_env, "auth.admin_key_env")
    if auth.metrics_key_env:
        auth.metrics_key = _read_secret(auth.metrics_key_env, "auth.metrics_key_env")
    for i, spec in enumerate(auth.keys):
        spec.key = _read_secret(spec.key_env, f"auth.keys.{i}.key_env")
    return settings


def configured_secrets(settings: Settings) -> list[str]:
    """Every key the config holds (upstream, API, admin, metrics): what logs must never show."""
    auth = settings.auth
    found = [p.api_key for p in settings.profiles.values()] + list(auth.api_keys)
    found += [auth.admin_key, auth.metrics_key] + [k.key for k in auth.keys]
    return [s.get_secret_value() for s in found if s is not None]


def settings_from_mapping(data: Any, source: str = "<config>") -> Settings:
    """Validate a parsed config; the error names the offending key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a YAML mapping", None)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        key, reason = validation_problem(exc.errors())
        raise ConfigError(f"{source}: config key '{key or '<root>'}': {reason}", key) from None
    return _resolve_secrets(settings)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read the YAML config at `path` (or $THINKGATE_CONFIG) into Settings."""
    path = path or config_path_from_env()
    if path is None:
        raise ConfigError("no config: pass --config FILE or set THINKGATE_CONFIG", None)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {p}: {exc.strerror}", None) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML ({exc})", None) from None
    return settings_from_mapping(data, str(p))
