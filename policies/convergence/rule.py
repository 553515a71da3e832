"""The learned exit rule: how likely the current candidate is the answer the full trace ends on.

A logistic model over `policies.convergence.features`: a linear part plus, optionally, boosted
regression trees added to its log-odds. Fitted on the tuning half of the recorded traces by
`bench/fit_exit_rule.py`; its weights and trees ship as the data file `exit_rule.json` beside
this module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from importlib.resources import files
from typing import Any

import numpy as np

from policies.convergence.features import FEATURE_NAMES

__all__ = ["RULE_FILE", "Tree", "ExitRule", "default_rule", "squash", "standardised_sum"]


@dataclass(frozen=True)
class Tree:
    """One regression tree: node i splits on feature[i] <= threshold[i]; a leaf has feature -1."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    def __call__(self, x: Sequence[float]) -> float:
        node = 0
        while self.feature[node] >= 0:
            go_left = x[self.feature[node]] <= self.threshold[node]
            node = self.left[node] if go_left else self.right[node]
        return self.value[node]

    def to_list(self) -> list[list[float]]:
        """The tree as five parallel lists."""
        return [
            list(self.feature),
            list(self.threshold),
            list(self.left),
            list(self.right),
            list(self.value),
        ]

    @classmethod
    def from_list(cls, data: Sequence[Sequence[float]]) -> Tree:
        """The tree from `to_list`'s form."""
        feature, threshold, left, right, value = data
        return cls(
            tuple(int(v) for v in feature),
            tuple(float(v) for v in threshold),
            tuple(int(v) for v in left),
            tuple(int(v) for v in right),
            tuple(float(v) for v in value),
        )


@dataclass(frozen=True)
class ExitRule:
    """Standardise the features, weigh them, squash: P(candidate is the final answer)."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    # Thresholds chosen per model on its own tuning traces (a profile's `confidence`).
    model_thresholds: tuple[tuple[str, float], ...] = ()
    # Boosted trees over the raw features, added to the log-odds (interactions a line misses).
    trees: tuple[Tree, ...] = ()

    def __post_init__(self) -> None:
        if self.names != FEATURE_NAMES:
            raise ValueError("exit rule weights do not match the feature set; refit them")
        n = len(self.names)
        if any(f >= n for tree in self.trees for f in tree.feature):
            raise ValueError("exit rule trees use features it does not have")
        if any(_splits(tree) > _MAX_SPLITS for tree in self.trees):
            raise ValueError(f"exit rule trees may split at most {_MAX_SPLITS} times")
        if not len(self.mean) == len(self.scale) == len(self.weights) == len(self.names):
            raise ValueError("exit rule vectors differ in length")

    @classmethod
    def never(cls) -> ExitRule:
        """A rule that never exits (for recording checkpoints while fitting a new rule)."""
        n = len(FEATURE_NAMES)
        return cls(FEATURE_NAMES, (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0, 1.0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExitRule:
        """The rule from its JSON-ready form (see `to_dict`); fitting notes are ignored."""
        return cls(
            names=tuple(data["names"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            weights=tuple(float(v) for v in data["weights"]),
            bias=float(data["bias"]),
            threshold=float(data["threshold"]),
            model_thresholds=tuple(
                (str(k), float(v)) for k, v in dict(data.get("model_thresholds") or {}).items()
            ),
            trees=tuple(Tree.from_list(t) for t in data.get("trees") or ()),
        )

    def to_dict(self) -> dict[str, Any]:
        """The rule as plain lists and numbers."""
        return {
            "names": list(self.names),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
            "model_thresholds": dict(self.model_thresholds),
            "trees": [tree.to_list() for tree in self.trees],
        }

    def threshold_for(self, model: str) -> float:
        """The threshold fitted for this model's traces, else the shared one."""
        return dict(self.model_thresholds).get(model, self.threshold)

    def probability(self, features: Sequence[float]) -> float:
        """P(the candidate these features describe is the answer the full trace gives)."""
        z = standardised_sum(self.bias, features, self.mean, self.scale, self.weights)
        for tree in self.trees:
            z += tree(features)
        return squash(z)

    def probabilities(self, rows: Sequence[Sequence[float]]) -> list[float]:
        """`probability` of every row at once: what the watcher scores at each checkpoint.

        The same numbers, bit for bit: every term is computed as `probability` computes it and
        the terms are added in the same order (a running sum, not numpy's pairwise one).
        """
        if not rows:
            return []
        x = np.asarray(rows, dtype=np.float64)
        width = 1 + len(self.weights) + len(self.trees)
        terms = np.empty((len(rows), width), dtype=np.float64)
        terms[:, 0] = self.bias
        terms[:, 1 : 1 + len(self.weights)] = self._linear * (x - self._mean) / self._scale
        if self.trees:
            terms[:, 1 + len(self.weights) :] = self._forest.values(x)
        z = np.add.accumulate(terms, axis=1)[:, -1]
        return [squash(v) for v in z.tolist()]

    @cached_property
    def _linear(self) -> np.ndarray:
        return np.asarray(self.weights, dtype=np.float64)

    @cached_property
    def _mean(self) -> np.ndarray:
        return np.asarray(self.mean, dtype=np.float64)

    @cached_property
    def _scale(self) -> np.ndarray:
        return np.asarray(self.scale, dtype=np.float64)

    @cached_property
    def _forest(self) -> _Forest:
        return _Forest(self.trees)


def standardised_sum(
    z: float,
    features: Sequence[float],
    mean: Sequence[float],
    scale: Sequence[float],
    weights: Sequence[float],
) -> float:
    """`z` plus each weight times its standardised feature, added in order (the exit rule's
    and the history score's linear part)."""
    for x, m, s, w in zip(features, mean, scale, weights, strict=True):
        z += w * (x - m) / s
    return z


def squash(z: float) -> float:
    """The logistic function of log-odds `z`, clipped to +-30 first."""
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


class _Forest:
    """The trees as lookup tables: every split compared at once, each tree's outcomes read as
    the bits of an index into the leaves.

    Split j of a tree sets bit 2**j when its row goes left; a table of 2**splits entries a tree
    gives the leaf each pattern of bits reaches. Four numpy calls score every row and tree (the
    level-by-level walk took ~25): on a checkpoint's 1-8 rows numpy's per-call overhead, not
    arithmetic, is the cost.
    """

    def __init__(self, trees: Sequence[Tree]) -> None:
        width = max(_splits(tree) for tree in trees)
        feature: list[list[int]] = []
        threshold: list[list[float]] = []
        table: list[list[float]] = []
        for tree in trees:
            splits = [i for i, f in enumerate(tree.feature) if f >= 0]
            # Unused slots compare feature 0 with +inf: their bit is always set, no leaf reads it.
            padding = width - len(splits)
            feature.append([tree.feature[i] for i in splits] + [0] * padding)
            threshold.append([tree.threshold[i] for i in splits] + [math.inf] * padding)
            slot = {node: j for j, node in enumerate(splits)}
            table.append([_leaf(tree, slot, bits) for bits in range(2**width)])
        self.width = width
        self.feature = np.asarray(feature, dtype=np.intp).ravel()
        self.threshold = np.asarray(threshold, dtype=np.float64).ravel()
        self.table = np.asarray(table, dtype=np.float64)
        self.bit = 2 ** np.arange(width, dtype=np.intp)
        self.tree = np.arange(len(trees), dtype=np.intp)

    def values(self, x: np.ndarray) -> np.ndarray:
        """Each tree's leaf value for each row: shape (rows, trees)."""
        left = x.take(self.feature, axis=1) <= self.threshold  # take: 5x cheaper than x[:, i]
        return self.table[self.tree, left.reshape(len(x), len(self.tree), self.width) @ self.bit]


# Splits a tree may have: its lookup table holds 2**splits leaves (a full depth-3 tree has 7).
_MAX_SPLITS = 10


def _splits(tree: Tree) -> int:
    return sum(f >= 0 for f in tree.feature)


def _leaf(tree: Tree, slot: Mapping[int, int], bits: int) -> float:
    # The leaf reached when split `node` goes left exactly where bit slot[node] is set.
    node = 0
    while tree.feature[node] >= 0:
        node = tree.left[node] if bits >> slot[node] & 1 else tree.right[node]
    return tree.value[node]


# The shipped rule's data file, a resource of this package.
RULE_FILE = "exit_rule.json"


@cache
def default_rule() -> ExitRule:
    """The shipped rule (`exit_rule.json`), loaded once on first use."""
    text = files("policies.convergence").joinpath(RULE_FILE).read_text("utf-8")
    return ExitRule.from_dict(json.loads(text))
