"""LedgerRecord round-trips through JSON and rejects rows it cannot read."""

from __future__ import annotations

import json

import pytest

from router.ledger import LedgerFormatError, LedgerRecord
from tests.router.ledger.conftest import make_record


def test_a_record_round_trips_through_json_text_and_dict() -> None:
    record = make_record(2, prompt="p", completion="c", gold="42")
    assert LedgerRecord.from_json(record.dumps()) == record
    assert LedgerRecord.from_json(record.to_json()) == record
    assert json.loads(record.dumps())["saved_by"] == {"routing": 1002.25, "early_exit": 500.0}


def test_optional_text_fields_may_be_absent_and_unknown_keys_are_ignored() -> None:
    row = make_record(1).to_json()
    for key in ("feedback", "prompt", "completion", "gold"):
        del row[key]
    row["added_in_a_later_version"] = 1
    record = LedgerRecord.from_json(row)
    assert (record.feedback, record.prompt, record.gold) == (None, None, None)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ({"request_id": "x"}, "missing field"),
    ],
)
def test_unreadable_rows_raise_a_typed_error(row: object, message: str) -> None:
    with pytest.raises(LedgerFormatError, match=message):
        LedgerRecord.from_json(row)  # type: ignore[arg-type]


def test_counts_must_be_numbers_and_the_id_a_string() -> None:
    row = make_record(1).to_json()
    with pytest.raises(LedgerFormatError, match="non-numeric"):
        LedgerRecord.from_json({**row, "completion_tokens": "many"})
    with pytest.raises(LedgerFormatError, match="request_id"):
        LedgerRecord.from_json({**row, "request_id": ""})


def test_numpy_scalars_from_model_predictions_are_written_as_numbers() -> None:
    import numpy as np

    record = make_record(1, predictions={"direct": {"p_correct": np.float32(0.5), "tokens": None}})
    assert json.loads(record.dumps())["predictions"] == {
        "direct": {"p_correct": 0.5, "tokens": None}
    }
    with pytest.raises(TypeError):
        make_record(1, early_exit={"answer": object()}).dumps()
