"""`thinkgate train --from-ledger URL`: fit per-profile heads on the exploration share's pairs.

Each counterfactual record answers one prompt on two profiles, so the rows carry what the
operator's own traffic cannot otherwise give: how another profile did on the same prompt. The
heads are a `DifficultyModel` (use them with `model_dir` and each profile's `predictor`).
Training refuses (an error, exit 2, nothing saved) when there are fewer labelled pairs than
`--min-pairs`, or when the heads' AUC on a held-out part of the pairs is not above the shipped
general model's on the same part.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from difficulty.errors import InvalidInputError
from difficulty.outcomes import Outcome
from router.ledger.counterfactual import CounterfactualRecord

__all__ = [
    "MIN_PAIRS",
    "TrainingRefusedError",
    "LedgerRow",
    "ledger_rows",
    "pair_outcomes",
    "read_pairs",
    "pair_folds",
    "auc_gap",
    "run_from_ledger",
]

# Fewer labelled pairs than this cannot support a model: at 200 pairs (MMLU, 5 folds) the 90%
# interval of the cross-fitted AUC gain over the shipped model was still -0.049 to +0.039. A
# 150-request export trained to AUC 0.37 / 0.41 and was saved before this check existed.
MIN_PAIRS = 200


class TrainingRefusedError(InvalidInputError):
    """The ledger's pairs cannot support a model better than the shipped one."""

    code = "training_refused"


@dataclass(frozen=True)
class LedgerRow:
    """One side of a labelled pair: the prompt, the profile, whether it was good."""

    pair: str  # the request id: both sides of a pair stay on the same side of the split
    prompt: str
    profile: str
    good: bool
    tokens: int
    description: dict[str, str] | None
    p_correct: float | None  # the serving model's prediction at decision time


def ledger_rows(
    pairs: Sequence[CounterfactualRecord], feedback: dict[str, bool]
) -> tuple[list[LedgerRow], dict[str, int]]:
    """The rows of every pair with a prompt and both sides labelled, and counts of the rest.

    A client's feedback labels the chosen side when nothing else did; when the two extracted
    answers differed, a chosen answer the client called good makes the other one bad.
    """
    rows: list[LedgerRow] = []
    counts = {"pairs": len(pairs), "labelled": 0, "unlabelled": 0, "no_prompt": 0}
    for pair in pairs:
        chosen, alt = pair.chosen.good, pair.alternative.good
        said = feedback.get(pair.request_id)
        if chosen is None and said is not None:
            chosen = said
            if alt is None and said and pair.agree is False:
                alt = False
        if chosen is None or alt is None or pair.error is not None:
            counts["unlabelled"] += 1
            continue
        if not pair.prompt:
            counts["no_prompt"] += 1
            continue
        counts["labelled"] += 1
        for side, good in ((pair.chosen, chosen), (pair.alternative, alt)):
            rows.append(
                LedgerRow(
                    pair.request_id,
                    pair.prompt,
                    side.profile,
                    bool(good),
                    int(side.completion_tokens),
                    side.description,
                    side.p_correct,
                )
            )
    return rows, counts


def pair_folds(rows: Sequence[LedgerRow], folds: int, seed: int) -> list[int]:
    """Each row's fold: pairs shuffled by the seed and dealt round, both sides in one fold."""
    ids = sorted({r.pair for r in rows})
    random.Random(seed).shuffle(ids)
    fold = {pair: i % folds for i, pair in enumerate(ids)}
    return [fold[r.pair] for r in rows]


def auc_gap(
    rows: Sequence[LedgerRow],
    new: Sequence[float],
    shipped: Sequence[float],
    *,
    resamples: int = 200,
    seed: int = 0,
) -> tuple[float, float, tuple[float, float]]:
    """AUC of the new and the shipped scores on `rows`, and a 90% interval of their difference
    from resampling whole pairs (pure: the seed is passed in)."""
    labels = [r.good for r in rows]
    by_pair: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        by_pair.setdefault(r.pair, []).append(i)
    groups = list(by_pair.values())
    rng = random.Random(seed)
    gaps: list[float] = []
    for _ in range(resamples):
        idx = [i for _ in groups for i in rng.choice(groups)]
        ys = [labels[i] for i in idx]
        if len(set(ys)) == 2:
            gaps.append(_auc(ys, [new[i] for i in idx]) - _auc(ys, [shipped[i] for i in idx]))
    gaps.sort()
    low = gaps[int(0.05 * len(gaps))] if gaps else math.nan
    high = gaps[int(0.95 * len(gaps)) - 1] if gaps else math.nan
    return _auc(labels, new), _auc(labels, shipped), (low, high)


def pair_outcomes(rows: Sequence[LedgerRow]) -> list[Outcome]:
    """The rows as an outcome table (one row per prompt and profile)."""
    return [Outcome(r.pair, r.prompt, r.profile, r.good, r.tokens, "ledger") for r in rows]


def _shipped_scores(rows: Sequence[LedgerRow], general_dir: str | None) -> list[float]:
    """The shipped general model's P(good) for each row's described profile; a row without a
    description keeps the prediction served at the time (0.5 when none was recorded)."""
    from difficulty.descriptions import Description
    from difficulty.general import GENERAL_MODEL_DIR, GeneralModel

    model = GeneralModel.load(general_dir or GENERAL_MODEL_DIR)
    scores = [0.5 if r.p_correct is None else float(r.p_correct) for r in rows]
    described = {
        i: Description(r.description["effort"], r.description["strength"])
        for i, r in enumerate(rows)
        if r.description is not None
    }
    if described:
        kinds = sorted(set(described.values()), key=str)
        p, _ = model.predict([rows[i].prompt for i in described], kinds)
        for j, (i, d) in enumerate(described.items()):
            scores[i] = float(p[j, kinds.index(d)])
    return scores


def _auc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score([int(v) for v in labels], list(scores)))


async def read_pairs(url: str) -> tuple[list[CounterfactualRecord], dict[str, bool]]:
    """The ledger's counterfactual records and its feedback labels by request id."""
    from router.exploration import counterfactual_store
    from router.ledger.base import open_ledger

    ledger = open_ledger(url, create=False)
    try:
        store = counterfactual_store(ledger)
        if store is None:
            raise InvalidInputError(f"the ledger at {url} keeps no counterfactual records")
        pairs = await store.counterfactual_records()
        labelled = await ledger.records(labelled_only=True)
    finally:
        await ledger.close()
    return pairs, {r.request_id: bool(r.feedback) for r in labelled}


def run_from_ledger(args: argparse.Namespace) -> int:
    """Gate the heads fitted on the ledger's pairs against the shipped model; save on success."""
    from difficulty.encoder import Encoder
    from difficulty.extras import TRAIN_MODULES, require
    from difficulty.model import DifficultyModel
    from difficulty.static_minilm import STATIC_ENCODER

    require(TRAIN_MODULES, "thinkgate train --from-ledger")
    pairs, feedback = asyncio.run(read_pairs(args.from_ledger))
    rows, counts = ledger_rows(pairs, feedback)
    if args.folds < 2:
        raise InvalidInputError("--folds must be at least 2")
    if counts["labelled"] < args.min_pairs:
        hint = ""
        if counts["no_prompt"]:
            hint = f"; {counts['no_prompt']} labelled pairs lack the prompt (set ledger.store_text)"
        raise TrainingRefusedError(
            f"refusing to train: {counts['labelled']} labelled counterfactual pairs, fewer than "
            f"the {args.min_pairs} a model needs ({counts['pairs']} pairs stored, "
            f"{counts['unlabelled']} unlabelled{hint}); nothing saved"
        )
    labels = [r.good for r in rows]
    if len(set(labels)) < 2:
        raise TrainingRefusedError(
            "refusing to train: every labelled pair side is labelled the same; nothing saved"
        )
    encoder = Encoder(args.encoder or STATIC_ENCODER, progress=False)

    def fit(on: Sequence[LedgerRow]) -> DifficultyModel:
        model = DifficultyModel(encoder=encoder, random_state=args.seed)
        return model.fit(pair_outcomes(on))

    # Cross-fitted: every pair is held out once, scored by heads fitted on the other folds.
    fold = pair_folds(rows, args.folds, args.seed)
    new = [0.5] * len(rows)
    for k in range(args.folds):
        held = [i for i, f in enumerate(fold) if f == k]
        heads = fit([r for r, f in zip(rows, fold, strict=True) if f != k])
        predicted = heads.predict([rows[i].prompt for i in held])
        column = {name: j for j, name in enumerate(predicted.profiles)}
        for j, i in enumerate(held):
            if rows[i].profile in column:
                new[i] = float(predicted.p_correct[j, column[rows[i].profile]])
    shipped = _shipped_scores(rows, args.general_model)
    new_auc, shipped_auc, (low, high) = auc_gap(rows, new, shipped, seed=args.seed)
    figures = (
        f"{counts['labelled']} labelled pairs, {args.folds}-fold held out: AUC {new_auc:.3f}, "
        f"shipped general model {shipped_auc:.3f} (difference 90% interval {low:+.3f} to "
        f"{high:+.3f})"
    )
    if not new_auc > shipped_auc or (args.sure and not low > 0.0):
        worse = "not sure to be" if new_auc > shipped_auc else "not"
        raise TrainingRefusedError(
            f"refusing to save: {figures}: the heads are {worse} better than the shipped model"
        )
    print(figures)
    if args.out:
        model = fit(rows)  # the gate passed: fit on every pair
        model.metrics_ = _report(counts, new_auc, shipped_auc, (low, high))
        model.save(args.out)
        print(f"per-profile heads for {', '.join(model.profiles_)} saved to {args.out}")
    return 0


def _report(
    counts: dict[str, int], new: float, shipped: float, gap: tuple[float, float]
) -> dict[str, Any]:
    figures = {"auc": new, "shipped_auc": shipped, "auc_gap_90": list(gap)}
    return {"source": "ledger", **counts, **figures}
