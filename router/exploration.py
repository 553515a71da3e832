"""The exploration share, live: after a sampled request is answered, run it on one other profile
in the background, label the pair and store it in the ledger as a counterfactual record.

Which requests and which profile are `policies.routing.exploration`'s pure choices, drawn from
the request id. The background runs are tasks this object tracks: at most `max_running` at once
(a sampled request past that is skipped, never queued), and the app's lifespan closes it, which
gives running ones `grace_s` and then cancels them. The caller's response is never touched: the
run starts after the call has been recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from difficulty.answers import stated_answer, with_thinking
from policies.profiles import ProfileCost
from policies.routing.exploration import choose_alternative, exploration_draws, label_pair
from router.ledger.base import Ledger
from router.ledger.counterfactual import CounterfactualRecord, PairSide
from router.ledger.durable import DurableLedger
from router.ledger.errors import LedgerError
from router.request_plan import upstream_params
from router.settings import Settings
from router.streaming import Accumulator
from router.upstream import Upstream
from router.usage_count import ledger_tokens
from router.verifier import Verdict, Verifier

if TYPE_CHECKING:
    from router.call import Call
    from router.metrics import GatewayMetrics

__all__ = ["Explorer", "counterfactual_store"]

_log = logging.getLogger("thinkgate.exploration")


def counterfactual_store(ledger: Ledger | None) -> Any:
    """What keeps `ledger`'s counterfactual records (None when nothing does): a Redis store
    through its spool, so a pair explored while Redis is down waits on disk for it."""
    store = ledger.store if isinstance(ledger, DurableLedger) else ledger
    if not hasattr(store, "append_counterfactual"):
        return None
    return ledger


class Explorer:
    """Runs the exploration share's second answers; `aclose()` ends the running ones."""

    def __init__(
        self,
        settings: Settings,
        upstream: Upstream,
        ledger: Ledger | None,
        costs: dict[str, ProfileCost],
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.config = settings.exploration
        self.upstream = upstream
        self.store = counterfactual_store(ledger)
        self.costs = costs
        self.metrics = metrics
        self.skipped = 0  # sampled while `max_running` runs were already going
        self._tasks: set[asyncio.Task[None]] = set()
        judge = self.config.judge
        self._judge = Verifier(upstream, judge, settings.profiles[judge]) if judge else None
        # A verifier or search profile does not answer on its own: never an alternative.
        self._answering = [
            n for n, p in settings.profiles.items() if p.verifier is None and p.search is None
        ]

    def consider(self, call: Call) -> str | None:
        """Start the background run for a recorded call when the share samples it; the
        alternative profile, or None."""
        record = call.record
        if self.store is None or self.config.share <= 0.0 or record is None:
            return None
        if call.status != 200 or (call.chat.n or 1) > 1 or call.plan.constrained:
            return None
        draws = exploration_draws(record.request_id, self.config.seed)
        candidates = [n for n in self._answering if n in call.plan.eligible]
        alternative = choose_alternative(self.config.share, draws, record.profile, candidates)
        if alternative is None:
            return None
        if len(self._tasks) >= self.config.max_running:
            self.skipped += 1
            if self.metrics is not None:
                self.metrics.exploration_skipped.inc()
            return None
        task = asyncio.create_task(self._explore(call, alternative))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return alternative

    async def _explore(self, call: Call, alternative: str) -> None:
        try:
            pair = await self._pair(call, alternative)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not take the gateway down; the log keeps it
            _log.exception("exploration of request %s failed", call.routing.request_id)
            return
        try:
            await self.store.append_counterfactual(pair)
        except LedgerError as exc:
            _log.warning("counterfactual for %s not stored: %s", pair.request_id, exc)
            return
        if self.metrics is not None:
            self.metrics.observe_exploration(pair)

    def _side(self, call: Call, name: str, acc: Accumulator | None) -> PairSide:
        """One side of the pair from what was received (the chosen side: the call's own)."""
        profile = self.settings.profiles[name]
        received = acc if acc is not None else call.received
        text = received.text(0)
        # The answer it states, if any: two long free-form texts agree on no incidental number.
        answer = stated_answer(with_thinking(received.reasoning_text(0), text))
        if acc is None:  # counted (and priced) in the call's own ledger record already
            assert call.record is not None
            prompt_tokens = call.record.prompt_tokens
            completion_tokens = call.record.completion_tokens
        else:
            usage = acc.usage or {}
            prompt_tokens = usage.get("prompt_tokens") or ledger_tokens(call.chat.transcript)
            completion_tokens = usage.get("completion_tokens") or ledger_tokens(acc.all_text())
        cost = self.costs.get(name) or ProfileCost(name)
        pred = call.routing.predictions.get(name)
        described = profile.effort is not None and profile.strength is not None
        return PairSide(
            profile=name,
            answer=answer,
            good=None,
            prompt_tokens=int(prompt_tokens),
            completion_tokens=int(completion_tokens),
            cost=0.0 if acc is None else cost.cost(completion_tokens, prompt_tokens),
            description={"effort": str(profile.effort), "strength": str(profile.strength)}
            if described
            else None,
            p_correct=None if pred is None else pred.p_correct,
        )

    async def _pair(self, call: Call, alternative: str) -> CounterfactualRecord:
        assert call.record is not None
        chosen_name, error = call.record.profile, None
        acc = Accumulator()
        profile = self.settings.profiles[alternative]
        try:
            params, _ = upstream_params(call.chat, profile, call.plan)
            messages = call.chat.upstream_messages(profile.prompt_style)
            stream = await self.upstream.open(alternative, messages, params)
            try:
                async for chunk in stream:
                    acc.add(chunk)
            finally:
                await stream.aclose()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = f"{alternative}: {type(exc).__name__}: {exc}"[:300]
        chosen = self._side(call, chosen_name, None)
        alt = self._side(call, alternative, acc)
        if error is not None:
            alt.answer = None
        record = CounterfactualRecord(
            request_id=call.record.request_id,
            time=time.time(),
            chosen=chosen,
            alternative=alt,
            label=None,
            agree=None,
            prompt=call.gateway.redactor.scrub(call.chat.prompt)
            if self.settings.ledger.store_text
            else None,
            error=error,
        )
        if error is None:
            await self._label(call, record, acc)
        if not self.settings.ledger.store_text:  # an extracted answer is the completion's text
            chosen.answer = alt.answer = None
        if record.error is not None:
            record.error = call.gateway.redactor.scrub(record.error)
        return record

    async def _label(self, call: Call, record: CounterfactualRecord, acc: Accumulator) -> None:
        chosen, alt = record.chosen, record.alternative
        first = label_pair(chosen.answer, alt.answer, judge_pass=self.config.judge_pass)
        grades: list[Verdict] = []
        if first.source is None and self._judge is not None:
            try:
                for text in (call.received.text(0), acc.text(0)):
                    grades.append(await self._judge.score(call.chat.prompt, text))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                record.error = f"judge: {type(exc).__name__}: {exc}"[:300]
            self._count_judge(record, grades)
        label = first
        if len(grades) == 2:
            label = label_pair(
                chosen.answer, alt.answer, grades[0].score, grades[1].score, self.config.judge_pass
            )
            chosen.grade, alt.grade = grades[0].score, grades[1].score
        chosen.good, alt.good = label.chosen, label.alternative
        record.label, record.agree = label.source, label.agree

    def _count_judge(self, record: CounterfactualRecord, grades: list[Verdict]) -> None:
        name = self.config.judge
        assert name is not None
        record.judge = name
        cost = self.costs.get(name) or ProfileCost(name)
        for verdict in grades:
            record.judge_prompt_tokens += verdict.prompt_tokens
            record.judge_completion_tokens += verdict.completion_tokens
            record.judge_cost += cost.cost(verdict.completion_tokens, verdict.prompt_tokens)

    async def aclose(self) -> None:
        """Give running background runs `grace_s` to finish, then cancel the rest."""
        if not self._tasks:
            return
        pending = set(self._tasks)
        _, late = await asyncio.wait(pending, timeout=self.config.grace_s)
        for task in late:
            task.cancel()
        for task in late:
            with contextlib.suppress(asyncio.CancelledError):
                await task
