"""A fitted general model judged on an outcome table it was not fitted on: each of the table's
profiles described (effort, strength), RouteLLM's APGR and CPT for a pair of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from difficulty.descriptions import Description
from difficulty.errors import InvalidInputError
from difficulty.items import ItemTable
from difficulty.outcomes import Outcome

__all__ = ["MIN_GAP", "SOURCE_PAIRS", "pair_report"]

# Below this accuracy gap APGR is noise divided by a near-zero gap (gpt-4 direct vs CoT on
# faithful-cot: 74.5% both), so the pair reports no APGR.
MIN_GAP = 0.02

# The (cheaper, stronger) pair each bundled source is judged on in the transfer figure.
SOURCE_PAIRS: dict[str, list[tuple[str, str]]] = {
    "faithful-cot": [
        (f"{m}:direct", f"{m}:cot")
        for m in (
            "code-davinci-001",
            "text-davinci-002",
            "text-davinci-003",
            "code-davinci-002",
            "gpt-3.5-turbo",
            "gpt-4",
        )
    ],
    "routellm-gsm8k": [("mixtral", "gpt-4")],
    "routellm-mmlu": [("mixtral", "gpt-4")],
    "routellm-mt-bench": [("mixtral", "gpt-4")],
    "mip-gsm8k": [("Qwen2.5-32B", "QwQ-32B")],
    "mip-math": [("Qwen2.5-32B", "QwQ-32B")],
    "alpacaeval": [("gpt-3.5-turbo-1106", "gpt-4-1106")],
    "zeroeval-crux": [("gpt-4o", "o1-preview")],
}


def pair_report(
    model: Any,
    outcomes: Sequence[Outcome],
    pair: tuple[str, str],
    describe: Mapping[str, Description],
    embeddings: Mapping[str, np.ndarray] | None = None,
) -> dict[str, Any]:
    """APGR, CPT(50/80%), accuracies and each forecast's AUC of routing `pair` (cheaper,
    stronger) on `outcomes` by the model's forecast gain of the stronger description; no
    fitting on the table.
    `embeddings` (optional) maps prompt text to its embedding."""
    from policies.routing.metrics import apgr, cpt

    missing = [name for name in pair if name not in describe]
    if missing:
        raise InvalidInputError(f"no description for profile {missing[0]!r} (--describe)")
    rows = [o for o in outcomes if o.profile in pair]
    if not rows:
        raise InvalidInputError(f"the outcomes have no rows for {pair[0]} or {pair[1]}")
    table = ItemTable.from_outcomes(rows, list(pair))
    both = ~np.isnan(table.correct).any(axis=1)
    prompts = [p for p, ok in zip(table.prompts, both, strict=True) if ok]
    correct = table.correct[both]
    vectors = None
    if embeddings is not None:
        vectors = np.stack([embeddings[p] for p in prompts])
    p, _ = model.predict(prompts, [describe[pair[0]], describe[pair[1]]], vectors)
    weak, strong = correct[:, 0], correct[:, 1]
    out: dict[str, Any] = {
        "pair": list(pair),
        "items": int(len(prompts)),
        "accuracy": {pair[0]: float(weak.mean()), pair[1]: float(strong.mean())},
        # Whether the forecasts rank this table's outcomes at all (0.5: no; below: upside
        # down): what an APGR under 0.5 on an unseen source comes from.
        "auc": {pair[0]: _auc_or_none(weak, p[:, 0]), pair[1]: _auc_or_none(strong, p[:, 1])},
    }
    if strong.mean() - weak.mean() < MIN_GAP:
        out["apgr"] = None  # no gap to recover: PGR divides by it

        return out
    score = p[:, 1] - p[:, 0]
    out.update(
        apgr=apgr(score, weak, strong),
        cpt50=cpt(score, weak, strong, 0.5),
        cpt80=cpt(score, weak, strong, 0.8),
    )
    return out


def _auc_or_none(correct: np.ndarray, p: np.ndarray) -> float | None:
    """ROC AUC of a profile's forecasts for its outcomes; None when every outcome is alike."""
    from difficulty.evaluation import auc

    value = auc(correct, p)
    return None if np.isnan(value) else value
