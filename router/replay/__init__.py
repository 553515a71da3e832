"""The replay upstream: an OpenAI-compatible server that answers from recorded model outputs.

An evaluation tool (the demo, the tests, `thinkgate replay-upstream`), not part of the gateway:
`catalog` indexes the recordings, `stream` paces one of them as SSE with injected faults, and
`server` is the app and its background-thread runner.
"""

from router.replay.catalog import (
    NoReplayableOutcomesError,
    ReplayCatalog,
    ReplayPiece,
    UnknownModelError,
    UnknownPromptError,
    normalise_prompt,
    split_pieces,
)
from router.replay.server import (
    FAULT_HEADER,
    ReplayUpstream,
    create_replay_app,
)
from router.replay.stream import (
    Fault,
    Pace,
    ReplayPlan,
    ReplayStats,
    build_plan,
    parse_fault,
    sse_stream,
)

__all__ = [
    "FAULT_HEADER",
    "Fault",
    "NoReplayableOutcomesError",
    "Pace",
    "ReplayCatalog",
    "ReplayPiece",
    "ReplayPlan",
    "ReplayStats",
    "ReplayUpstream",
    "UnknownModelError",
    "UnknownPromptError",
    "build_plan",
    "create_replay_app",
    "normalise_prompt",
    "parse_fault",
    "split_pieces",
    "sse_stream",
]
