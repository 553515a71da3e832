"""Eligibility: a request only goes to profiles that can take its modalities and fields."""

from __future__ import annotations

from policies.capabilities import Capability, Needs, eligible, unmet

TEXT_ONLY = Capability.of()
VISION = Capability.of(modalities=["text", "image"])
ANTHROPIC = Capability.of(modalities=["text", "image"], params=["tools", "temperature"])
AUDIO_OUT = Capability.of(output_modalities=["text", "audio"])


def test_an_image_request_skips_text_only_profiles() -> None:
    needs = Needs(modalities=frozenset({"text", "image"}))
    ok, refused = eligible(needs, {"small": TEXT_ONLY, "vision": VISION})
    assert ok == ["vision"]
    assert refused == {"small": ("modality", "image")}


def test_a_field_the_provider_does_not_take_makes_it_ineligible() -> None:
    needs = Needs(params=frozenset({"tools", "logprobs"}))
    assert unmet(needs, ANTHROPIC) == ("param", "logprobs")
    assert unmet(needs, TEXT_ONLY) is None  # OpenAI-compatible: any field


def test_audio_output_needs_an_audio_profile() -> None:
    needs = Needs(output_modalities=frozenset({"text", "audio"}))
    ok, refused = eligible(needs, {"a": TEXT_ONLY, "b": AUDIO_OUT})
    assert ok == ["b"] and refused["a"] == ("output", "audio")


def test_a_plain_text_request_fits_everywhere() -> None:
    ok, refused = eligible(Needs(), {"a": TEXT_ONLY, "b": VISION, "c": ANTHROPIC})
    assert ok == ["a", "b", "c"] and refused == {}
