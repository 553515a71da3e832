"""Self-calibrating replay: streams met in order, as the gateway meets a model it has never seen.

Each stream is first turned into its `ShadowRecord` (the watcher in shadow over the whole
trace). Then, in order: while the (model, family) has no certified threshold every stream runs
to its end and is counted (free: nothing would have been cut); once certified, a seeded
`shadow_share` of streams still runs to the end and is counted (its forgone saving is the
shadow's cost) and the rest exit where the threshold in force says. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from difficulty.answers import answers_match
from policies.convergence.calibration import CalibrationBook, CalibrationSettings, ShadowRecord
from policies.convergence.history import HistoryScore
from policies.convergence.risk import clopper_pearson_upper
from policies.convergence.simulator import PreparedTrace
from policies.convergence.watcher import ConvergenceWatcher, WatcherParams

__all__ = [
    "StreamOutcome",
    "OnlineSummary",
    "shadow_record",
    "replay_online",
    "summarize_online",
    "replay_cold",
]


def shadow_record(
    prepared: PreparedTrace,
    params: WatcherParams | None = None,
    family: str = "default",
    history: HistoryScore | None = None,
) -> ShadowRecord:
    """Feed a whole trace to a watcher in shadow; its trail in the trace's own token counts
    (`history`: the history score's weights, default the shipped ones)."""
    watcher = ConvergenceWatcher(params or WatcherParams(), shadow=True, exit_history=history)
    chars = 0
    marks: list[int] = []
    for delta in prepared.deltas:
        chars += len(delta)
        before = len(watcher.trail)
        watcher.feed(delta)
        if len(watcher.trail) > before:
            marks.append(chars)
    trail = tuple(
        (score, candidate, prepared.tokens_until(at))
        for (score, candidate, _), at in zip(watcher.trail, marks, strict=True)
    )
    return ShadowRecord(
        model=prepared.trace.model or "unknown",
        family=family,
        trail=trail,
        tokens_full=prepared.tokens_full,
        final=prepared.answer_full,
    )


@dataclass(frozen=True)
class StreamOutcome:
    """What happened to one stream of the replay."""

    id: str
    shadow: bool
    exited: bool
    threshold: float | None
    tokens_full: int
    tokens_used: int
    changed: bool
    correct_full: bool | None
    correct_used: bool | None


def replay_online(
    records: Sequence[ShadowRecord],
    ids: Sequence[str],
    golds: Sequence[str | None],
    settings: CalibrationSettings | None = None,
    *,
    on_certified: Callable[[int], None] | None = None,
) -> list[StreamOutcome]:
    """Replay streams in order through a fresh calibration book (cold start)."""
    book = CalibrationBook(settings or CalibrationSettings())
    outcomes = []
    for index, (record, item, gold) in enumerate(zip(records, ids, golds, strict=True)):
        key = (record.model, record.family)
        threshold = book.threshold(*key)
        shadow = book.shadow(*key, item)
        exit_ = None if shadow or threshold is None else record.exit_at(threshold)
        answer, used = (record.final, record.tokens_full) if exit_ is None else exit_
        changed = exit_ is not None and not (
            record.final is not None and answers_match(answer, record.final)
        )
        graded = gold is not None
        outcomes.append(
            StreamOutcome(
                id=item,
                shadow=shadow,
                exited=exit_ is not None,
                threshold=threshold,
                tokens_full=record.tokens_full,
                tokens_used=used,
                changed=changed,
                correct_full=answers_match(record.final, gold) if graded else None,
                correct_used=answers_match(answer, gold) if graded else None,
            )
        )
        if shadow:
            was = book.certified(*key)
            book.add(record)
            if not was and book.certified(*key) and on_certified is not None:
                on_certified(index + 1)
    return outcomes


@dataclass(frozen=True)
class OnlineSummary:
    """Net savings, accuracy full vs as served, changed answers with their bound."""

    n: int
    exits: int
    shadows_after_certified: int
    saved: float  # net of the shadow streams (they ran whole)
    shadow_cost: float  # share of all thinking the post-certification shadows could have saved
    accuracy_full: float | None
    accuracy_used: float | None
    changed: int
    changed_rate: float  # changed answers among the exits (or streams) served after certification
    changed_bound: float
    certified_after: int | None  # streams seen when a threshold was first certified
    served: int = 0  # streams served (not shadows) once a threshold was in force
    served_exits: int = 0  # of those, the ones cut: the rate's denominator when over exits
    thresholds: tuple[float, ...] = ()  # every threshold that was in force, in order


def summarize_online(
    outcomes: Sequence[StreamOutcome],
    records: Sequence[ShadowRecord],
    delta: float = 0.1,
    certified_after: int | None = None,
    over: str = "streams",
) -> OnlineSummary:
    """The figures of one replay; the changed rate over served exits, or served streams."""
    full = sum(o.tokens_full for o in outcomes)
    used = sum(o.tokens_used for o in outcomes)
    served = [o for o in outcomes if o.threshold is not None and not o.shadow]
    late_shadows = [
        (o, r) for o, r in zip(outcomes, records, strict=True) if o.shadow and o.threshold
    ]
    forgone = 0
    for outcome, record in late_shadows:
        exit_ = record.exit_at(outcome.threshold or 1.0)
        forgone += 0 if exit_ is None else record.tokens_full - exit_[1]
    changed = sum(o.changed for o in outcomes)
    graded = [o for o in outcomes if o.correct_full is not None]
    exits = sum(o.exited for o in served)
    trials = exits if over == "exits" else len(served)
    in_force: list[float] = []
    for outcome in outcomes:
        if outcome.threshold is not None and outcome.threshold not in in_force[-1:]:
            in_force.append(outcome.threshold)
    return OnlineSummary(
        n=len(outcomes),
        exits=sum(o.exited for o in outcomes),
        shadows_after_certified=len(late_shadows),
        saved=1 - used / full if full else 0.0,
        shadow_cost=forgone / full if full else 0.0,
        accuracy_full=sum(bool(o.correct_full) for o in graded) / len(graded) if graded else None,
        accuracy_used=sum(bool(o.correct_used) for o in graded) / len(graded) if graded else None,
        changed=changed,
        changed_rate=changed / trials if trials else 0.0,
        changed_bound=clopper_pearson_upper(changed, trials, delta) if trials else 1.0,
        certified_after=certified_after,
        served=len(served),
        served_exits=exits,
        thresholds=tuple(in_force),
    )


def replay_cold(
    records: Sequence[ShadowRecord],
    ids: Sequence[str],
    golds: Sequence[str | None],
    settings: CalibrationSettings,
) -> OnlineSummary:
    """Replay streams in order from a cold start and summarise, with when calibration came."""
    certified: list[int] = []
    outcomes = replay_online(records, ids, golds, settings, on_certified=certified.append)
    first = certified[0] if certified else None
    return summarize_online(
        outcomes, records, settings.miss_probability, first, settings.changed_rate_over
    )
