"""`thinkgate route "PROMPT"`: every profile's predicted success and tokens, and the level."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["register", "run"]


def register(subparsers: Any) -> None:
    """Add the `route` subcommand."""
    parser = subparsers.add_parser(
        "route",
        help="predict each profile's success and tokens for one prompt (no network)",
        description="Score one prompt with the difficulty model: P(correct) and expected "
        "completion tokens per profile, and the derived difficulty level.",
    )
    parser.add_argument("prompt", help="the prompt text ('-' reads it from stdin)")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: the shipped one)")
    parser.add_argument(
        "--profile",
        action="append",
        metavar="NAME",
        help="only this profile (repeatable; the level is derived among those shown)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.02,
        help="level = cheapest profile within this of the best P(correct) (default 0.02)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load the model, score the prompt, print the table (or JSON)."""
    from difficulty.errors import InvalidInputError
    from difficulty.level import cost_order, difficulty_level
    from difficulty.model import DEFAULT_MODEL_DIR, DifficultyModel

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise InvalidInputError("the prompt is empty")
    model = DifficultyModel.load(args.model or DEFAULT_MODEL_DIR)
    preds = model.predict_one(prompt, profiles=args.profile)
    order = cost_order(preds)
    level = difficulty_level(preds, order, tolerance=args.tolerance)
    if args.json:
        body = {
            "profiles": {
                name: {"p_correct": round(p.p_correct, 4), "tokens": p.tokens}
                for name, p in preds.items()
            },
            "level": level,
            "order": order,
            "tolerance": args.tolerance,
        }
        print(json.dumps(body))
        return 0
    width = max(len("profile"), *(len(n) for n in preds))
    print(f"{'profile':<{width}}  {'P(correct)':>10}  {'tokens':>8}")
    for name in order:
        p = preds[name]
        tokens = "-" if p.tokens is None else f"{p.tokens:.0f}"
        print(f"{name:<{width}}  {p.p_correct:>10.3f}  {tokens:>8}")
    print(
        f"difficulty level: {level} (cheapest profile within {args.tolerance:g} "
        "of the best predicted success)"
    )
    return 0
