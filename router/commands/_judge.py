"""`thinkgate simulate --model DIR|shipped --describe NAME=EFFORT:STRENGTH`: a given general
model judged on an outcome table, nothing fitted on it (difficulty.transfer)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from difficulty.outcomes import Outcome

__all__ = ["judge"]


def judge(args: argparse.Namespace, outcomes: Sequence[Outcome], profiles: list[str] | None) -> int:
    """Write and print the pair report of `--model` on the two profiles."""
    from difficulty.descriptions import SOURCE_MODELS, parse_description
    from difficulty.errors import InvalidInputError
    from difficulty.general import GENERAL_MODEL_DIR, GeneralModel
    from difficulty.transfer import pair_report

    describe = dict(SOURCE_MODELS)
    for item in args.describe:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise InvalidInputError(f"--describe {item!r}: use NAME=EFFORT:STRENGTH")
        describe[name.strip()] = parse_description(text)
    present = list(dict.fromkeys(o.profile for o in outcomes))
    chosen = profiles or present
    if len(chosen) != 2:
        raise InvalidInputError(
            f"--model judges a pair: name two --profiles (the table has {', '.join(present)})"
        )
    model = GeneralModel.load(GENERAL_MODEL_DIR if args.model == "shipped" else args.model)
    # The cheaper profile first: the one the model forecasts less success for on average.
    report = pair_report(model, outcomes, (chosen[0], chosen[1]), describe)
    if report.get("apgr") is None and report["accuracy"][chosen[0]] > report["accuracy"][chosen[1]]:
        report = pair_report(model, outcomes, (chosen[1], chosen[0]), describe)
    report["model"] = str(args.model)
    report["descriptions"] = {n: str(describe[n]) for n in report["pair"]}
    Path(args.report).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    weak, strong = report["pair"]
    line = f"{args.model} model, {weak} -> {strong} ({report['items']} items, nothing fitted): "
    line += (
        f"accuracy {100 * report['accuracy'][weak]:.2f}% / {100 * report['accuracy'][strong]:.2f}%"
    )
    if report.get("apgr") is not None:
        line += (
            f"; APGR {report['apgr']:.3f}  CPT(50%) {report['cpt50']:.3f}  "
            f"CPT(80%) {report['cpt80']:.3f} (random 0.500 / 0.500 / 0.800)"
        )
    ranks = ", ".join(
        f"{name} {'n/a' if value is None else f'{value:.3f}'}"
        for name, value in report["auc"].items()
    )
    print(line)
    print(f"AUC of each forecast for its outcomes (0.500: no ranking): {ranks}")
    print(f"report: {args.report}")
    return 0
