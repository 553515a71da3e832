"""Build the shipped default model: `python -m difficulty.train_default` (a developer step).

Trains on the bundled datasets below minus the held-out split (`difficulty.split`): a held-out
item is never trained on, nor is any other item with the same prompt text. Prompts are embedded
with the static MiniLM table (`difficulty.static_minilm`): the gateway decides in about a
millisecond of CPU instead of a MiniLM forward pass.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from difficulty.outcomes import Outcome

__all__ = ["DEFAULT_DATASETS", "DEFAULT_PROFILES", "training_outcomes", "main"]

DEFAULT_DATASETS = ("mip-gsm8k", "mip-math")
# Qwen2.5-32B and QwQ-32B back the gateway's `direct` and `think` profiles; R1-Distill-Qwen-32B
# and s1.1 are the other thinking models on the same questions (and the same Qwen2.5 base).
# Other families (RouteLLM's gpt-4/mixtral) are left out: their token scale and prompts differ,
# and mixing them into one cost order would make the derived level meaningless.
DEFAULT_PROFILES = ("Qwen2.5-32B", "QwQ-32B", "R1-Distill-Qwen-32B", "s1.1")
REQUIRED_PROFILES = ("Qwen2.5-32B", "QwQ-32B")


def training_outcomes(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Rows the default model may learn from: not held out, and no prompt shared with one."""
    from difficulty.split import is_holdout

    held_prompts = {o.prompt.strip() for o in outcomes if is_holdout(o.id)}
    return [o for o in outcomes if not is_holdout(o.id) and o.prompt.strip() not in held_prompts]


def main(argv: Sequence[str] | None = None) -> int:
    """Cross-fit a report on the training part, fit on all of it, save with its metrics."""
    from difficulty.crossfit import ROUTING_MODEL_PARAMS
    from difficulty.datasets import load_dataset
    from difficulty.encoder import STATIC_ENCODER, Encoder
    from difficulty.evaluation import evaluation_report, json_ready
    from difficulty.model import DEFAULT_MODEL_DIR, DifficultyModel

    parser = argparse.ArgumentParser(prog="python -m difficulty.train_default")
    parser.add_argument("--out", default=str(DEFAULT_MODEL_DIR), help="model directory")
    parser.add_argument("--dataset", action="append", help="override the dataset list")
    parser.add_argument("--encoder", default=STATIC_ENCODER, help="prompt encoder")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--plain-head",
        action="store_true",
        help="P(correct) without the routing head (the trees boost from the default logistic "
        "head instead of a penalised one chosen by inner-fold AUC)",
    )
    args = parser.parse_args(argv)

    datasets = tuple(args.dataset or DEFAULT_DATASETS)
    rows: list[Outcome] = []
    for name in datasets:
        rows.extend(load_dataset(name))
    present = {o.profile for o in rows}
    missing = [p for p in REQUIRED_PROFILES if p not in present]
    if missing:
        print(f"error: profile(s) {missing} not in {datasets}", file=sys.stderr)
        return 2
    profiles = [p for p in DEFAULT_PROFILES if p in present]
    train = training_outcomes([o for o in rows if o.profile in profiles])
    encoder = Encoder(args.encoder)
    # The simulator's routing head (`ROUTING_HEAD`): with few failures per profile, a strongly
    # penalised linear start ranks them better than the default head on held-out folds.
    params = {} if args.plain_head else dict(ROUTING_MODEL_PARAMS)
    report = evaluation_report(
        train,
        folds=args.folds,
        seed=args.seed,
        encoder=encoder,
        profiles=profiles,
        model_params=params,
    )
    model = DifficultyModel(profiles=profiles, encoder=encoder, random_state=args.seed, **params)
    model.fit(train)
    model.metrics_ = json_ready(
        {
            "datasets": list(datasets),
            "holdout": "difficulty.split.is_holdout (20%, salted sha256 of the item id)",
            "training_rows": len(train),
            "cross_fitted": report,
        }
    )
    model.save(args.out)
    print(json.dumps(model.metrics_["cross_fitted"]["profiles"], indent=1))
    print(f"default model saved to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
