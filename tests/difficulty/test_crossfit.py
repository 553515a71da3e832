"""Cross-fitting: folds by item, every item scored by a model that never saw it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from difficulty.crossfit import CrossFitted, assign_folds, cross_fit
from difficulty.encoder import Encoder
from difficulty.errors import InvalidInputError
from difficulty.outcomes import Outcome, read_outcomes

PARAMS = {"n_estimators": 40, "calibration_folds": 2}
ARITH = Path(__file__).resolve().parents[1] / "data" / "difficulty" / "arith.jsonl"


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    return Encoder(cache_dir=tmp_path_factory.getbasetemp() / "embeddings", progress=False)


@pytest.fixture(scope="module")
def outcomes() -> list[Outcome]:
    return read_outcomes(ARITH)


@pytest.fixture(scope="module")
def cf(outcomes: list[Outcome], encoder: Encoder) -> CrossFitted:
    return cross_fit(outcomes, folds=3, seed=1, encoder=encoder, model_params=PARAMS)


def test_assign_folds_is_seeded_and_balanced() -> None:
    ids = [f"i{k}" for k in range(100)]
    a, b = assign_folds(ids, 5, 0), assign_folds(ids, 5, 0)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, assign_folds(ids, 5, 1))
    assert np.bincount(a).tolist() == [20] * 5


def test_groups_share_a_fold() -> None:
    ids = [f"i{k}" for k in range(40)]
    groups = [f"g{k // 4}" for k in range(40)]
    fold = assign_folds(ids, 5, 0, groups=groups)
    for g in range(10):
        assert len(set(fold[g * 4 : g * 4 + 4])) == 1


def test_strata_are_spread_evenly() -> None:
    ids = [f"i{k}" for k in range(100)]
    strata = ["fail" if k % 10 == 0 else "ok" for k in range(100)]
    fold = assign_folds(ids, 5, 3, strata=strata)
    failing = fold[[k for k in range(100) if strata[k] == "fail"]]
    assert np.bincount(failing, minlength=5).tolist() == [2] * 5
    assert np.bincount(fold).tolist() == [20] * 5


def test_too_few_items_or_folds() -> None:
    with pytest.raises(InvalidInputError):
        assign_folds(["a", "b"], 3, 0)
    with pytest.raises(InvalidInputError):
        assign_folds(["a", "b"], 1, 0)


def test_every_item_scored_with_actuals_beside(cf: CrossFitted, outcomes: list[Outcome]) -> None:
    n = len({o.id for o in outcomes})
    assert len(cf) == n == len(cf.prompts) == len(cf.fold)
    assert cf.profiles == ["direct", "think"]
    for m in (cf.p_correct, cf.tokens, cf.correct, cf.actual_tokens):
        assert m.shape == (n, 2)
    assert not np.isnan(cf.p_correct).any()
    assert set(np.unique(cf.fold)) == {0, 1, 2}
    first = next(o for o in outcomes if o.id == cf.item_ids[0] and o.profile == "think")
    assert cf.correct[0, 1] == float(first.correct)
    assert cf.actual_tokens[0, 1] == first.tokens


def test_out_of_fold_predictions_carry_signal(cf: CrossFitted) -> None:
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(cf.correct[:, 0], cf.p_correct[:, 0]) > 0.7
    assert spearmanr(cf.tokens[:, 1], cf.actual_tokens[:, 1])[0] > 0.7


def test_predictions_are_out_of_fold(
    cf: CrossFitted, outcomes: list[Outcome], encoder: Encoder
) -> None:
    # A model trained on all rows fits its own items better than the cross-fitted ones do.
    from difficulty.model import DifficultyModel

    full = DifficultyModel(encoder=encoder, **PARAMS, random_state=1).fit(outcomes)
    insample = full.predict(cf.prompts).tokens[:, 1]
    err_in = np.abs(np.log(insample) - np.log(cf.actual_tokens[:, 1])).mean()
    err_cf = np.abs(np.log(cf.tokens[:, 1]) - np.log(cf.actual_tokens[:, 1])).mean()
    assert err_in < err_cf


def test_cross_fit_matches_models_fitted_fold_by_fold(
    cf: CrossFitted, outcomes: list[Outcome], encoder: Encoder
) -> None:
    # The features are computed once for every fold; each fold's forecasts are still exactly
    # those of a DifficultyModel fitted on the other folds' items.
    from difficulty.items import ItemTable
    from difficulty.model import DifficultyModel

    table = ItemTable.from_outcomes(outcomes)
    test = cf.fold == 0
    model = DifficultyModel(encoder=encoder, **PARAMS, random_state=1)
    model.fit_table(table.subset(~test))
    preds = model.predict([p for p, t in zip(table.prompts, test, strict=True) if t])
    np.testing.assert_allclose(cf.p_correct[test], preds.p_correct)
    np.testing.assert_allclose(cf.tokens[test], preds.tokens)


def test_a_routing_head_changes_only_the_correctness_forecasts(
    cf: CrossFitted, outcomes: list[Outcome], encoder: Encoder
) -> None:
    head = {"linear_grid": (0.001, 0.01), "linear_only": True}
    routed = cross_fit(
        outcomes, folds=3, seed=1, encoder=encoder, model_params=PARAMS, correct_head=head
    )
    np.testing.assert_array_equal(routed.fold, cf.fold)
    np.testing.assert_allclose(routed.tokens, cf.tokens)
    assert not np.allclose(routed.p_correct, cf.p_correct)
    with pytest.raises(TypeError):
        cross_fit(outcomes, folds=3, seed=1, encoder=encoder, correct_head={"no_such": 1})
