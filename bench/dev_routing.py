"""Route every dev-grade prompt set with the example replay config: `python bench/dev_routing.py`.

    python bench/dev_routing.py [--model DIR]

The sets a variant of the general model may be chosen on (bench/data/FRESH.md says which have
been judged): the share of each everyday set routed to `direct` (the older set, everyday dev,
the first to sixth fresh sets) and of each competition set routed to `think` (AIME 2024, the
first to sixth fresh sets, 100 level-5 MATH train problems of the held-out split), with the
mean of each group. The fifth fresh sets were judged once at stop 25 (pairing within a source,
`bench/general_figures.py --final 5`), the sixth at stop 26 (the same shipped bag, `--final
6`); both are dev-grade since. A variant chosen here is judged once on the seventh sets
(`--final 7`), which nobody has looked at. ~10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from general_figures import _prompts, dev_math, replay_pipeline  # noqa: E402

EVERYDAY = (
    "everyday_prompts",
    "everyday_dev",
    "everyday_fresh",
    "everyday_fresh2",
    "everyday_fresh3",
    "everyday_fresh4",
    "everyday_fresh5",
    "everyday_fresh6",
)
COMPETITION = (
    "competition_math",
    "competition_fresh",
    "competition_fresh2",
    "competition_fresh3",
    "competition_fresh4",
    "competition_fresh5",
    "competition_fresh6",
)


def shares(model_dir: str | None) -> dict[str, float]:
    """Share of each set routed to its expected profile."""
    pipeline = replay_pipeline(model_dir)

    async def share(prompts: list[str], profile: str) -> float:
        routed = [await pipeline.route("thinkgate/auto", p) for p in prompts]
        return float(np.mean([r.profile == profile for r in routed]))

    out = {name: asyncio.run(share(_prompts(f"{name}.jsonl"), "direct")) for name in EVERYDAY}
    out |= {name: asyncio.run(share(_prompts(f"{name}.jsonl"), "think")) for name in COMPETITION}
    out["math_l5_dev"] = asyncio.run(share(dev_math(), "think"))
    pipeline.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/dev_routing.py")
    parser.add_argument("--model", help="a general model directory (default: the shipped one)")
    args = parser.parse_args()
    out = shares(args.model)
    for name, value in out.items():
        print(f"{name:<20} {100 * value:5.1f}%")
    day = np.mean([out[n] for n in EVERYDAY])
    comp = np.mean([out[n] for n in (*COMPETITION, "math_l5_dev")])
    print(f"mean: everyday -> direct {100 * day:.1f}%, competition -> think {100 * comp:.1f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
