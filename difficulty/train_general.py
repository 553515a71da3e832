"""Build the shipped general model: `python -m difficulty.train_general` (a developer step).

Trains on every bundled source in `GENERAL_SOURCES` (each source's models mapped onto
descriptions) minus the held-out split (`difficulty.split`), at most `--cap` items a source;
prompts are embedded with the static MiniLM table, cached under `out/` by the encoder's cache.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from difficulty.general_benefit import BENEFIT_RULES
from difficulty.general_data import GENERAL_SOURCES, DescribedRows

__all__ = ["GENERAL_CAP", "SHIPPED_BAGS", "SHIPPED_BENEFIT", "training_rows", "main"]

GENERAL_CAP = 3000  # items a source: faithful-cot's 10,037 would otherwise take a fifth of a fit
# The reasoning benefit the shipped model's gains read (difficulty.general_benefit); the benches
# that refit the model (transfer, conversations) fit it the same way.
SHIPPED_BENEFIT = "pairs"
# Complete models the shipped one averages (GeneralModel.n_bags): one fit's routing figures
# moved 3-6 points from seed to seed (bench/general_figures.py --seeds).
SHIPPED_BAGS = 3  # 5 was as stable on all but two figures and 0.6 ms slower a decision


def training_rows(
    sources: Sequence[str] = GENERAL_SOURCES, cap: int | None = GENERAL_CAP
) -> DescribedRows:
    """Described rows of `sources`, held-out items (and their prompts) left out."""
    from difficulty.datasets import load_dataset
    from difficulty.general_data import described_rows
    from difficulty.train_default import training_outcomes

    outcomes = [o for name in sources for o in load_dataset(name)]
    return described_rows(training_outcomes(outcomes), max_items_per_source=cap)


def main(argv: Sequence[str] | None = None) -> int:
    """Fit on the bundled sources and save with the training summary."""
    from difficulty.encoder import STATIC_ENCODER, Encoder
    from difficulty.general import GENERAL_MODEL_DIR, GeneralModel

    parser = argparse.ArgumentParser(prog="python -m difficulty.train_general")
    parser.add_argument("--out", default=str(GENERAL_MODEL_DIR), help="model directory")
    parser.add_argument("--source", action="append", help="override the source list")
    parser.add_argument("--cap", type=int, default=GENERAL_CAP, help="items per source")
    parser.add_argument(
        "--seed", type=int, default=0, help="members are fitted at seeds seed*bags+0..bags-1"
    )
    parser.add_argument(
        "--bags", type=int, default=SHIPPED_BAGS, help="complete models averaged (1: one fit)"
    )
    parser.add_argument(
        "--benefit",
        choices=(*BENEFIT_RULES, "none"),
        default=SHIPPED_BENEFIT,
        help="the reasoning benefit the gains read, by its target rule (default pairs, the "
        "shipped model's; none: no benefit input; difficulty.general_benefit)",
    )
    parser.add_argument(
        "--no-tier-balance",
        dest="tier_balance",
        action="store_false",
        help="weigh the base's rows by source alone (the model before this option)",
    )
    args = parser.parse_args(argv)

    sources = tuple(args.source or GENERAL_SOURCES)
    rows = training_rows(sources, args.cap)
    encoder = Encoder(STATIC_ENCODER)
    benefit = None if args.benefit == "none" else args.benefit
    model = GeneralModel(
        encoder=encoder,
        benefit=benefit,
        random_state=args.seed,
        tier_balance=args.tier_balance,
        n_bags=args.bags,
    )
    model.fit(rows, encoder.encode(rows.prompts))
    counts: dict[str, int] = {}
    for s in rows.source:
        counts[s] = counts.get(s, 0) + 1
    model.metrics_ = {
        "sources": sources,
        "rows_per_source": counts,
        "prompts": len(rows.prompts),
        "cap_per_source": args.cap,
        "holdout": "difficulty.split.is_holdout (20%, salted sha256 of the item id)",
        "novelty_threshold": model.novelty_.threshold,
    }
    model.save(args.out)
    print(json.dumps(model.metrics_, indent=1))
    print(f"general model saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
