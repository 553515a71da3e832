"""`thinkgate serve`: run the gateway (OpenAI-compatible API) from one YAML config."""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from difficulty.errors import InvalidInputError

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser(
        "serve",
        help="run the gateway",
        description="Serve the OpenAI-compatible gateway described by a YAML config.",
    )
    parser.add_argument(
        "--config", help="YAML config file (default: $THINKGATE_CONFIG)", default=None
    )
    parser.add_argument("--host", default=None, help="bind address (default: the config's host)")
    parser.add_argument("--port", type=int, default=None, help="port (default: the config's port)")
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="gateway processes sharing the port (default 1); more than one needs a redis:// "
        "ledger, which is what makes their savings one figure",
    )
    parser.add_argument(
        "--check", action="store_true", help="validate the config and exit without serving"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the config (failing with the offending key named), then serve until stopped."""
    from router.app import create_app
    from router.settings import load_settings

    settings = load_settings(args.config)
    app = create_app(settings)
    if args.workers < 1:
        raise InvalidInputError("--workers must be at least 1", param="workers")
    if args.workers > 1 and not settings.ledger.url.startswith("redis://"):
        raise InvalidInputError(
            "--workers > 1 needs a redis:// ledger (an SQLite ledger keeps its savings in one "
            "process)",
            param="workers",
        )
    if args.check:
        print(_check(settings))
        return 0
    import uvicorn

    target: Any = app
    if args.workers > 1:
        # Each worker process builds its own app from the same file (uvicorn needs an import
        # string to start workers); the config was validated above, once, with its errors.
        if args.config:
            os.environ["THINKGATE_CONFIG"] = str(Path(args.config).resolve())
        target = "router.app:app_from_config"
        with _metrics_directory():
            _serve(uvicorn, target, args, settings)
        return 0
    _serve(uvicorn, target, args, settings)
    return 0


def _check(settings: Any) -> str:
    """What serving would need first, checked now: the difficulty models load and score a
    prompt, every profile's predictor is one of its profiles, and the SQLite ledger's
    directory exists; raises ConfigError naming the key otherwise."""
    from router.app import load_predictor
    from router.errors import ConfigError

    for key in ("model_dir", "general_model_dir"):
        folder = getattr(settings, key)
        if folder and not Path(folder).is_dir():
            raise ConfigError(f"config key '{key}': no such directory {folder}", key)
    predictor = load_predictor(settings)  # scores a prompt, as the first request would
    described = sorted(predictor.descriptions)
    heads = sorted(predictor.heads)
    url = settings.ledger.url
    if url.startswith("sqlite:///"):
        folder = Path(url.removeprefix("sqlite:///")).resolve().parent
        if not folder.is_dir():
            raise ConfigError(f"config key 'ledger.url': no such directory {folder}", "ledger.url")
    return (
        f"config ok: {len(settings.profiles)} profiles ({', '.join(settings.profiles)}); "
        f"general model for {', '.join(described) or 'none'}; "
        f"predictor heads for {', '.join(heads) or 'none'}; both score prompts"
    )


@contextlib.contextmanager
def _metrics_directory() -> Iterator[None]:
    """A fresh directory for the workers' metric files (prometheus-client multiprocess mode),
    so /metrics on any worker counts every worker; the operator's own, emptied, if set."""
    from router.metrics import MULTIPROC_ENV

    given = os.environ.get(MULTIPROC_ENV)
    if given:
        for stale in Path(given).glob("*.db"):  # a previous run's counts are not this one's
            stale.unlink()
        yield
        return
    with tempfile.TemporaryDirectory(prefix="thinkgate-metrics-") as directory:
        os.environ[MULTIPROC_ENV] = directory
        try:
            yield
        finally:
            os.environ.pop(MULTIPROC_ENV, None)


def _serve(uvicorn: Any, target: Any, args: argparse.Namespace, settings: Any) -> None:
    uvicorn.run(
        target,
        factory=args.workers > 1,
        workers=args.workers if args.workers > 1 else None,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
        log_level=args.log_level,
        access_log=False,
        limit_concurrency=settings.limits.max_connections,
        timeout_keep_alive=settings.limits.keep_alive_s,
    )
