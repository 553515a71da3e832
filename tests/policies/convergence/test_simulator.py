"""Offline replay of hand-made traces through the watcher."""

from __future__ import annotations

from difficulty.traces import Chunk, Trace
from policies.convergence.simulator import (
    choose_params,
    frontier,
    oracle_chunk,
    replay,
    replay_trace,
    split_traces,
    summarize,
    sweep,
    token_deltas,
)
from policies.convergence.watcher import WatcherParams

PAD = "I go over the arithmetic once more, slowly, line by line, to be thorough here. "
PARAMS = WatcherParams(rule="streak", k=2, interval_tokens=20, min_tokens=20, hesitation_window=10)


def _trace(item: str, stated: str, gold: str | None, final: str | None = None) -> Trace:
    reasoning = PAD * 2 + f"So the answer is {stated}. " + PAD * 10
    return Trace(
        id=item,
        prompt="q",
        gold=gold,
        reasoning=reasoning,
        final=final if final is not None else f"\\boxed{{{stated}}}",
    )


def test_token_deltas_rebuild_the_text() -> None:
    text = "So 9 * 60 = 540.\n\nDone  "
    assert "".join(token_deltas(text)) == text
    assert token_deltas("ab 12") == ["ab", " 1", "2"]


def test_settled_trace_exits_early_with_the_right_answer() -> None:
    result = replay_trace(_trace("a", "540", "540"), PARAMS)
    assert result.exited
    assert result.answer_exit == "540" and result.correct_exit and result.correct_full
    assert 0 < result.tokens_at_exit < result.tokens_full


def test_premature_exit_is_counted() -> None:
    # The trace states 12 early, then its final answer is 13 (right): the exit is premature.
    wrong_early = _trace("b", "12", "13", final="\\boxed{13}")
    results = replay([_trace("a", "540", "540"), wrong_early], PARAMS)
    summary = summarize(results)
    assert summary["n"] == 2 and summary["exits"] == 2
    assert summary["accuracy_full"] == 1.0 and summary["accuracy_exit"] == 0.5
    assert summary["premature_exits"] == 1
    assert 0 < summary["tokens_saved"] < 1


def test_no_exit_keeps_the_full_answer_and_tokens() -> None:
    trace = Trace(id="c", prompt="q", gold="5", reasoning=PAD * 10, final="\\boxed{5}")
    result = replay_trace(trace, PARAMS)
    assert not result.exited
    assert result.tokens_at_exit == result.tokens_full
    assert result.correct_exit is True


def test_ungraded_traces_report_forced_answers() -> None:
    summary = summarize(replay([_trace("m", "7", None), _trace("n", "8", None)], PARAMS))
    assert summary["accuracy_full"] is None and summary["accuracy_exit"] is None
    assert summary["forced_answer_share"] == 1.0


def test_oracle_chunk_is_where_accuracy_stays_high() -> None:
    chunks = [Chunk("a", 0.5), Chunk("b", 0.95), Chunk("c", 0.8), Chunk("d", 0.9), Chunk("e", 1)]
    assert oracle_chunk(chunks) == 3
    assert oracle_chunk([Chunk("a", 0.95), Chunk("b", 0.2)]) is None


def test_chunked_trace_compares_exit_with_the_oracle() -> None:
    head = PAD * 2 + "So the answer is 540. "
    tail = PAD * 10
    chunks = (Chunk(PAD * 2, 0.3), Chunk("So the answer is 540. ", 0.97), Chunk(tail, 1.0))
    trace = Trace(id="o", prompt="q", gold="540", reasoning=head + tail, final="540", chunks=chunks)
    result = replay_trace(trace, PARAMS)
    assert result.oracle_chunk == 1
    assert result.exit_chunk == 2  # the watcher needs k checkpoints after the statement
    summary = summarize([result])
    assert 0 < summary["savings_share_of_oracle"] < 1
    assert summary["tokens_left_on_table"] == result.tokens_at_exit - result.tokens_oracle
    assert summary["exits_before_oracle"] == 0


def test_split_is_seeded_and_complete() -> None:
    traces = [_trace(f"item-{i}", "1", "1") for i in range(40)]
    tune, held = split_traces(traces)
    assert split_traces(traces) == (tune, held)
    assert len(tune) + len(held) == 40 and 8 < len(tune) < 32
    assert not {t.id for t in tune} & {t.id for t in held}


def test_sweep_frontier_and_choice_respect_the_accuracy_constraint() -> None:
    traces = [_trace("a", "540", "540"), _trace("b", "12", "13", final="\\boxed{13}")]
    grid = {"k": (1, 2), "interval_tokens": (20, 400)}
    points = sweep([traces], grid, base=PARAMS)
    assert len(points) == 4
    chosen = choose_params(points, max_drop=0.0)
    assert chosen.accuracy_drop == 0.0  # only settings that never exit on "b" qualify
    best = frontier(points)
    assert best[0].accuracy_drop <= best[-1].accuracy_drop
    assert all(a.tokens_saved < b.tokens_saved for a, b in zip(best, best[1:], strict=False))
