"""`thinkgate demo`: recorded real traffic through a live gateway, with the savings it measured.

The replay upstream serves recorded outputs of a direct and a thinking model; the gateway (its
difficulty model, policy and convergence watcher) answers every prompt over real HTTP; the
recordings then give the true always-think cost and accuracy to compare with.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from difficulty.errors import InvalidInputError
from difficulty.outcomes import Outcome
from router.demo.client import Answer, send_prompts
from router.demo.prompts import DemoPrompt, pair_prompts, recorded_text
from router.demo.report import PromptResult, RecordedPrompt, compute_figures, grade
from router.pipeline import AUTO_MODEL
from router.settings import Settings

__all__ = [
    "DEFAULT_DATASETS",
    "DIRECT_PROFILE",
    "THINK_PROFILE",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_TOKENS_PER_SECOND",
    "DEFAULT_CHUNK_TOKENS",
    "DemoOptions",
    "Demo",
    "bundled_config_path",
]

DEFAULT_DATASETS = ("mip-gsm8k", "mip-math")
DIRECT_PROFILE = "Qwen2.5-32B"
THINK_PROFILE = "QwQ-32B"
DEFAULT_CONCURRENCY = 12
# Ten times a fast GPU server's per-stream speed, so the whole held-out set runs in about a
# minute on two cores; the pace is per request, as a real model streams.
DEFAULT_TOKENS_PER_SECOND = 1500.0
# Tokens per streamed delta: fewer, larger deltas keep the relay's per-chunk cost down.
DEFAULT_CHUNK_TOKENS = 8
_REPORT_BUCKET_SECONDS = 5


@dataclass
class DemoOptions:
    """What to replay, through which config, how fast, and where the outputs go."""

    datasets: Sequence[str] = DEFAULT_DATASETS
    outcomes_path: str | None = None  # a user's outcome table instead of bundled datasets
    direct_profile: str = DIRECT_PROFILE
    think_profile: str = THINK_PROFILE
    config_path: str | None = None  # None: the bundled replay config
    model_dir: str | None = None  # None: the config's, else the shipped default model
    concurrency: int = DEFAULT_CONCURRENCY
    tokens_per_second: float | None = DEFAULT_TOKENS_PER_SECOND
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS
    limit: int | None = None
    out_dir: Path = field(default_factory=lambda: Path("thinkgate-demo"))
    port: int = 0  # the gateway's port (0: a free one)
    # Seed early exit's calibration from the thinking model's training-split traces.
    seed_calibration: bool = True

    def check(self) -> None:
        """Refuse impossible values before anything starts."""
        if self.concurrency < 1:
            raise InvalidInputError("--concurrency must be at least 1", param="concurrency")
        if self.tokens_per_second is not None and self.tokens_per_second <= 0:
            raise InvalidInputError(
                "--tokens-per-second must be positive", param="tokens_per_second"
            )
        if self.limit is not None and self.limit < 1:
            raise InvalidInputError("--limit must be at least 1", param="limit")
        if self.chunk_tokens < 1:
            raise InvalidInputError("--chunk-tokens must be at least 1", param="chunk_tokens")
        if not 0 <= self.port <= 65535:
            raise InvalidInputError("--port must be between 0 and 65535", param="port")


def bundled_config_path() -> Path:
    """The gateway config shipped for the replay upstream."""
    return Path(__file__).resolve().parent.parent / "configs" / "replay.yaml"


def _outcomes(options: DemoOptions) -> tuple[list[Outcome], bool]:
    """The recorded rows, and whether to keep only the held-out split (bundled data)."""
    from difficulty.datasets import load_outcomes

    rows = load_outcomes(options.outcomes_path, options.datasets)
    return rows, options.outcomes_path is None


def _recording_of(upstream_name: str, recorded: Sequence[str]) -> str | None:
    lower = {name.lower(): name for name in recorded}
    return lower.get(upstream_name.lower())


def _think_gateway_profile(settings: Settings, think_recording: str) -> str:
    if settings.reference_profile is not None:
        return settings.reference_profile
    for name, profile in settings.profiles.items():
        if _recording_of(profile.upstream_name, [think_recording]):
            return name
    raise InvalidInputError(
        f"the config has no reference_profile and no profile whose model is {think_recording!r}",
        param="config",
    )


def replay_aliases(
    settings: Settings, direct: str, think: str, think_gateway: str
) -> dict[str, str]:
    """Model names of the config that are not recorded profiles, mapped onto the recordings."""
    aliases: dict[str, str] = {}
    for name, profile in settings.profiles.items():
        if _recording_of(profile.upstream_name, [direct, think]) is None:
            aliases[profile.upstream_name] = think if name == think_gateway else direct
    return aliases


def gateway_settings(
    settings: Settings, api_base: str, ledger_url: str, model_dir: str | None
) -> Settings:
    """The config pointed at the replay upstream, with the demo's ledger and no keys needed."""
    from router.settings import AuthSettings

    profiles = {
        name: p.model_copy(update={"api_base": api_base, "api_key_env": None, "api_key": None})
        for name, p in settings.profiles.items()
    }
    update: dict[str, Any] = {
        "profiles": profiles,
        "ledger": settings.ledger.model_copy(update={"url": ledger_url}),
        "auth": AuthSettings(),
    }
    if model_dir is not None:
        update["model_dir"] = model_dir
    return settings.model_copy(update=update)


def _check_model_dir(model_dir: str | None) -> None:
    """Fail with a clear line before any server starts when there is no difficulty model."""
    from difficulty.errors import NotFoundError
    from difficulty.model import DEFAULT_MODEL_DIR

    path = Path(model_dir) if model_dir else DEFAULT_MODEL_DIR
    if not (path / "metadata.json").is_file():
        what = "the shipped default difficulty model" if not model_dir else "no difficulty model"
        raise NotFoundError(f"{what} is missing at {path}; pass --model-dir DIR", param="model_dir")


def _full_tokens(catalog: Any, outcome: Outcome, max_tokens: int | None) -> int:
    """Completion tokens the replay reports for this recording run to its end (or the cap)."""
    from router.replay.stream import build_plan

    # Named as the replay streams them, so the plan counts them as it does.
    parts = [
        ("reasoning_content", catalog.pieces(outcome, "reasoning")),
        ("content", catalog.pieces(outcome, "response")),
    ]
    plan = build_plan(outcome, [(k, v) for k, v in parts if v], max_tokens, 0)
    return int(plan.usage()["completion_tokens"])


class Demo:
    """The replay upstream and the gateway, started together; `run()` sends the traffic."""

    def __init__(self, options: DemoOptions) -> None:
        options.check()
        self.options = options
        self.out_dir = Path(options.out_dir)
        self.ledger_path = self.out_dir / "ledger.db"
        self.report_path = self.out_dir / "report.html"
        self.prompts: list[DemoPrompt] = []
        self.recorded: list[RecordedPrompt] = []
        self.think_gateway = ""
        self.seeded = 0  # calibration seed records stored before the gateway started
        self._settings: Settings | None = None
        self._upstream: Any = None
        self._gateway: Any = None

    @property
    def ledger_url(self) -> str:
        """The demo's SQLite ledger."""
        return f"sqlite:///{self.ledger_path.resolve()}"

    @property
    def gateway_url(self) -> str:
        """Root URL of the running gateway."""
        if self._gateway is None:
            raise RuntimeError("the demo is not started")
        return str(self._gateway.url)

    def prepare(self) -> Demo:
        """Read the config and recordings and check the model: every input error, no server."""
        from router.settings import load_settings

        if self._settings is not None:
            return self
        opts = self.options
        settings = load_settings(opts.config_path or bundled_config_path())
        _check_model_dir(opts.model_dir or settings.model_dir)
        rows, holdout = _outcomes(opts)
        self.prompts = pair_prompts(
            rows,
            direct_profile=opts.direct_profile,
            think_profile=opts.think_profile,
            holdout_only=holdout,
            limit=opts.limit,
        )
        self.think_gateway = _think_gateway_profile(settings, opts.think_profile)
        self._settings = settings
        return self

    def _prepared(self) -> Settings:
        self.prepare()
        if self._settings is None:
            raise RuntimeError("prepare() did not load the settings")
        return self._settings

    def start(self) -> Demo:
        """Start the replay upstream on the recordings, then the gateway in front of it."""
        from router.app import create_app
        from router.replay.server import ReplayUpstream
        from router.server_thread import ServerThread

        opts = self.options
        settings = self._prepared()
        aliases = replay_aliases(
            settings, opts.direct_profile, opts.think_profile, self.think_gateway
        )
        replayed = [o for p in self.prompts for o in (p.direct, p.think)]
        self._upstream = ReplayUpstream(
            replayed,
            tokens_per_second=opts.tokens_per_second,
            chunk_tokens=opts.chunk_tokens,
            aliases=aliases,
        )
        self.recorded = self._recorded(settings)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):  # a fresh ledger: the report shows this run only
            Path(f"{self.ledger_path}{suffix}").unlink(missing_ok=True)
        self.seeded = self._seed(settings)
        self._upstream.start()
        try:
            config = gateway_settings(
                settings, self._upstream.base_url, self.ledger_url, opts.model_dir
            )
            # Loading the difficulty model and its encoder takes a while on a small machine.
            self._gateway = ServerThread(
                create_app(config), port=self.options.port, start_timeout=300
            ).start()
        except BaseException:
            self._upstream.stop()
            self._upstream = None
            raise
        return self

    def _seed(self, settings: Settings) -> int:
        """Seed the demo ledger's calibration book from the thinking model's traces of the
        training split (none of them replayed here); 0 when the profile does not calibrate."""
        from difficulty.traces import load_traces, trace_dataset_names
        from policies.convergence import WatcherParams
        from router.calibrator import seed_records, store_seed, training_traces

        opts = self.options
        profile = settings.profiles[self.think_gateway]
        config = profile.convergence or {}
        if not opts.seed_calibration or opts.outcomes_path or not profile.watches_convergence:
            return 0
        if config.get("calibration") is False or profile.probes:
            return 0
        known = {n.lower(): n for n in trace_dataset_names()}
        names = [known.get(f"{d}-{opts.think_profile}".lower()) for d in opts.datasets]
        replayed = {p.item_id for p in self.prompts}
        traces = [
            t
            for name in names
            if name is not None
            for t in training_traces(load_traces(name))
            if t.id not in replayed
        ]
        family = str(config.get("family", "default"))
        params = WatcherParams.from_config(config)
        records = seed_records(traces, profile.upstream_name, family, params)
        return asyncio.run(store_seed(self.ledger_url, records)) if records else 0

    def _calibration(self) -> list[dict[str, Any]]:
        """Early exit's calibration rows as the gateway reports them (`/v1/savings`)."""
        import httpx

        body = httpx.get(f"{self.gateway_url}/v1/savings", timeout=30).json()
        return list(body.get("early_exit_calibration") or [])

    def _recorded(self, settings: Settings) -> list[RecordedPrompt]:
        catalog = self._upstream.app.state.replay.catalog
        think_cap = settings.profiles[self.think_gateway].max_tokens
        direct_cap = next(
            (
                p.max_tokens
                for p in settings.profiles.values()
                if _recording_of(p.upstream_name, [self.options.direct_profile])
            ),
            None,
        )
        return [
            RecordedPrompt(
                item_id=p.item_id,
                prompt=p.prompt,
                gold=p.gold,
                think_tokens=_full_tokens(catalog, p.think, think_cap),
                think_text=recorded_text(p.think),
                direct_tokens=_full_tokens(catalog, p.direct, direct_cap),
                direct_text=recorded_text(p.direct),
            )
            for p in self.prompts
        ]

    @property
    def upstream(self) -> Any:
        """The running replay upstream (its stats, fault injection)."""
        if self._upstream is None:
            raise RuntimeError("the demo is not started")
        return self._upstream

    def stop(self) -> None:
        """Stop the gateway, then the upstream."""
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        if self._upstream is not None:
            self._upstream.stop()
            self._upstream = None

    def __enter__(self) -> Demo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run(self, on_done: Callable[[Answer], None] | None = None) -> dict[str, Any]:
        """Send every prompt, write the report, and return the figures."""
        gold = {r.item_id: r.gold for r in self.recorded}
        started = time.perf_counter()
        answers = asyncio.run(
            send_prompts(
                f"{self.gateway_url}/v1",
                [(p.item_id, p.prompt) for p in self.prompts],
                model=AUTO_MODEL,
                concurrency=self.options.concurrency,
                grade=lambda a: grade(a.text, gold[a.item_id]),
                on_done=on_done,
            )
        )
        seconds = time.perf_counter() - started
        records, savings = asyncio.run(self._read_ledger())
        exited = {r.request_id for r in records if r.early_exit}
        results = [_result(a, exited) for a in answers]
        figures = compute_figures(
            self.recorded, results, think_profile=self.think_gateway, ledger_savings=savings
        )
        figures["reference_model"] = self.options.think_profile
        figures["seconds"] = round(seconds, 1)
        figures["exit_seed"] = self.seeded
        figures["exit_calibration"] = self._calibration()
        figures["concurrency"] = self.options.concurrency
        figures["tokens_per_second"] = self.options.tokens_per_second
        figures["report"] = str(self.report_path)
        figures["ledger"] = self.ledger_url
        self._write_report(savings)
        return figures

    async def _read_ledger(self) -> tuple[list[Any], dict[str, Any]]:
        from router.ledger.base import open_ledger

        ledger = open_ledger(self.ledger_url, create=False)
        try:
            return await ledger.records(), await ledger.savings(
                bucket_seconds=_REPORT_BUCKET_SECONDS
            )
        finally:
            await ledger.close()

    def _write_report(self, savings: dict[str, Any]) -> None:
        from datetime import UTC, datetime

        from router.dashboard import render_dashboard

        generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        html = render_dashboard(savings, generated=f"{generated} by thinkgate demo")
        self.report_path.write_text(html, encoding="utf-8")


def _result(answer: Answer, exited: set[str]) -> PromptResult:
    if answer.error is not None or answer.completion_tokens is None:
        return PromptResult(answer.item_id, None, 0, "", error=answer.error or "no usage")
    return PromptResult(
        item_id=answer.item_id,
        profile=answer.profile,
        completion_tokens=answer.completion_tokens,
        text=answer.text,
        early_exit=answer.request_id in exited,
    )
