"""The boosters a bag's members fitted for one target, stacked into one LightGBM model.

A bag of K members made K booster calls per target on the serving path, and each call pays
LightGBM's per-call set-up: nine calls of 400 trees took about twice as long as three calls
of 1,200 trees on this project's 2-core machine, and the serving forecast 1.2-1.3 times as long
(`python bench/stacked_boosters.py`, side by side, identical forecasts). A multiclass model
with K trees per iteration, tree k of iteration i being member k's tree i, returns every
member's raw score in one call, bit for bit: its class k output is the sum of member k's
trees, which is member k's raw score.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

__all__ = ["stack_boosters"]

_HEADER_KEYS = ("num_class", "num_tree_per_iteration", "objective")


def stack_boosters(boosters: Sequence[Any]) -> Any | None:
    """One `lightgbm.Booster` whose raw-score output column k is `boosters[k]`'s raw score;
    None when they cannot be stacked (fewer than two, multiclass, or unequal tree counts)."""
    import lightgbm as lgb

    if len(boosters) < 2:
        return None
    texts = [b.model_to_string() for b in boosters]
    trees = [_trees(text) for text in texts]
    if any(len(t) != len(trees[0]) for t in trees) or any(
        b.num_model_per_iteration() != 1 for b in boosters
    ):
        return None
    k = len(boosters)
    header = texts[0].split("\nTree=", 1)[0] + "\n"
    header = re.sub(r"^tree_sizes=.*\n", "", header, flags=re.M)  # sizes of the old layout
    values = {"num_class": str(k), "num_tree_per_iteration": str(k)}
    values["objective"] = f"multiclass num_class:{k}"
    for key in _HEADER_KEYS:
        header, found = re.subn(rf"^{key}=.*$", f"{key}={values[key]}", header, flags=re.M)
        if found != 1:
            return None
    parts = [header]
    for i in range(len(trees[0])):
        for member in range(k):
            body = trees[member][i].split("\n", 1)[1]
            parts.append(f"Tree={i * k + member}\n{body.strip(chr(10))}\n\n")
    parts.append("end of trees" + texts[0].split("\nend of trees", 1)[1])
    return lgb.Booster(model_str="".join(parts))


def _trees(text: str) -> list[str]:
    """The `Tree=N` blocks of a LightGBM model text, in order."""
    body = text.split("\nTree=", 1)[1].split("\nend of trees", 1)[0]
    return ["Tree=" + block for block in body.split("\nTree=")]
