"""Calibration book: shadow records answer for every threshold, cold start, shadow share."""

from __future__ import annotations

import pytest

from policies.convergence.calibration import (
    CalibrationBook,
    CalibrationSettings,
    ShadowRecord,
    in_shadow,
    seed_rows,
)


def _record(final: str = "42", early: str = "42", model: str = "m") -> ShadowRecord:
    return ShadowRecord(model, "math", ((0.5, "7", 100), (0.97, early, 300)), 1000, final)


def test_exit_at_reads_the_first_entry_at_or_above() -> None:
    record = _record()
    assert record.exit_at(0.4) == ("7", 100)
    assert record.exit_at(0.9) == ("42", 300)
    assert record.exit_at(0.99) is None
    assert ShadowRecord.from_json(record.to_json()) == record


def test_cold_start_shadows_everything_then_certifies() -> None:
    book = CalibrationBook(CalibrationSettings())
    assert book.threshold("m", "math") is None
    assert book.shadow("m", "math", "any")
    for _ in range(book.settings.streams_needed - 1):
        book.add(_record())
    assert not book.certified("m", "math")
    book.add(_record())
    # Above 0.5 every record exits at 0.97 unchanged; 0.5 would change every one.
    assert book.threshold("m", "math") == 0.51
    assert book.threshold("other", "math") is None
    row = book.summary()[0]
    assert row["sample_size"] == 299 and row["changed_rate"] == 0.0
    assert row["saved_share_on_shadow"] == pytest.approx(0.7)
    assert 0 < row["changed_rate_bound"] <= 0.0101
    # Looks at 299, 598, 1196, ...: each spends half of what is left of the miss probability.
    settings = book.settings
    assert [n for n in range(1, 1300) if settings.look_at(n) is not None] == [299, 598, 1196]
    assert settings.look_delta(0) == 0.05 and settings.look_delta(1) == 0.025


def test_changed_records_keep_the_threshold_high() -> None:
    book = CalibrationBook()
    book.extend(_record(final="41") for _ in range(600))
    assert book.threshold("m", "math") is None  # every would-be exit changes the answer
    assert book.summary()[0]["threshold"] is None


def test_after_certification_only_the_share_shadows() -> None:
    book = CalibrationBook(CalibrationSettings(shadow_share=0.1))
    book.extend(_record() for _ in range(300))
    shadows = sum(book.shadow("m", "math", f"r{i}") for i in range(2000))
    assert 150 < shadows < 250
    assert in_shadow("x", 1.0) and not in_shadow("x", 0.0)


def test_settings_from_config() -> None:
    settings = CalibrationSettings.from_config({"max_changed_answers": 0.02, "shadow_share": 0.2})
    assert settings.max_changed_answers == 0.02 and settings.shadow_share == 0.2
    with pytest.raises(ValueError):
        CalibrationSettings.from_config({"bogus": 1})
    with pytest.raises(ValueError):
        CalibrationSettings(shadow_share=2)


def test_a_seed_takes_a_look_at_its_end() -> None:
    # 400 offline records: certified at 400 (the seed's look), not at the next scheduled 598.
    book = CalibrationBook()
    book.seed([_record() for _ in range(400)])
    assert book.certified("m", "math") and book.looks[("m", "math")] == 1
    assert book.summary()[0]["certified_at"] == 400
    rows = seed_rows([_record(), _record(model="n"), _record()])
    assert [r.get("look", False) for r in rows] == [False, True, True]
    assert all(r["seed"] and r["threshold"] is None for r in rows)
    book.extend(_record() for _ in range(198))  # the scheduled look at 598 is the second one
    assert book.looks[("m", "math")] == 2


def test_the_rate_is_over_streams_unless_configured() -> None:
    # 299 streams, 100 of which exit at 0.97 (unchanged) and 199 never reach it.
    never = ShadowRecord("m", "math", ((0.5, "7", 100),), 1000, "42")
    records = [_record()] * 100 + [never] * 199
    over_streams = CalibrationBook()
    over_streams.extend(records)
    assert over_streams.threshold("m", "math") == 0.51
    assert over_streams.summary()[0]["changed_rate_over"] == "streams"
    settings = CalibrationSettings.from_config({"changed_rate_over": "exits"})
    over_exits = CalibrationBook(settings)
    over_exits.extend(records)
    assert not over_exits.certified("m", "math")  # 100 exits cannot certify 1% at 5%
    with pytest.raises(ValueError, match="changed_rate_over"):
        CalibrationSettings(changed_rate_over="requests")
