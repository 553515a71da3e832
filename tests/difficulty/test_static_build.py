"""Fitting the static table: bag-of-token rows, the ridge solve, the seeded corpus sample."""

from __future__ import annotations

import numpy as np

from difficulty.static_build import TokenTable, corpus_prompts, fit_table, token_matrix

IDS = [[101, 7, 8, 102], [101, 8, 8, 9, 102], [101, 7, 102]]


def test_rows_are_weighted_token_shares() -> None:
    table = TokenTable(IDS, "none")
    assert list(table.token_ids) == [7, 8, 9, 101, 102]
    x = token_matrix(table).toarray()
    np.testing.assert_allclose(x.sum(axis=1), 1.0)
    np.testing.assert_allclose(x[1], [0, 2 / 5, 1 / 5, 1 / 5, 1 / 5])
    np.testing.assert_allclose(token_matrix(table, [2]).toarray(), x[2:])


def test_sif_weights_shrink_frequent_tokens() -> None:
    table = TokenTable(IDS, "sif")
    by_id = dict(zip(table.token_ids.tolist(), table.weights.tolist(), strict=True))
    assert by_id[9] > by_id[7] > by_id[101]  # 9 once, 7 twice, 101 in every prompt


def test_ridge_recovers_a_planted_table_and_keeps_the_prior_of_unseen_tokens() -> None:
    from scipy.sparse import csr_matrix

    rng = np.random.default_rng(0)
    n, v, d = 2000, 60, 5
    dense = rng.random((n, v - 1)) * (rng.random((n, v - 1)) < 0.1)
    dense[:, 0] += 0.01  # every row has a token
    dense = np.hstack([dense, np.zeros((n, 1))])  # the last token never occurs
    x = csr_matrix(dense / dense.sum(axis=1, keepdims=True))
    truth = rng.normal(size=(v, d))
    prior = rng.normal(size=(v, d))
    w = fit_table(x, np.asarray(x @ truth), prior, 1e-8, iters=2000, tol=1e-10)
    np.testing.assert_allclose(np.asarray(x @ w), np.asarray(x @ truth), atol=1e-4)
    # Rows sum to one, so the table is only identified up to one shift shared by every token.
    shift = w[:-1] - truth[:-1]
    np.testing.assert_allclose(shift, np.broadcast_to(shift.mean(axis=0), shift.shape), atol=1e-3)
    np.testing.assert_allclose(w[-1], prior[-1])
    strong = fit_table(x, np.asarray(x @ truth), prior, 1e6)
    np.testing.assert_allclose(strong, prior, atol=1e-2)  # strong ridge: the prior wins


def test_corpus_sample_is_seeded_and_capped() -> None:
    small = corpus_prompts(["routellm-gsm8k"], cap=50, seed=0)
    assert len(small) == 50 and small == sorted(small)
    assert small == corpus_prompts(["routellm-gsm8k"], cap=50, seed=0)
    assert small != corpus_prompts(["routellm-gsm8k"], cap=50, seed=1)
    assert set(small) <= set(corpus_prompts(["routellm-gsm8k"]))
