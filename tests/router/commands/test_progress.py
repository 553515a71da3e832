"""Progress for the long commands: the cross-fit reports every fit, and the bar follows it."""

from __future__ import annotations

import io

from router.commands._progress import progress_bar


def test_the_cross_fit_reports_every_fit_to_the_bar() -> None:
    from difficulty.crossfit import cross_fit
    from difficulty.datasets import load_outcomes
    from difficulty.encoder import Encoder

    rows = [o for o in load_outcomes(None, ["mip-gsm8k"]) if o.profile in ("QwQ-32B", "s1.1")]
    ids = sorted({o.id for o in rows})[:120]
    calls: list[tuple[int, int]] = []
    out = io.StringIO()
    with progress_bar("cross-fitting", file=out) as progress:

        def both(done: int, total: int) -> None:
            calls.append((done, total))
            progress(done, total)

        cross_fit(
            [o for o in rows if o.id in set(ids)],
            folds=3,
            encoder=Encoder("minilm-static", use_cache=False, progress=False),
            progress=both,
        )
    assert calls == [(i, 6) for i in range(1, 7)]  # 3 folds x 2 profiles
    assert "cross-fitting" in out.getvalue() and "6/6" in out.getvalue()
