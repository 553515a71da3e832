"""`thinkgate train`: fit the difficulty model and report its k-fold cross-fitted quality."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from router.commands._source import add_outcome_source
from router.commands.train_ledger import MIN_PAIRS, run_from_ledger

__all__ = ["register", "run", "format_report"]


def register(subparsers: Any) -> None:
    """Add the `train` subcommand."""
    parser = subparsers.add_parser(
        "train",
        help="train the difficulty model and print its cross-fitted evaluation",
        description="Train the difficulty model on an outcome table and report k-fold "
        "cross-fitted AUC, Brier, ECE and tokens Spearman per profile, against baselines.",
    )
    source = add_outcome_source(parser, "outcome table (JSONL, may be .gz)")
    source.add_argument(
        "--from-ledger",
        metavar="URL",
        help="fit per-profile heads on the exploration share's counterfactual pairs in this "
        "ledger (sqlite:///file.db or redis://...); refused unless they beat the shipped model",
    )
    parser.add_argument("--folds", type=int, default=5, help="cross-fitting folds (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of folds and boosting")
    parser.add_argument(
        "--profile",
        action="append",
        metavar="NAME",
        help="train only this profile (repeatable; default: every profile in the data)",
    )
    parser.add_argument(
        "--encoder",
        default=None,
        metavar="NAME",
        help="prompt encoder: all-MiniLM-L6-v2 (default), minilm-static (the shipped model's: "
        "~0.3 ms a prompt), a static table .npz, or a local sentence-transformers directory",
    )
    parser.add_argument(
        "--routing-head",
        action="store_true",
        help="P(correct) boosts from a strongly penalised logistic model chosen by inner-fold AUC "
        "(the shipped model's head; better when a profile fails rarely)",
    )
    parser.add_argument(
        "--min-pairs",
        type=int,
        default=MIN_PAIRS,
        help=f"--from-ledger: the fewest labelled pairs to train on (default {MIN_PAIRS})",
    )
    parser.add_argument(
        "--sure",
        action="store_true",
        help="--from-ledger: save only when the whole 90%% interval of the AUC gain is above 0",
    )
    parser.add_argument(
        "--general-model",
        metavar="DIR",
        help="--from-ledger: the model to beat (default: the shipped general model)",
    )
    parser.add_argument("--out", metavar="DIR", help="save the model fitted on all rows here")
    parser.add_argument("--report", metavar="FILE", help="write the report as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def format_report(report: dict[str, Any]) -> str:
    """The report as a plain-text table: one line per profile, baselines' AUC beside."""
    baselines = list(report.get("baselines", {}))
    head = f"{'profile':<24} {'n':>6} {'acc':>6} {'AUC':>6} {'Brier':>6} {'ECE':>6} {'tokρ':>6}"
    head += "".join(f" {(b + ' AUC')[:12]:>12}" for b in baselines)
    title = f"{report['folds']}-fold cross-fitted, {report['n_items']} items"
    lines = [f"{title}, seed {report.get('seed')}", head]
    for name, m in report["profiles"].items():
        line = (
            f"{name[:24]:<24} {m['n']:>6} {_fmt(m['accuracy']):>6} {_fmt(m['auc']):>6} "
            f"{_fmt(m['brier']):>6} {_fmt(m['ece']):>6} {_fmt(m['tokens_spearman']):>6}"
        )
        line += "".join(f" {_fmt(report['baselines'][b][name]['auc']):>12}" for b in baselines)
        lines.append(line)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Cross-fit and report; then fit on every row and save when --out is given."""
    from difficulty.crossfit import ROUTING_MODEL_PARAMS
    from difficulty.datasets import load_outcomes
    from difficulty.encoder import DEFAULT_ENCODER, Encoder
    from difficulty.errors import InvalidInputError
    from difficulty.evaluation import evaluation_report, json_ready
    from difficulty.extras import TRAIN_MODULES, require
    from difficulty.model import DifficultyModel

    if args.from_ledger:
        return run_from_ledger(args)
    require(TRAIN_MODULES, "thinkgate train")
    if args.folds < 2:
        raise InvalidInputError("--folds must be at least 2")
    name = args.encoder or DEFAULT_ENCODER
    encoder = Encoder(name, progress=False if args.quiet else None)
    encoder.check()  # an unknown encoder fails before the data is read
    outcomes = load_outcomes(args.outcomes, args.dataset or ())
    params = dict(ROUTING_MODEL_PARAMS) if args.routing_head else {}
    from router.commands._progress import progress_bar

    with progress_bar("cross-fitting", quiet=args.quiet) as progress:
        report = evaluation_report(
            outcomes,
            folds=args.folds,
            seed=args.seed,
            encoder=encoder,
            profiles=args.profile,
            model_params=params,
            progress=progress,
        )
    report = json_ready(report)
    print(format_report(report))
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=1) + "\n")
        print(f"report written to {args.report}")
    if args.out:
        model = DifficultyModel(
            profiles=args.profile, encoder=encoder, random_state=args.seed, **params
        )
        model.fit(outcomes)
        model.metrics_ = report
        model.save(args.out)
        print(f"model saved to {args.out}")
    return 0
