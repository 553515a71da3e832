"""Early exit: decide, while a thinking stream runs, that its answer has settled.

Text mode reads the answers the stream states (`watcher` over `candidates`, `features` and the
learned `rule`, whose weights ship as `exit_rule.json`); probe mode reads the answers the model
gives when asked (`probe`); `thinking` splits and counts a thinking stream. `simulator` replays
recorded traces through the same watcher the gateway runs live.
"""

from policies.convergence.calibration import (
    CalibrationBook,
    CalibrationSettings,
    KeyBook,
    ShadowRecord,
    in_shadow,
    seed_rows,
)
from policies.convergence.candidates import (
    KINDS,
    Candidate,
    StatementScanner,
    clean_value,
    latest_candidate,
    statements,
)
from policies.convergence.features import (
    FEATURE_NAMES,
    SCAN_KINDS,
    Checkpoint,
    FeatureTracker,
)
from policies.convergence.history import (
    HISTORY_FILE,
    HISTORY_NAMES,
    HistoryScore,
    StreamHistory,
    default_history,
)
from policies.convergence.loops import ABSTAIN_TEXT, LOOP_ACTIONS, LoopDetector
from policies.convergence.probe import (
    DEFAULT_SUFFIX,
    ProbeParams,
    ProbeRequest,
    ProbeResult,
    ProbeTracker,
    chatml_prompt,
    read_probe,
)
from policies.convergence.risk import THRESHOLDS, Certificate, fixed_sequence
from policies.convergence.rule import (
    RULE_FILE,
    ExitRule,
    Tree,
    default_rule,
)
from policies.convergence.simulator import (
    DEFAULT_GRID,
    ORACLE_ACCURACY,
    PreparedTrace,
    SweepPoint,
    TraceResult,
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
from policies.convergence.thinking import (
    DEFAULT_MARKERS,
    THINK_CLOSE,
    THINK_OPEN,
    ThinkSplitter,
    TokenEstimate,
    estimate_tokens,
    hesitation_pattern,
)
from policies.convergence.watcher import (
    REMAINING_PER_TOKEN,
    RULES,
    ConvergenceWatcher,
    ExitDecision,
    WatcherParams,
    estimated_tokens_saved,
    final_answer_text,
)

__all__ = [
    "ABSTAIN_TEXT",
    "LOOP_ACTIONS",
    "LoopDetector",
    "CalibrationBook",
    "CalibrationSettings",
    "Certificate",
    "KeyBook",
    "ShadowRecord",
    "THRESHOLDS",
    "fixed_sequence",
    "in_shadow",
    "seed_rows",
    "Candidate",
    "Checkpoint",
    "ConvergenceWatcher",
    "DEFAULT_GRID",
    "DEFAULT_MARKERS",
    "DEFAULT_SUFFIX",
    "ExitDecision",
    "ExitRule",
    "FEATURE_NAMES",
    "FeatureTracker",
    "KINDS",
    "ORACLE_ACCURACY",
    "PreparedTrace",
    "ProbeParams",
    "ProbeRequest",
    "ProbeResult",
    "ProbeTracker",
    "REMAINING_PER_TOKEN",
    "RULES",
    "RULE_FILE",
    "SCAN_KINDS",
    "StatementScanner",
    "SweepPoint",
    "THINK_CLOSE",
    "THINK_OPEN",
    "ThinkSplitter",
    "TokenEstimate",
    "TraceResult",
    "Tree",
    "WatcherParams",
    "HISTORY_FILE",
    "HISTORY_NAMES",
    "HistoryScore",
    "StreamHistory",
    "default_history",
    "chatml_prompt",
    "choose_params",
    "clean_value",
    "default_rule",
    "estimate_tokens",
    "estimated_tokens_saved",
    "final_answer_text",
    "frontier",
    "hesitation_pattern",
    "latest_candidate",
    "oracle_chunk",
    "read_probe",
    "replay",
    "replay_trace",
    "split_traces",
    "statements",
    "summarize",
    "sweep",
    "token_deltas",
]
