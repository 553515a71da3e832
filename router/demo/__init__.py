"""`thinkgate demo`: recorded real traffic through a live gateway, with the savings it measured.

`runner` starts the replay upstream and the gateway; `prompts` picks the held-out prompts;
`client` sends them with the `openai` client; `report` grades the answers and computes the
figures (pure).
"""

from router.demo.client import (
    Answer,
    send_prompts,
)
from router.demo.prompts import (
    DemoPrompt,
    NoDemoPromptsError,
    pair_prompts,
    recorded_text,
)
from router.demo.report import (
    PromptResult,
    RecordedPrompt,
    compute_figures,
    format_figures,
    grade,
)
from router.demo.runner import (
    DEFAULT_CHUNK_TOKENS,
    DEFAULT_CONCURRENCY,
    DEFAULT_DATASETS,
    DEFAULT_TOKENS_PER_SECOND,
    DIRECT_PROFILE,
    THINK_PROFILE,
    Demo,
    DemoOptions,
    bundled_config_path,
)

__all__ = [
    "Answer",
    "DEFAULT_CHUNK_TOKENS",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_DATASETS",
    "DEFAULT_TOKENS_PER_SECOND",
    "DIRECT_PROFILE",
    "Demo",
    "DemoOptions",
    "DemoPrompt",
    "NoDemoPromptsError",
    "PromptResult",
    "RecordedPrompt",
    "THINK_PROFILE",
    "bundled_config_path",
    "compute_figures",
    "format_figures",
    "grade",
    "pair_prompts",
    "recorded_text",
    "send_prompts",
]
