"""The linear head: standardisation choices and the score it computes."""

from __future__ import annotations

import numpy as np

from difficulty.linear import LinearHead, fit_linear


def _data(n: int = 400, dim: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(n, dim)) * 0.05  # embedding-like: small per-column variance
    text = rng.normal(size=(n, 2)) * 10.0
    x = np.hstack([emb, text])
    y = (emb[:, 0] + 0.01 * rng.normal(size=n) > 0).astype(float)
    return x, y


def test_embedding_columns_keep_their_scale_unless_asked() -> None:
    x, y = _data()
    plain = fit_linear(x, y, "logistic", 0.3, embedding_dim=8)
    scaled = fit_linear(x, y, "logistic", 0.3, embedding_dim=8, standardise_embedding=True)
    np.testing.assert_allclose(plain.scale[:8], 1.0)
    np.testing.assert_allclose(scaled.scale[:8], x[:, :8].std(axis=0))
    np.testing.assert_allclose(plain.scale[8:], scaled.scale[8:])


def test_a_standardised_head_reads_a_small_scale_signal_under_a_strong_penalty() -> None:
    # Under C = 0.01 a unit-scale embedding column is penalised out of reach; at unit variance
    # the same penalty leaves it the dominant coefficient.
    x, y = _data()
    plain = fit_linear(x, y, "logistic", 0.01, embedding_dim=8)
    scaled = fit_linear(x, y, "logistic", 0.01, embedding_dim=8, standardise_embedding=True)
    assert int(np.argmax(np.abs(scaled.coef))) == 0
    hits = lambda h: float(((h.score(x) > np.median(h.score(x))) == (y > 0.5)).mean())  # noqa: E731
    assert hits(scaled) > 0.9 > hits(plain)


def test_json_round_trip() -> None:
    x, y = _data()
    head = fit_linear(x, y, "ridge", 1.0, embedding_dim=8, standardise_embedding=True)
    back = LinearHead.from_json(head.to_json(), x.shape[1])
    np.testing.assert_allclose(back.score(x), head.score(x))
