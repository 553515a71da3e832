"""Which profiles can take a request at all: input and output modalities, request fields.

A request with an image may only go to a profile that reads images; one asking for logprobs
only to a profile whose provider returns them. The policy then chooses among the eligible
profiles; when none is left, the caller gets a 400 naming what no profile can take. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["Needs", "Capability", "unmet", "eligible"]

TEXT = frozenset({"text"})


@dataclass(frozen=True)
class Needs:
    """What a request needs from a profile."""

    modalities: frozenset[str] = TEXT  # input modalities of the messages' parts
    output_modalities: frozenset[str] = TEXT  # `modalities` the client asked for
    params: frozenset[str] = frozenset()  # request fields the profile's provider must take


@dataclass(frozen=True)
class Capability:
    """What a profile takes; `params` None means any field (OpenAI-compatible endpoints)."""

    modalities: frozenset[str] = TEXT
    output_modalities: frozenset[str] = TEXT
    params: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        modalities: Iterable[str] = ("text",),
        output_modalities: Iterable[str] = ("text",),
        params: Iterable[str] | None = None,
    ) -> Capability:
        """A capability from plain lists (the profile's config)."""
        return cls(
            frozenset(modalities),
            frozenset(output_modalities),
            None if params is None else frozenset(params),
        )


def unmet(needs: Needs, capability: Capability) -> tuple[str, str] | None:
    """(kind, name) of the first need the profile cannot meet: an input modality, an output
    modality or a request field; None when it can take the request."""
    for modality in sorted(needs.modalities - capability.modalities):
        return "modality", modality
    for modality in sorted(needs.output_modalities - capability.output_modalities):
        return "output", modality
    if capability.params is not None:
        for name in sorted(needs.params - capability.params):
            return "param", name
    return None


def eligible(
    needs: Needs, capabilities: Mapping[str, Capability]
) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """(profiles that can take the request, {profile: what it cannot take} for the others)."""
    ok: list[str] = []
    refused: dict[str, tuple[str, str]] = {}
    for name, capability in capabilities.items():
        problem = unmet(needs, capability)
        if problem is None:
            ok.append(name)
        else:
            refused[name] = problem
    return ok, refused
