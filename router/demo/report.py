"""The demo's figures: what the gateway spent and answered, against always thinking.

Pure: the recorded outputs give the real always-think cost and accuracy of every prompt, so
savings here are measured, not estimated; the ledger's own estimate is shown next to them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from difficulty.answers import answers_match, extract_answer
from policies.savings import format_share, saved_share

__all__ = ["RecordedPrompt", "PromptResult", "compute_figures", "format_figures", "grade"]


@dataclass(frozen=True)
class RecordedPrompt:
    """One demo prompt and its recordings: the full always-think cost and both answers."""

    item_id: str
    prompt: str
    gold: str | None
    think_tokens: int  # what the think profile spends on it in full (the replay's own count)
    think_text: str  # recorded thinking profile output (reasoning, </think>, answer)
    direct_tokens: int
    direct_text: str


@dataclass(frozen=True)
class PromptResult:
    """What the gateway did with one prompt: the profile, tokens spent, answer, early exit."""

    item_id: str
    profile: str | None  # None when the request failed
    completion_tokens: int
    text: str  # reasoning, </think>, answer (as the client received them)
    early_exit: bool = False
    error: str | None = None


def grade(text: str, gold: str | None) -> bool | None:
    """Whether the answer in `text` matches `gold`; None when there is no gold to grade with."""
    if gold is None:
        return None
    return answers_match(extract_answer(text), gold)


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _accuracy(marks: Sequence[bool | None]) -> float | None:
    graded = [m for m in marks if m is not None]
    return sum(graded) / len(graded) if graded else None


def compute_figures(
    recorded: Sequence[RecordedPrompt],
    results: Sequence[PromptResult],
    *,
    think_profile: str,
    ledger_savings: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The demo's figures as JSON-ready data.

    Token figures cover the answered prompts: reference = sum of the recorded full think
    costs; saved = reference - spent, split into routing (prompts answered by another profile:
    think cost - tokens spent), early exit (think prompts cut short: think cost - tokens spent)
    and the remainder (think prompts that ran to the end; zero when the replay is exact).
    """
    by_id = {r.item_id: r for r in recorded}
    missing = [res.item_id for res in results if res.item_id not in by_id]
    if missing:
        raise ValueError(f"results for unknown prompts: {', '.join(missing[:3])}")
    answered = [res for res in results if res.error is None and res.profile is not None]
    errors = [res for res in results if res.error is not None or res.profile is None]
    by_profile = Counter(res.profile for res in answered)
    tokens, exits = _token_figures(answered, by_id, think_profile)
    figures: dict[str, Any] = {
        "prompts": len(recorded),
        "answered": len(answered),
        "errors": len(errors),
        "error_messages": sorted({str(res.error) for res in errors})[:5],
        "requests_by_profile": dict(sorted(by_profile.items())),
        "think_profile": think_profile,
        "tokens": tokens,
        "early_exits": exits,
        "early_exit_rate": _share(exits, by_profile.get(think_profile, 0)),
        "accuracy": _accuracy_figures(recorded, answered, think_profile),
        "per_prompt": [_per_prompt(res, by_id[res.item_id]) for res in results],
    }
    if ledger_savings is not None:
        figures["ledger_estimate"] = _ledger_estimate(ledger_savings)
    return figures


def _token_figures(
    answered: Sequence[PromptResult], by_id: Mapping[str, RecordedPrompt], think_profile: str
) -> tuple[dict[str, Any], int]:
    """Tokens spent and saved against always thinking, by mechanism; and the early exits."""
    reference = spent = routing = early = exits = 0
    for res in answered:
        cost = by_id[res.item_id].think_tokens
        reference += cost
        spent += res.completion_tokens
        if res.profile != think_profile:
            routing += cost - res.completion_tokens
        elif res.early_exit:
            exits += 1
            early += cost - res.completion_tokens
    saved = reference - spent
    tokens = {
        "reference": reference,
        "spent": spent,
        "saved": saved,
        # policies.savings: always-think is what was spent plus what was saved, measured.
        "saved_share": saved_share(spent, saved),
        "saved_by": {"routing": routing, "early_exit": early, "rest": saved - routing - early},
        "always_direct": sum(by_id[res.item_id].direct_tokens for res in answered),
    }
    return tokens, exits


def _accuracy_figures(
    recorded: Sequence[RecordedPrompt], answered: Sequence[PromptResult], think_profile: str
) -> dict[str, Any]:
    """Accuracy over every prompt with gold (a failed request is a wrong answer), and over
    the early-exited prompts alone: cut answers against the full recordings."""
    by_id = {r.item_id: r for r in recorded}
    ok = {res.item_id: res for res in answered}
    gateway_marks = [
        grade(ok[r.item_id].text, r.gold)
        if r.item_id in ok
        else (None if r.gold is None else False)
        for r in recorded
    ]
    exited = [res.item_id for res in answered if res.profile == think_profile and res.early_exit]
    return {
        "graded": sum(r.gold is not None for r in recorded),
        "gateway": _accuracy(gateway_marks),
        "always_think": _accuracy([grade(r.think_text, r.gold) for r in recorded]),
        "always_direct": _accuracy([grade(r.direct_text, r.gold) for r in recorded]),
        "early_exited": _accuracy([grade(ok[i].text, by_id[i].gold) for i in exited]),
        "early_exited_full": _accuracy([grade(by_id[i].think_text, by_id[i].gold) for i in exited]),
    }


def _per_prompt(res: PromptResult, recorded: RecordedPrompt) -> dict[str, Any]:
    answered = res.error is None and res.profile is not None
    return {
        "id": res.item_id,
        "profile": res.profile,
        "tokens": res.completion_tokens,
        "think_tokens": recorded.think_tokens,
        "early_exit": res.early_exit,
        "correct": grade(res.text, recorded.gold) if answered else False,
        "error": res.error,
    }


def _ledger_estimate(savings: Mapping[str, Any]) -> dict[str, Any]:
    """The gateway's own per-request estimate, from its ledger's `/v1/savings`."""
    tokens = savings.get("tokens", {})
    return {
        "requests": savings.get("requests"),
        "completion_tokens": tokens.get("completion"),
        "reference_estimate": tokens.get("reference_estimate"),
        "saved_estimate": tokens.get("saved_estimate"),
        "saved_share": tokens.get("saved_share"),
        "saved_percent": tokens.get("saved_percent"),
        "saved_by": dict(savings.get("saved_by", {})),
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _percent(value: float | None) -> str:
    # Already a percentage, rounded once by the ledger (policies.savings).
    return "n/a" if value is None else f"{value:.1f}%"


def format_figures(figures: Mapping[str, Any]) -> str:
    """The figures as the lines `thinkgate demo` prints."""
    tokens = figures["tokens"]
    saved_by = tokens["saved_by"]
    acc = figures["accuracy"]
    reference = tokens["reference"]
    profiles = ", ".join(f"{p} {n}" for p, n in figures["requests_by_profile"].items())
    lines = [
        f"prompts            {figures['prompts']} ({figures['answered']} answered, "
        f"{figures['errors']} failed)",
        f"requests/profile   {profiles or 'none'}",
        f"tokens spent       {tokens['spent']:,} completion tokens",
        f"always-think       {reference:,} (recorded "
        f"{figures.get('reference_model') or figures['think_profile']} outputs, same prompts)",
        f"saved              {tokens['saved']:,} ({format_share(tokens['saved_share'])} of "
        "always-think = spent + saved)",
        f"  by routing       {saved_by['routing']:,} "
        f"({format_share(_share(saved_by['routing'], reference))})",
        f"  by early exit    {saved_by['early_exit']:,} "
        f"({format_share(_share(saved_by['early_exit'], reference))}; {figures['early_exits']} of "
        f"{figures['requests_by_profile'].get(figures['think_profile'], 0)} thinking requests "
        f"exited early)",
    ]
    lines.extend(_calibration_lines(figures))
    if saved_by["rest"]:
        lines.append(f"  other            {saved_by['rest']:,}")
    lines.append(
        f"accuracy           {_pct(acc['gateway'])} gateway vs {_pct(acc['always_think'])} "
        f"always-think, {_pct(acc['always_direct'])} always-direct ({acc['graded']} graded "
        f"against gold)"
    )
    if figures["early_exits"]:
        lines.append(
            f"  early exits      {_pct(acc['early_exited'])} right when cut short vs "
            f"{_pct(acc['early_exited_full'])} thinking to the end, same prompts"
        )
    estimate = figures.get("ledger_estimate")
    if estimate and estimate.get("saved_estimate") is not None:
        by = estimate.get("saved_by") or {}
        lines.append(
            f"ledger estimate    saved {estimate['saved_estimate']:,.0f} "
            f"({_percent(estimate.get('saved_percent'))} of spent + saved, estimated; routing "
            f"{by.get('routing', 0):,.0f}, early exit {by.get('early_exit', 0):,.0f})"
        )
        lines.append(
            "                   (the gateway's own per-request estimate, no recordings; its "
            f"always-think forecast: {estimate['reference_estimate'] or 0:,.0f})"
        )
    for message in figures.get("error_messages", ()):
        lines.append(f"error              {message}")
    return "\n".join(lines)


def _calibration_lines(figures: Mapping[str, Any]) -> list[str]:
    """Where early exit's threshold came from: the seed, and what is certified."""
    lines = []
    for row in figures.get("exit_calibration") or ():
        over = row.get("changed_rate_over", "streams")
        guarantee = (
            f"<= {row['max_changed_answers']:.0%} of {over} changed, miss probability "
            f"{row['miss_probability']:.0%}"
        )
        if row["threshold"] is None:
            state = f"no threshold certified ({guarantee}): every thinking stream ran whole"
        else:
            state = (
                f"threshold {row['threshold']} certified ({guarantee}; seen "
                f"{row['changed_rate']:.2%}, bound {row['changed_rate_bound']:.2%})"
            )
        lines.append(
            f"  exit calibration {row['model']}: {row['sample_size']} streams "
            f"({figures.get('exit_seed', 0)} seeded from training-split traces); {state}"
        )
    return lines
