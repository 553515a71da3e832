"""Scoring a conversation's earlier user turn beside its latest: MT-Bench's second turns.

`python bench/conversation_figures.py` (about 3 min on 2 cores): a general model trained as
the shipped one but without routellm-mt-bench (at most 3,000 items a source, the held-out
split excluded) routes each second turn of MT-Bench between Mixtral (direct:mid) and GPT-4
(direct:strong), judged by the recorded judgments (score >= 8). The second turn is scored
three ways: the latest user message alone (`conversation.turns: 1`), both user turns joined
into one text, and each turn on its own keeping each profile's lowest P(good) (the default,
`turns: 2`, router.conversation). Prints APGR, CPT(50%), the AUC of Mixtral's forecast, and a
paired bootstrap of the APGR difference (default minus latest-only). The 72 items are the only
multi-turn outcomes bundled, and the three ways were compared on them: no other set confirms.
"""

from __future__ import annotations

import collections
import sys

import numpy as np


def main() -> int:
    from sklearn.metrics import roc_auc_score

    from difficulty.datasets import load_dataset
    from difficulty.descriptions import SOURCE_MODELS
    from difficulty.encoder import STATIC_ENCODER, Encoder
    from difficulty.general import GeneralModel
    from difficulty.general_data import GENERAL_SOURCES
    from difficulty.train_general import training_rows
    from policies.routing.metrics import apgr, cpt
    from router.conversation import lowest_forecasts

    rows = training_rows([s for s in GENERAL_SOURCES if s != "routellm-mt-bench"], 3000)
    encoder = Encoder(STATIC_ENCODER)
    model = GeneralModel(encoder=encoder).fit(rows, encoder.encode(rows.prompts))
    turns: dict[str, dict[int, dict[str, object]]] = collections.defaultdict(dict)
    for o in load_dataset("routellm-mt-bench"):
        question, turn = o.id.rsplit("-t", 1)
        slot = turns[question].setdefault(int(turn), {"prompt": o.prompt})
        slot[o.profile] = o.correct
    pair = ("mixtral", "gpt-4")
    items = [q for q, t in sorted(turns.items()) if 2 in t and all(m in t[2] for m in pair)]
    weak = np.array([turns[q][2][pair[0]] for q in items], dtype=float)
    strong = np.array([turns[q][2][pair[1]] for q in items], dtype=float)
    first = [str(turns[q][1]["prompt"]) for q in items]
    second = [str(turns[q][2]["prompt"]) for q in items]
    describe = [SOURCE_MODELS[m] for m in pair]
    print(f"MT-Bench second turns: {len(items)}; accuracy {pair[0]} {weak.mean():.1%}, "
          f"{pair[1]} {strong.mean():.1%} (a model that never saw MT-Bench)")  # fmt: skip

    def predict(texts: list[str]) -> np.ndarray:
        return np.asarray(model.predict(texts, describe, None)[0])

    latest, earlier = predict(second), predict(first)
    joined = predict([a + "\n\n" + b for a, b in zip(first, second, strict=True)])
    lowest = np.array(
        [
            [
                f.p_correct
                for f in lowest_forecasts(
                    {m: _P(latest[i, j]) for j, m in enumerate(pair)},
                    [{m: _P(earlier[i, j]) for j, m in enumerate(pair)}],
                ).values()
            ]
            for i in range(len(items))
        ]
    )
    ways = {
        "latest user message only (turns: 1)": latest,
        "both turns joined into one text": joined,
        "each turn scored, lowest kept (turns: 2)": lowest,
    }
    for name, p in ways.items():
        score = p[:, 1] - p[:, 0]
        print(f"  {name:42s} APGR {apgr(score, weak, strong):.3f}  "
              f"CPT(50%) {cpt(score, weak, strong, 0.5):.3f}  "
              f"AUC({pair[0]}) {roc_auc_score(weak, p[:, 0]):.3f}")  # fmt: skip
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(2000):
        i = rng.integers(0, len(items), len(items))
        if strong[i].mean() - weak[i].mean() < 0.02:
            continue
        a = apgr(lowest[i, 1] - lowest[i, 0], weak[i], strong[i])
        b = apgr(latest[i, 1] - latest[i, 0], weak[i], strong[i])
        diffs.append(a - b)
    d = np.array(diffs)
    print(f"APGR, turns 2 minus turns 1, paired bootstrap: median {np.median(d):+.3f}, "
          f"90% interval {np.percentile(d, 5):+.3f}..{np.percentile(d, 95):+.3f}, "
          f"above 0 in {np.mean(d > 0):.0%}")  # fmt: skip
    return 0


class _P:
    """A bare prediction: what lowest_forecasts reads."""

    def __init__(self, p_correct: float) -> None:
        self.p_correct = float(p_correct)


if __name__ == "__main__":
    sys.exit(main())
