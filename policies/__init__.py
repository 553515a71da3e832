"""Decisions and their evaluation, pure (no I/O, no clock, seeds passed in).

`routing` chooses the profile that answers and calibrates and simulates that choice;
`convergence` decides when a thinking stream may stop early; `search` decides when a search
profile has sampled enough. The gateway and the offline simulators call the same functions.
"""

from policies.decision import Decision, SamplingPlan
from policies.profiles import ProfileCost

__all__ = ["Decision", "ProfileCost", "SamplingPlan"]
