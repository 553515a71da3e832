"""Scoring a conversation's earlier user turn beside its latest: MT-Bench's second turns.

`python bench/conversation_figures.py` (about 2 min on 2 cores): a general model trained as
the shipped one but without routellm-mt-bench (at most 3,000 items a source, the held-out
split excluded) routes each second turn of MT-Bench between Mixtral (direct:mid) and GPT-4
(direct:strong), judged by the recorded judgments (score >= 8). The second turn is scored
four ways: the latest user message alone (`conversation.turns: 1`), both user turns joined
into one text, and each turn on its own keeping each profile's lower P(good), or their mean
(the default, `turns: 2`, router.conversation). Prints APGR, CPT(50%), the AUC of Mixtral's
forecast, and a paired bootstrap of the APGR difference (default minus latest-only). The 72
items are the only multi-turn outcomes bundled, and the ways were compared on them (the mean
was chosen over the lower P on the everyday dev prompts paired into two-turn chats): no
other set confirms.
"""

from __future__ import annotations

import collections
import sys
from typing import Any

import numpy as np


def main() -> int:
    from sklearn.metrics import roc_auc_score

    from difficulty.datasets import load_dataset
    from difficulty.descriptions import SOURCE_MODELS
    from difficulty.encoder import STATIC_ENCODER, Encoder
    from difficulty.general import GeneralModel
    from difficulty.general_data import GENERAL_SOURCES
    from difficulty.predictions import ProfilePrediction
    from difficulty.train_general import SHIPPED_BAGS, SHIPPED_BENEFIT, training_rows
    from policies.routing.metrics import apgr, cpt
    from router.conversation import thread_forecasts

    rows = training_rows([s for s in GENERAL_SOURCES if s != "routellm-mt-bench"], 3000)
    encoder = Encoder(STATIC_ENCODER)
    model = GeneralModel(encoder=encoder, benefit=SHIPPED_BENEFIT, n_bags=SHIPPED_BAGS)
    model.fit(rows, encoder.encode(rows.prompts))
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

    def forecasts(p: np.ndarray) -> list[dict[str, Any]]:
        return [{m: ProfilePrediction(row[j], None) for j, m in enumerate(pair)} for row in p]

    thread = np.array(
        [
            [f.p_correct for f in thread_forecasts(mine, [before]).values()]
            for mine, before in zip(forecasts(latest), forecasts(earlier), strict=True)
        ]
    )
    ways = {
        "latest user message only (turns: 1)": latest,
        "both turns joined into one text": joined,
        "each turn scored, the lower P kept": np.minimum(latest, earlier),
        "each turn scored, P averaged (turns: 2)": thread,
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
        a = apgr(thread[i, 1] - thread[i, 0], weak[i], strong[i])
        b = apgr(latest[i, 1] - latest[i, 0], weak[i], strong[i])
        diffs.append(a - b)
    d = np.array(diffs)
    print(f"APGR, turns 2 minus turns 1, paired bootstrap: median {np.median(d):+.3f}, "
          f"90% interval {np.percentile(d, 5):+.3f}..{np.percentile(d, 95):+.3f}, "
          f"above 0 in {np.mean(d > 0):.0%}")  # fmt: skip
    everyday_chats()
    return 0


def everyday_chats() -> None:
    """The dev everyday prompts (bench/data/everyday_dev.jsonl) paired into two-turn chats,
    routed by the shipped model with the example config: the share sent to `direct`."""
    import asyncio
    import itertools
    import json
    from pathlib import Path

    from router.app import load_predictor
    from router.conversation import thread_forecasts
    from router.pipeline import Pipeline
    from router.settings import load_settings

    root = Path(__file__).resolve().parent.parent
    lines = (root / "bench/data/everyday_dev.jsonl").read_text().splitlines()
    dev = [json.loads(line)["prompt"] for line in lines]
    settings = load_settings(root / "router/configs/replay.yaml")
    pipeline = Pipeline(settings, load_predictor(settings))
    policy, costs = pipeline.policy, pipeline.costs

    async def scored() -> dict[str, dict[str, Any]]:
        return {q: dict(await pipeline.score(q)) for q in dev}

    from policies.routing import decide

    scores = asyncio.run(scored())
    pipeline.close()
    pairs = list(itertools.permutations(dev, 2))

    def direct(forecasts: dict[str, Any]) -> bool:
        ref = settings.reference_profile
        return decide(policy, forecasts, costs, reference=ref).profile == "direct"

    def lower(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        return {k: min((a[k], b[k]), key=lambda f: f.p_correct) for k in b}

    shares = {
        "latest only (turns: 1)": [direct(scores[b]) for _, b in pairs],
        "the lower P": [direct(lower(scores[a], scores[b])) for a, b in pairs],
        "P averaged (turns: 2)": [
            direct(thread_forecasts(scores[b], [scores[a]])) for a, b in pairs
        ],
    }
    print(f"everyday dev prompts paired into {len(pairs)} two-turn chats, example config, "
          "share routed to direct:")  # fmt: skip
    for name, routed in shares.items():
        print(f"  {name:24s} {sum(routed) / len(routed):.1%}")


if __name__ == "__main__":
    sys.exit(main())
