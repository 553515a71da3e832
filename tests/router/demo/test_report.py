"""The demo's figures: token accounting against always thinking, accuracy against gold."""

from __future__ import annotations

import pytest

from router.demo.report import PromptResult, RecordedPrompt, compute_figures, format_figures


def recorded(item_id: str, think: int, direct: int, gold: str | None = "7") -> RecordedPrompt:
    return RecordedPrompt(
        item_id=item_id,
        prompt=f"question {item_id}",
        gold=gold,
        think_tokens=think,
        think_text="thinking...\n</think>\n\nThe answer is \\boxed{7}.",
        direct_tokens=direct,
        direct_text="The answer is \\boxed{8}.",
    )


RECORDED = [recorded("a", 1000, 100), recorded("b", 2000, 150), recorded("c", 3000, 200)]


def test_savings_split_into_routing_and_early_exit_and_add_up() -> None:
    results = [
        PromptResult("a", "direct", 100, "\\boxed{8}"),
        PromptResult("b", "think", 500, "so \\boxed{7}", early_exit=True),
        PromptResult("c", "think", 3000, "\\boxed{7}"),
    ]
    figures = compute_figures(RECORDED, results, think_profile="think")
    tokens = figures["tokens"]
    assert figures["requests_by_profile"] == {"direct": 1, "think": 2}
    assert tokens["reference"] == 6000
    assert tokens["spent"] == 3600
    assert tokens["saved"] == 2400
    assert tokens["saved_by"] == {"routing": 900, "early_exit": 1500, "rest": 0}
    assert tokens["saved_share"] == pytest.approx(0.4)
    assert tokens["always_direct"] == 450
    assert figures["early_exits"] == 1
    assert figures["early_exit_rate"] == pytest.approx(0.5)
    acc = figures["accuracy"]
    assert acc["gateway"] == pytest.approx(2 / 3)
    assert acc["always_think"] == 1.0
    assert acc["always_direct"] == 0.0
    assert acc["early_exited"] == 1.0 and acc["early_exited_full"] == 1.0


def test_think_requests_that_fall_short_of_the_recording_are_the_rest() -> None:
    results = [PromptResult("c", "think", 2900, "\\boxed{7}")]
    figures = compute_figures(RECORDED, results, think_profile="think")
    assert figures["tokens"]["saved_by"] == {"routing": 0, "early_exit": 0, "rest": 100}


def test_failed_requests_are_counted_left_out_of_tokens_and_wrong() -> None:
    results = [
        PromptResult("a", "direct", 100, "\\boxed{7}"),
        PromptResult("b", None, 0, "", error="APIError: upstream failed"),
        PromptResult("c", "think", 3000, "\\boxed{7}"),
    ]
    figures = compute_figures(RECORDED, results, think_profile="think")
    assert figures["errors"] == 1 and figures["answered"] == 2
    assert figures["error_messages"] == ["APIError: upstream failed"]
    assert figures["tokens"]["reference"] == 4000  # only answered prompts are compared
    assert figures["accuracy"]["gateway"] == pytest.approx(2 / 3)
    assert "error              APIError: upstream failed" in format_figures(figures)


def test_prompts_without_gold_are_not_graded() -> None:
    rows = [recorded("a", 10, 5, gold=None), recorded("b", 10, 5)]
    results = [PromptResult("a", "think", 10, "x"), PromptResult("b", "think", 10, "\\boxed{7}")]
    figures = compute_figures(rows, results, think_profile="think")
    assert figures["accuracy"]["graded"] == 1
    assert figures["accuracy"]["gateway"] == 1.0
    assert figures["accuracy"]["early_exited"] is None


def test_results_for_unknown_prompts_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown prompts: zzz"):
        compute_figures(RECORDED, [PromptResult("zzz", "think", 1, "")], think_profile="think")


def test_ledger_estimate_is_shown_next_to_the_measured_figures() -> None:
    savings = {
        "requests": 3,
        "tokens": {
            "completion": 3600,
            "reference_estimate": 5000.0,
            "saved_estimate": 1200.0,
            "saved_share": 0.25,  # 1,200 of 3,600 spent + 1,200 saved
            "saved_percent": 25.0,
        },
        "saved_by": {"routing": 1000.0, "early_exit": 200.0, "sampling": 0.0},
    }
    results = [PromptResult("a", "direct", 100, "\\boxed{7}")]
    figures = compute_figures(RECORDED, results, think_profile="think", ledger_savings=savings)
    assert figures["ledger_estimate"]["saved_estimate"] == 1200.0
    assert figures["ledger_estimate"]["saved_by"]["routing"] == 1000.0
    text = format_figures(figures)
    assert (
        "ledger estimate    saved 1,200 (25.0% of spent + saved, estimated; routing 1,000" in text
    )
    assert "always-think forecast: 5,000)" in text
    assert "requests/profile   direct 1" in text
    assert "saved              900 (90.0% of always-think = spent + saved)" in text


def test_per_prompt_rows_say_what_happened_to_each_prompt() -> None:
    results = [
        PromptResult("a", "direct", 100, "\\boxed{8}"),
        PromptResult("b", None, 0, "", error="boom"),
    ]
    rows = compute_figures(RECORDED, results, think_profile="think")["per_prompt"]
    assert rows[0] == {
        "id": "a",
        "profile": "direct",
        "tokens": 100,
        "think_tokens": 1000,
        "early_exit": False,
        "correct": False,
        "error": None,
    }
    assert rows[1]["error"] == "boom" and rows[1]["correct"] is False
