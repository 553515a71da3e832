"""`thinkgate demo`: recorded real traffic through a live gateway, and what it saved."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the `demo` subcommand."""
    parser = subparsers.add_parser(
        "demo",
        help="replay recorded traffic through a live gateway and print what it saved",
        description=(
            "Start the replay upstream on recorded real outputs (direct = Qwen2.5-32B, thinking "
            "= QwQ-32B, held-out MiP prompts the default difficulty model never saw), start the "
            "gateway with the default model, policy and convergence watcher, send every prompt "
            "through it with the openai client, and print tokens spent and saved against always "
            "thinking, and accuracy against gold. Nothing to configure; loopback only."
        ),
    )
    _add_source_arguments(parser)
    _add_run_arguments(parser)
    parser.set_defaults(func=run)


def _add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """What to replay, and through which gateway config and model."""
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--dataset",
        action="append",
        metavar="NAME",
        help="bundled dataset to replay, held-out split only (repeatable; default: mip-gsm8k "
        "and mip-math)",
    )
    source.add_argument(
        "--outcomes",
        metavar="FILE",
        help="your own recorded traffic: an outcome table (JSONL) with reasoning/response text "
        "for two profiles (all of its prompts are used)",
    )
    parser.add_argument(
        "--direct-profile",
        default=None,
        metavar="NAME",
        help="recorded profile that answers directly (default Qwen2.5-32B)",
    )
    parser.add_argument(
        "--think-profile",
        default=None,
        metavar="NAME",
        help="recorded profile that thinks (default QwQ-32B)",
    )
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="gateway config to use instead of the bundled replay one (its endpoints are "
        "pointed at the replay upstream, its ledger at --out)",
    )
    parser.add_argument(
        "--model-dir",
        default=None,
        metavar="DIR",
        help="difficulty model (default: the config's, else the shipped default model)",
    )


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """How fast to send, and where the outputs go."""
    parser.add_argument(
        "--concurrency", type=int, default=None, metavar="N", help="requests in flight (default 12)"
    )
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        default=None,
        metavar="R",
        help="replay speed of each stream (default 1500)",
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="send only the first N prompts"
    )
    parser.add_argument(
        "--out",
        default="thinkgate-demo",
        metavar="DIR",
        help="where the ledger and report.html go (default ./thinkgate-demo; its ledger is "
        "replaced on each run)",
    )
    parser.add_argument(
        "--json", default=None, metavar="FILE", help="also write the figures as JSON"
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="keep the gateway running afterwards and print its /dashboard URL (Ctrl-C stops)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="the gateway's port (default: a free one), e.g. to keep the dashboard at a known "
        "address with --serve",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="start early exit's calibration cold (no seed from the thinking model's "
        "training-split traces)",
    )


def _options(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from router.demo import DEFAULT_DATASETS, DemoOptions

    options = DemoOptions(
        datasets=tuple(args.dataset or DEFAULT_DATASETS),
        outcomes_path=args.outcomes,
        config_path=args.config,
        model_dir=args.model_dir,
        limit=args.limit,
        out_dir=Path(args.out),
        port=args.port,
        seed_calibration=not args.cold,
    )
    if args.direct_profile:
        options.direct_profile = args.direct_profile
    if args.think_profile:
        options.think_profile = args.think_profile
    if args.concurrency is not None:
        options.concurrency = args.concurrency
    if args.tokens_per_second is not None:
        options.tokens_per_second = args.tokens_per_second
    options.check()
    return options


def _wait_for_stop() -> None:
    """Block until Ctrl-C or SIGTERM (how a container or a process manager stops it)."""
    import signal
    import threading

    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _send(demo: Any, no_progress: bool) -> dict[str, Any]:
    """Send the demo's traffic behind a progress bar counting answers by profile."""
    import sys
    from collections import Counter

    from tqdm import tqdm

    profiles: Counter[str] = Counter()
    with tqdm(
        total=len(demo.prompts),
        desc="requests",
        unit="req",
        file=sys.stderr,
        disable=no_progress,
        dynamic_ncols=True,
    ) as bar:

        def done(answer: Any) -> None:
            profiles[answer.profile if answer.error is None else "failed"] += 1
            bar.set_postfix(dict(profiles), refresh=False)
            bar.update(1)

        figures: dict[str, Any] = demo.run(on_done=done)
    return figures


def _print_figures(figures: dict[str, Any], options: Any, json_path: str | None) -> None:
    import json
    from pathlib import Path

    from router.demo.report import format_figures

    print(format_figures(figures), flush=True)
    pace = options.tokens_per_second
    print(
        f"traffic            {figures['seconds']:.0f} s for {figures['prompts']} streamed "
        f"requests ({options.concurrency} at a time, "
        f"{f'{pace:g} tokens/s each' if pace else 'unpaced'}), "
        f"{figures['wall_seconds']:.0f} s in all"
    )
    print(f"dashboard          {figures['report']}  (static; --serve for the live one)")
    if json_path:
        Path(json_path).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        print(f"figures            {json_path}")


def run(args: argparse.Namespace) -> int:
    """Run the demo, print its figures; exit 1 when any request failed."""
    import logging
    import sys
    import time

    from router.demo import Demo

    options = _options(args)
    # Early exits close upstream streams mid-body; the replay server's writes to those closed
    # sockets make asyncio warn ("socket.send() raised exception."), noise in a demo's output.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    started = time.perf_counter()
    demo = Demo(options).prepare()  # input errors surface here, before anything starts
    print(
        f"thinkgate demo: {len(demo.prompts)} prompts; starting the replay upstream and the "
        f"gateway (loading the difficulty model) ...",
        file=sys.stderr,
    )
    with demo:
        print(
            f"thinkgate demo: gateway on {demo.gateway_url}, sending {options.concurrency} "
            f"requests at a time",
            file=sys.stderr,
        )
        figures = _send(demo, args.no_progress)
        figures["wall_seconds"] = round(time.perf_counter() - started, 1)
        _print_figures(figures, options, args.json)
        if args.serve:
            print(f"live dashboard     {demo.gateway_url}/dashboard  (Ctrl-C to stop)", flush=True)
            _wait_for_stop()
            print("thinkgate demo: stopped", file=sys.stderr)
    return 1 if figures["errors"] else 0
