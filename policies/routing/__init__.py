"""Routing: which profile answers a request, calibrated to an operator's target, simulated offline.

`policy` decides for one request or a whole table; `calibration` picks the policy's knob on
training items; `simulator`, `baselines`, `metrics` and `report` judge it on cross-fitted
outcomes against fixed profiles, random routing, a prompt-length heuristic and the oracle.
"""

from policies.routing.baselines import (
    fixed_baselines,
    length_heuristic_at_cost,
    oracle,
    oracle_choice,
    random_at_cost,
)
from policies.routing.calibration import (
    CONFIDENCE_Z,
    MIN_SKILL_Z,
    Target,
    calibrate,
    fit_recalibration,
    knob_grid,
    with_knob,
)
from policies.routing.metrics import (
    apgr,
    cpt,
    oracle_gap_share,
    pgr_curve,
)
from policies.routing.policy import (
    CostUnit,
    PolicyConfig,
    PolicyKind,
    PredictionLike,
    choose,
    cost_matrix,
    decide,
    forced,
    recalibrated,
    sampling_plan,
)
from policies.routing.report import (
    HoldRate,
    calibration_hold_rate,
    default_reference,
    routing_report,
)
from policies.routing.simulator import (
    Point,
    RoutingTable,
    best_within_loss,
    evaluate,
    frontier,
    operating_point,
)

__all__ = [
    "CONFIDENCE_Z",
    "CostUnit",
    "HoldRate",
    "MIN_SKILL_Z",
    "Point",
    "PolicyConfig",
    "PolicyKind",
    "PredictionLike",
    "RoutingTable",
    "Target",
    "apgr",
    "best_within_loss",
    "calibrate",
    "calibration_hold_rate",
    "choose",
    "cost_matrix",
    "cpt",
    "decide",
    "default_reference",
    "evaluate",
    "fit_recalibration",
    "fixed_baselines",
    "forced",
    "frontier",
    "knob_grid",
    "length_heuristic_at_cost",
    "operating_point",
    "oracle",
    "oracle_choice",
    "oracle_gap_share",
    "pgr_curve",
    "random_at_cost",
    "recalibrated",
    "routing_report",
    "sampling_plan",
    "with_knob",
]
