"""Fit the shipped stopping rule's prior and length confidence on all of boinf-math500.

    python bench/fit_stopping.py

Prints the fitted `ModeSharePrior` and `Confidence` and whether `policies.search.stopping`'s
DEFAULT_PRIOR / TOKEN_CONFIDENCE are the same fit (to 3 significant digits). Label-free: only
the samples' answers and lengths are used, never the gold answers.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_stopping import fit_rule, trials_of  # noqa: E402

from policies.search import DEFAULT_PRIOR, TOKEN_CONFIDENCE, StopRule  # noqa: E402


def _close(a: object, b: object) -> bool:
    fields = [f for f in vars(a) if isinstance(getattr(a, f), float)]
    return all(
        math.isclose(getattr(a, f), getattr(b, f), rel_tol=2e-3, abs_tol=2e-3) for f in fields
    )


def main() -> int:
    models = trials_of("boinf-math500")
    ids = {t.id for trials in models.values() for t in trials}
    rule = fit_rule(models, ids, StopRule())
    print(f"DEFAULT_PRIOR = {rule.prior!r}")
    print(f"TOKEN_CONFIDENCE = {rule.confidence!r}")
    same = _close(rule.prior, DEFAULT_PRIOR) and _close(rule.confidence, TOKEN_CONFIDENCE)
    print(
        "policies.search.stopping ships this fit"
        if same
        else "policies.search.stopping differs: update it"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
