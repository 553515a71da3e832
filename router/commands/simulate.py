"""`thinkgate simulate`: replay an outcome table through a policy before deploying it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from router.commands._source import add_outcome_source

__all__ = ["register", "run"]


def _price(text: str) -> tuple[str, float, float]:
    name, sep, prices = text.partition("=")
    parts = prices.split(",")
    try:
        if not sep or not name or len(parts) != 2:
            raise ValueError
        return name, float(parts[0]), float(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected PROFILE=IN,OUT (price per token), got {text!r}"
        ) from None


def register(subparsers: Any) -> None:
    """Add the `simulate` subcommand."""
    parser = subparsers.add_parser(
        "simulate",
        help="replay outcomes through a policy: tokens saved and accuracy lost, with baselines",
        description=(
            "Cross-fit the difficulty model on an outcome table, calibrate the policy on training "
            "folds, and report held-out accuracy and tokens against every fixed profile, random "
            "routing, a prompt-length heuristic and the oracle. Rows with samples also get "
            "majority-of-N versus adaptive stopping."
        ),
    )
    add_outcome_source(parser, "an outcome table (JSONL, or .jsonl.gz)")
    parser.add_argument("--profiles", metavar="A,B", help="only these profiles")
    parser.add_argument(
        "--reference",
        metavar="PROFILE",
        help="savings are measured against it (default: the most accurate profile)",
    )
    parser.add_argument(
        "--policy",
        choices=("utility", "target"),
        default="target",
        help="target (default): cheapest profile within epsilon of the best forecast; utility: "
        "maximise P(correct) - lambda * cost",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--target-accuracy-loss",
        type=float,
        metavar="X",
        help="lose at most X accuracy against the reference (0.01 = one point; the default)",
    )
    target.add_argument(
        "--target-tokens", type=float, metavar="N", help="spend at most N tokens per request"
    )
    parser.add_argument("--folds", type=int, default=5, help="cross-fitting folds (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--price",
        type=_price,
        action="append",
        default=[],
        metavar="PROFILE=IN,OUT",
        help="price per input and output token of a profile (repeatable)",
    )
    parser.add_argument(
        "--cost-unit",
        choices=("tokens", "money"),
        help="what the policy minimises (default: money when --price is given, else tokens)",
    )
    parser.add_argument(
        "--no-recalibrate",
        action="store_true",
        help="use the difficulty model's P(correct) as is (no recalibration on training folds)",
    )
    _add_search_arguments(parser)
    parser.add_argument(
        "--model",
        metavar="DIR|shipped",
        help="judge this general model (a directory, or `shipped`) on the table without fitting "
        "anything on it: APGR and CPT of routing the two --profiles, described by --describe",
    )
    parser.add_argument(
        "--describe",
        action="append",
        default=[],
        metavar="NAME=EFFORT:STRENGTH",
        help="what a table profile is for --model (e.g. mixtral=direct:mid); default: the "
        "bundled sources' mapping",
    )
    parser.add_argument("--report", required=True, metavar="FILE.json", help="write the report")
    parser.add_argument("--plot", metavar="FILE.png", help="also draw the frontier")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _add_search_arguments(parser: argparse.ArgumentParser) -> None:
    """Adaptive stopping, for outcome rows that carry samples."""
    parser.add_argument("--max-samples", type=int, default=16, help="adaptive stopping's maximum")
    parser.add_argument(
        "--threshold", type=float, default=0.995, help="adaptive stopping threshold"
    )
    parser.add_argument("--min-samples", type=int, default=2, help="adaptive stopping's minimum")
    parser.add_argument("--orders", type=int, default=8, help="sample orders averaged over")
    parser.add_argument(
        "--sampling-prior",
        action="store_true",
        help="use the difficulty model's cross-fitted P(correct) as the stopping prior",
    )


def _summary(report: dict[str, Any]) -> list[str]:
    lines = []
    op = report.get("operating_point")
    if op:
        if report.get("tokens_recorded", True):
            spent = f"{op['tokens']:.0f} tokens/request, saved {100 * op['tokens_saved']:.1f}%"
        else:
            spent = f"tokens n/a, {100 * op['tokens']:.1f}% of calls to the stronger profile"
        lines.append(
            f"{report['policy']} policy, {report['target']}, reference {report['reference']} "
            f"({report['items']} items, {report['folds']} folds): accuracy "
            f"{100 * op['accuracy']:.2f}%, {spent} at a loss of "
            f"{100 * op['accuracy_loss']:.2f} points"
            + (f" (money saved {100 * op['cost_saved']:.1f}%)" if "cost_saved" in op else "")
        )
        for name, b in report["baselines"].items():
            cost = (
                f"tokens {b['tokens']:8.0f}"
                if report.get("tokens_recorded", True)
                else f"strong calls {100 * b['tokens']:5.1f}%"
            )
            lines.append(f"  {name:<28} accuracy {100 * b['accuracy']:6.2f}%  {cost}")
        if "apgr" in report:
            lines.append(
                f"  APGR {report['apgr']:.3f}  CPT(50%) {report['cpt50']:.3f}  "
                f"CPT(80%) {report['cpt80']:.3f}"
            )
    for name, rows in report.get("search", {}).items():
        shown = "  ".join(
            f"{k} {100 * r['accuracy']:.2f}%/{r['samples']:.2f}" for k, r in rows.items()
        )
        lines.append(f"search {name}: {shown}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Load the outcomes, simulate, write the report (and plot)."""
    from difficulty.datasets import load_outcomes
    from difficulty.errors import InvalidInputError
    from difficulty.extras import TRAIN_MODULES, require
    from policies.decision import SamplingPlan
    from policies.profiles import ProfileCost
    from policies.routing import CostUnit, PolicyConfig, Target
    from policies.simulation import select_profiles, simulate

    require(TRAIN_MODULES, "thinkgate simulate (it trains the difficulty model)")
    if args.plot:
        require(("matplotlib",), "thinkgate simulate --plot")
    if args.folds < 2:
        raise InvalidInputError("--folds must be at least 2")
    if not 1 <= args.min_samples <= args.max_samples or args.orders < 1:
        raise InvalidInputError("need 1 <= --min-samples <= --max-samples and --orders >= 1")
    if not 0 < args.threshold <= 1:
        raise InvalidInputError("--threshold must be in (0, 1]")
    outcomes = load_outcomes(args.outcomes, args.dataset or ())
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()] if args.profiles else None
    if args.model is not None:
        from router.commands._judge import judge

        return judge(args, outcomes, profiles)
    outcomes = select_profiles(outcomes, profiles)
    if args.target_tokens is not None:
        target = Target(tokens=args.target_tokens)
    else:
        loss = 0.01 if args.target_accuracy_loss is None else args.target_accuracy_loss
        target = Target(accuracy_loss=loss)
    costs = {name: ProfileCost(name, price_in=i, price_out=o) for name, i, o in args.price}
    unit: CostUnit = args.cost_unit or ("money" if costs else "tokens")
    from router.commands._progress import progress_bar

    with progress_bar("cross-fitting", quiet=args.quiet) as progress:
        report = simulate(
            outcomes,
            policy=PolicyConfig(args.policy, cost_unit=unit),
            target=target,
            reference=args.reference,
            folds=args.folds,
            seed=args.seed,
            costs=costs,
            plan=SamplingPlan(args.max_samples, args.threshold, min_samples=args.min_samples),
            orders=args.orders,
            sampling_prior=args.sampling_prior,
            recalibrate=not args.no_recalibrate,
            progress=progress,
        )
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for line in _summary(report):
        print(line)
    print(f"report: {args.report}")
    if args.plot:
        from policies.plot import plot_report

        print(f"plot: {plot_report(report, args.plot)}")
    return 0
