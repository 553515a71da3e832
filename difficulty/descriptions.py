"""Profiles described by what they are: an effort (direct, cot, think) and a strength tier.

The general difficulty model (difficulty.general) predicts for a description, not for a named
model, so one model serves any gateway's profiles. Each bundled source's models are mapped onto
the same descriptions here (SOURCE_MODELS): the tiers are coarse, judged from public benchmark
standing at the model's release, and documented in the README.
"""

from __future__ import annotations

from dataclasses import dataclass

from difficulty.errors import InvalidInputError

__all__ = [
    "EFFORTS",
    "STRENGTHS",
    "Description",
    "SOURCE_MODELS",
    "describe_source_model",
    "parse_description",
]

# direct: answers without a reasoning phase; cot: asked to reason step by step in the answer;
# think: a reasoning model's hidden or separate thinking phase.
EFFORTS: tuple[str, ...] = ("direct", "cot", "think")
# weak: small or 2021-era models; mid: GPT-3.5 class; strong: GPT-4 class and up.
STRENGTHS: tuple[str, ...] = ("weak", "mid", "strong")


@dataclass(frozen=True)
class Description:
    """What a profile is: its effort and its strength tier."""

    effort: str
    strength: str

    def __post_init__(self) -> None:
        if self.effort not in EFFORTS:
            raise InvalidInputError(
                f"unknown effort {self.effort!r} (one of: {', '.join(EFFORTS)})", param="effort"
            )
        if self.strength not in STRENGTHS:
            raise InvalidInputError(
                f"unknown strength {self.strength!r} (one of: {', '.join(STRENGTHS)})",
                param="strength",
            )

    @property
    def strength_level(self) -> float:
        """The tier as a number: weak 0, mid 1, strong 2."""
        return float(STRENGTHS.index(self.strength))

    def __str__(self) -> str:
        return f"{self.effort}:{self.strength}"


def parse_description(text: str) -> Description:
    """`effort:strength` (e.g. `think:strong`) -> Description; bad text raises InvalidInputError."""
    effort, sep, strength = text.strip().partition(":")
    if not sep:
        raise InvalidInputError(
            f"profile description {text!r} must be effort:strength, e.g. direct:strong",
            param="describe",
        )
    return Description(effort.strip(), strength.strip())


_D = Description
# Every bundled source's models (outcome-table profile names) -> descriptions.
SOURCE_MODELS: dict[str, Description] = {
    # faithful-cot: the same model asked for the answer only (direct) or step by step (cot)
    **{
        f"{model}:{mode}": _D(mode, tier)
        for model, tier in (
            ("code-davinci-001", "weak"),
            ("text-davinci-002", "mid"),
            ("text-davinci-003", "mid"),
            ("code-davinci-002", "mid"),
            ("gpt-3.5-turbo", "mid"),
            ("gpt-4", "strong"),
        )
        for mode in ("direct", "cot")
    },
    # RouteLLM (GSM8K, MMLU, MT-Bench)
    "mixtral": _D("direct", "mid"),
    "gpt-4": _D("direct", "strong"),
    # MiP-Overthinking (GSM8K, MATH)
    "Qwen2.5-32B": _D("direct", "strong"),
    "Gemma-2-27B": _D("direct", "mid"),
    "Phi-3": _D("direct", "weak"),
    "gemini-1.5-flash": _D("direct", "mid"),
    "gemini-2.0-flash": _D("direct", "strong"),
    "gpt-3.5-turbo": _D("direct", "mid"),
    "gpt-4o": _D("direct", "strong"),
    "QwQ-32B": _D("think", "strong"),
    "R1-Distill-Qwen-32B": _D("think", "strong"),
    "s1.1": _D("think", "strong"),
    "LIMO": _D("think", "strong"),
    "o1": _D("think", "strong"),
    "o1-mini": _D("think", "strong"),
    "o3-mini": _D("think", "strong"),
    # best-of-infinity (MATH-500): reasoning models
    "EXAONE-Deep-32B": _D("think", "strong"),
    "MetaStone-S1-32B": _D("think", "strong"),
    "NVIDIA-Nemotron-Nano-9B-v2": _D("think", "mid"),
    "Phi-4-reasoning": _D("think", "strong"),
    "Qwen3-14B": _D("think", "strong"),
    "Qwen3-30B-A3B-Thinking-2507": _D("think", "strong"),
    "gpt-oss-20b": _D("think", "strong"),
    # AlpacaEval 2.0 (everyday instructions; good enough = judge P(win vs GPT-4-Turbo) >= 0.25).
    # Tiers by the source's own standing under its judge, which prefers GPT-4-Turbo's long
    # style: the reference is strong, the 2024 FuseChat 7-9B models mid, the concise 2023 chat
    # models (good enough on 8-19% of prompts) weak.
    "gpt-4-1106": _D("direct", "strong"),
    "fusechat-gemma-2-9b": _D("direct", "mid"),
    "fusechat-qwen-2.5-7b": _D("direct", "mid"),
    "fusechat-llama-3.1-8b": _D("direct", "mid"),
    "fusechat-llama-3.2-3b": _D("direct", "weak"),
    "fusechat-llama-3.2-1b": _D("direct", "weak"),
    "claude-2.1": _D("direct", "weak"),
    "claude-instant-1.2": _D("direct", "weak"),
    "gpt-3.5-turbo-1106": _D("direct", "weak"),
    "gpt-3.5-turbo-1106-concise": _D("direct", "weak"),
    "gpt-3.5-turbo-1106-verbose": _D("direct", "weak"),
    "mixtral-8x7b-concise": _D("direct", "weak"),
    # ZeroEval CRUXEval (code reasoning; o1's hidden reasoning tokens modelled by the loader)
    "gpt-4o-mini": _D("direct", "mid"),
    "o1-preview": _D("think", "strong"),
}


def describe_source_model(name: str) -> Description | None:
    """The description of a bundled source's model, None when it is not mapped."""
    return SOURCE_MODELS.get(name)
