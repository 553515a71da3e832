"""The novelty index: distance to the nearest training prompts, and its threshold."""

from __future__ import annotations

import numpy as np

from difficulty.novelty import NoveltyIndex


def test_training_points_are_familiar_and_far_points_novel(tmp_path) -> None:
    rng = np.random.default_rng(0)
    centre = rng.normal(size=16)
    train = centre + 0.1 * rng.normal(size=(500, 16))
    index = NoveltyIndex.fit(train, size=300, random_state=0)
    assert 0.0 < index.threshold < 0.05
    assert index.score(train[0]) < index.threshold or index.score(train[0]) < 0.05
    far = -centre
    assert index.score(far) > 1.5 > index.threshold
    index.save(tmp_path / "n.npz")
    again = NoveltyIndex.load(tmp_path / "n.npz")
    assert again.threshold == index.threshold
    assert abs(again.score(far) - index.score(far)) < 1e-3
