"""`thinkgate serve`: run the gateway (OpenAI-compatible API) from one YAML config."""

from __future__ import annotations

import argparse
import os
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
        print(f"config ok: {len(settings.profiles)} profiles ({', '.join(settings.profiles)})")
        return 0
    import uvicorn

    target: Any = app
    if args.workers > 1:
        # Each worker process builds its own app from the same file (uvicorn needs an import
        # string to start workers); the config was validated above, once, with its errors.
        if args.config:
            os.environ["THINKGATE_CONFIG"] = str(Path(args.config).resolve())
        target = "router.app:app_from_config"
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
    return 0
