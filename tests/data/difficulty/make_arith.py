"""Regenerate arith.jsonl: synthetic word problems whose difficulty grows with their steps.

`direct` fails more often as the number of steps grows and spends few tokens; `think` is
mostly right and spends tokens in proportion to the steps. Run: python make_arith.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana"]
THINGS = ["apples", "coins", "books", "marbles", "stamps", "pencils"]


def main() -> None:
    rng = random.Random(7)
    rows = []
    for i in range(200):
        steps = rng.randint(1, 6)
        who, what = rng.choice(NAMES), rng.choice(THINGS)
        parts = [f"{who} has {rng.randint(2, 90)} {what}."]
        for _ in range(steps - 1):
            verb = rng.choice(["buys", "gives away", "finds", "loses", "doubles"])
            parts.append(f"Then {who} {verb} {rng.randint(2, 40)} more.")
        parts.append(f"How many {what} does {who} have now?")
        prompt = " ".join(parts)
        p_direct = max(0.05, 1.0 - 0.17 * steps)
        rows.append(
            {
                "id": f"arith-{i}",
                "prompt": prompt,
                "profile": "direct",
                "correct": rng.random() < p_direct,
                "tokens": 10 + 4 * steps + rng.randint(0, 5),
                "dataset": "arith",
            }
        )
        rows.append(
            {
                "id": f"arith-{i}",
                "prompt": prompt,
                "profile": "think",
                "correct": rng.random() < 0.95,
                "tokens": 150 * steps + rng.randint(0, 80),
                "dataset": "arith",
            }
        )
    out = Path(__file__).with_name("arith.jsonl")
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))


if __name__ == "__main__":
    main()
