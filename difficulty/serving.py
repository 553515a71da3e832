"""The gateway's predictor: forecasts keyed by gateway profile, from the general model for
described profiles and from a named head of a per-profile model where one overrides it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from difficulty.descriptions import Description
from difficulty.predictions import ProfilePrediction

__all__ = ["ProfilePredictor", "Scores"]


class Scores(dict[str, ProfilePrediction]):
    """Forecasts keyed by gateway profile, with the prompt's novelty (None: not measured)."""

    novelty: float | None = None
    novelty_threshold: float | None = None


class ProfilePredictor:
    """`predict_one(prompt)` -> Scores for every profile it can forecast.

    `descriptions` names the general model's profiles; `heads` maps a profile to a head of
    `named` (a DifficultyModel fitted on the operator's own outcomes), which wins over the
    profile's description.
    """

    def __init__(
        self,
        general: Any,
        descriptions: Mapping[str, Description],
        named: Any = None,
        heads: Mapping[str, str] | None = None,
    ) -> None:
        self.general = general
        self.descriptions = {
            k: v for k, v in descriptions.items() if general is not None and k not in (heads or {})
        }
        self.named = named
        self.heads = dict(heads or {}) if named is not None else {}
        # The loaded models' encoder: a static one lets router.scoring score inline.
        self.encoder_ = (general if general is not None else named).encoder_

    def predict_one(self, prompt: str) -> Scores:
        """Forecasts for one prompt, keyed by gateway profile."""
        out = Scores()
        if self.descriptions:
            found, novelty = self.general.predict_one(prompt, self.descriptions)
            out.update(found)
            out.novelty = novelty
            out.novelty_threshold = self.general.novelty_.threshold
        if self.heads:
            raw = self.named.predict_one(prompt)
            out.update({name: raw[head] for name, head in self.heads.items() if head in raw})
        return out
