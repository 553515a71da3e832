"""`thinkgate replay-upstream`: serve recorded model outputs as an OpenAI-compatible endpoint."""

from __future__ import annotations

import argparse
from typing import Any

from difficulty.errors import InvalidInputError
from router.commands._source import add_outcome_source

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the `replay-upstream` subcommand."""
    parser = subparsers.add_parser(
        "replay-upstream",
        help="serve recorded model outputs as an OpenAI-compatible endpoint (evaluation tool)",
        description=(
            "Answer /v1/chat/completions and /v1/completions from recorded outputs: the request's "
            "model picks the recorded profile, the last user message picks the item (exact "
            "prompt). Reasoning streams as reasoning_content, paced at --tokens-per-second."
        ),
    )
    add_outcome_source(parser, "outcome table (JSONL) with reasoning/response text")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=None,
        metavar="R",
        help="generation speed per request (default: as fast as possible)",
    )
    parser.add_argument(
        "--first-token-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait before the first token, like a model's prefill (default 0)",
    )
    parser.add_argument(
        "--chunk-tokens",
        type=int,
        default=1,
        metavar="N",
        help="tokens per streamed delta, word-aligned (default 1: one word per delta)",
    )
    parser.add_argument(
        "--alias",
        action="append",
        default=[],
        metavar="NAME=PROFILE",
        help="extra model name for a recorded profile, e.g. think=QwQ-32B (repeatable)",
    )
    parser.set_defaults(func=run)


def _aliases(pairs: list[str]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for pair in pairs:
        name, sep, profile = pair.partition("=")
        if not sep or not name.strip() or not profile.strip():
            raise InvalidInputError(f"--alias must be NAME=PROFILE, got '{pair}'", param="alias")
        aliases[name.strip()] = profile.strip()
    return aliases


def run(args: argparse.Namespace) -> int:
    """Load the recordings and serve them until interrupted."""
    import uvicorn

    from difficulty.datasets import load_outcomes
    from router.replay.server import create_replay_app

    aliases = _aliases(args.alias)
    outcomes = load_outcomes(args.outcomes, args.dataset or ())
    app = create_replay_app(
        outcomes,
        tokens_per_second=args.tokens_per_second,
        aliases=aliases,
        chunk_tokens=args.chunk_tokens,
        first_token_delay=args.first_token_delay,
    )
    catalog = app.state.replay.catalog
    rate = f"{args.tokens_per_second:g} tokens/s" if args.tokens_per_second else "unpaced"
    print(
        f"replay upstream: {len(catalog)} recordings, models {', '.join(catalog.model_names())}; "
        f"{rate}; OpenAI base URL http://{args.host}:{args.port}/v1",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
