"""`thinkgate replay`: replay recorded reasoning traces through the convergence watcher."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the `replay` subcommand."""
    parser = subparsers.add_parser(
        "replay",
        help="replay reasoning traces through the convergence watcher (early exit, offline)",
        description=(
            "Feed recorded reasoning traces to the convergence watcher in token-sized deltas "
            "and report thinking tokens saved and accuracy at exit vs the full traces. By "
            "default the traces are met as the gateway meets a model it has never seen: cold "
            "start (no exits), shadow streams, the exit threshold recalibrated online in file "
            "order with a bound on changed answers; any rule option (--confidence, --k, --sweep, "
            "--fixed) replays a fixed rule instead."
        ),
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--traces", type=Path, help="a trace table (JSONL, optionally .gz)")
    source.add_argument(
        "--dataset",
        action="append",
        metavar="NAME",
        help="a bundled trace dataset (repeatable), e.g. mip-gsm8k-QwQ-32B, thought-anchors",
    )
    parser.add_argument(
        "--rule",
        choices=("learned", "streak"),
        help="exit rule (default learned; streak when --k, --kinds or --sweep is given)",
    )
    parser.add_argument("--confidence", type=float, help="learned rule: probability needed to exit")
    parser.add_argument("--k", type=int, help="streak rule: agreeing checkpoints needed to exit")
    parser.add_argument("--interval", type=int, help="tokens between checkpoints (m)")
    parser.add_argument("--min-tokens", type=int, help="never exit before this many tokens")
    parser.add_argument("--window", type=int, help="hesitation window in tokens")
    parser.add_argument("--kinds", help="candidate kinds, comma-separated (boxed,answer,...)")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help="sweep the streak rule's k/interval/window/min-tokens on a seeded half; "
        "report the rest",
    )
    parser.add_argument(
        "--max-drop",
        type=float,
        default=0.01,
        help="accuracy the sweep may lose on any dataset (default 0.01 = 1 point)",
    )
    parser.add_argument(
        "--fixed",
        action="store_true",
        help="the shipped learned rule at its fixed threshold, no calibration",
    )
    parser.add_argument(
        "--max-changed",
        type=float,
        default=0.01,
        help="calibration: share of answers an exit may change (default 0.01)",
    )
    parser.add_argument(
        "--miss-probability",
        type=float,
        default=0.1,
        help="calibration: chance the changed-answer bound is missed (default 0.1)",
    )
    parser.add_argument(
        "--shadow-share",
        type=float,
        default=0.1,
        help="calibration: share of streams run whole once certified (default 0.1)",
    )
    parser.add_argument(
        "--changed-rate-over",
        choices=("streams", "exits"),
        default="streams",
        help="calibration: what --max-changed is a rate of (default streams: points of accuracy; "
        "exits is stricter)",
    )
    parser.add_argument("--report", type=Path, help="write the JSON report here")
    parser.set_defaults(func=run)


def _params(args: argparse.Namespace) -> Any:
    from difficulty.errors import InvalidInputError
    from policies.convergence import WatcherParams

    config: dict[str, Any] = {}
    for key, value in (
        ("k", args.k),
        ("interval_tokens", args.interval),
        ("min_tokens", args.min_tokens),
        ("hesitation_window", args.window),
    ):
        if value is not None:
            config[key] = value
    if args.kinds:
        config["kinds"] = [k.strip() for k in args.kinds.split(",") if k.strip()]
    # k and kinds only mean something to the streak rule, and the sweep grid is the streak's.
    streak = args.k is not None or args.kinds or args.sweep
    config["rule"] = args.rule or ("streak" if streak else "learned")
    if args.confidence is not None:
        config["confidence"] = args.confidence
    try:
        return WatcherParams.from_config(config)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from None


def _load(args: argparse.Namespace) -> dict[str, list[Any]]:
    from difficulty.errors import InvalidInputError
    from difficulty.traces import load_traces, read_traces

    if args.traces is not None:
        sets = {args.traces.name.split(".")[0]: read_traces(args.traces)}
    else:
        sets = {name: load_traces(name) for name in dict.fromkeys(args.dataset)}
    for name, traces in sets.items():
        if not traces:
            raise InvalidInputError(f"no traces in '{name}'")
    return sets


def _line(name: str, s: dict[str, Any]) -> str:
    def pct(value: float | None) -> str:
        return "   -  " if value is None else f"{100 * value:5.1f}%"

    return (
        f"{name:<42} n={s['n']:<4} exits={s['exits']:<4} saved={pct(s['tokens_saved'])} "
        f"acc full={pct(s['accuracy_full'])} exit={pct(s['accuracy_exit'])}"
    )


def _calibrating(args: argparse.Namespace) -> bool:
    fixed = (args.rule, args.confidence, args.k, args.kinds)
    return not args.fixed and not args.sweep and all(v is None for v in fixed)


def run(args: argparse.Namespace) -> int:
    """Replay the traces (or sweep, choose on one half and report on the other); print a table."""
    from difficulty.errors import InvalidInputError

    if not 0 <= args.max_drop <= 1:
        raise InvalidInputError("--max-drop must be between 0 and 1")
    if _calibrating(args):
        from router.commands.replay_online import run_online

        return run_online(args, _params(args), _load(args))
    return _run_fixed(args)


def _run_fixed(args: argparse.Namespace) -> int:
    from difficulty.errors import InvalidInputError
    from policies.convergence import (
        choose_params,
        frontier,
        replay,
        split_traces,
        summarize,
        sweep,
    )

    if not 0 <= args.max_drop <= 1:
        raise InvalidInputError("--max-drop must be between 0 and 1")
    params = _params(args)
    sets = _load(args)
    report: dict[str, Any] = {}
    if args.sweep:
        halves = {name: split_traces(traces) for name, traces in sets.items()}
        points = sweep([tune for tune, _ in halves.values()], base=params)
        chosen = choose_params(points, max_drop=args.max_drop)
        params = chosen.params
        print("savings-accuracy frontier on the tuning half (worst-dataset accuracy drop):")
        for p in frontier(points):
            print(
                f"  k={p.params.k} interval={p.params.interval_tokens} "
                f"window={p.params.hesitation_window} min={p.params.min_tokens}: "
                f"saved {100 * p.tokens_saved:.1f}%, drop {100 * p.accuracy_drop:.1f} pt"
            )
        print(f"chosen (drop <= {100 * args.max_drop:.1f} pt): {params.to_config()}")
        report["sweep"] = {
            "max_drop": args.max_drop,
            "chosen": params.to_config(),
            "frontier": [
                {
                    **p.params.to_config(),
                    "tokens_saved": p.tokens_saved,
                    "accuracy_drop": p.accuracy_drop,
                }
                for p in frontier(points)
            ],
        }
        sets = {name: held for name, (_, held) in halves.items()}
        print("held-out half:")
    report["params"] = params.to_config()
    report["datasets"] = {}
    for name, traces in sets.items():
        summary = summarize(replay(traces, params))
        report["datasets"][name] = summary
        print(_line(name, summary))
    if args.report is not None:
        args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0
