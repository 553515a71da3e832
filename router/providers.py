"""What each profile's provider takes: the direct transport or litellm, and which fields.

OpenAI-compatible endpoints with an `api_base` are streamed over HTTP directly and are sent
every field as is; every other provider goes through litellm, which names the OpenAI fields it
can translate for it (`litellm.get_supported_openai_params`).
"""

from __future__ import annotations

from router.settings import ProfileSettings

__all__ = ["LITELLM_KWARGS", "uses_http_transport", "supported_params"]

# litellm provider prefixes that speak the OpenAI chat API as is.
_OPENAI_COMPATIBLE = ("openai", "hosted_vllm", "vllm", "openai_like")

# Keyword arguments litellm.acompletion takes itself (OpenAI's fields and its own controls).
LITELLM_KWARGS = frozenset(
    {
        "temperature",
        "top_p",
        "n",
        "stop",
        "max_tokens",
        "max_completion_tokens",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "user",
        "seed",
        "logprobs",
        "top_logprobs",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "functions",
        "function_call",
        "response_format",
        "reasoning_effort",
        "verbosity",
        "metadata",
        "store",
        "service_tier",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prediction",
        "web_search_options",
        "modalities",
        "audio",
        "thinking",
        "extra_body",
        "extra_headers",
        "stream_options",
    }
)


def uses_http_transport(profile: ProfileSettings) -> bool:
    """Whether `profile` is served by the direct SSE client rather than litellm."""
    if profile.transport != "auto":
        return profile.transport == "http"
    provider = profile.model.split("/", 1)[0] if "/" in profile.model else ""
    return profile.api_base is not None and provider in _OPENAI_COMPATIBLE


def supported_params(profile: ProfileSettings) -> frozenset[str] | None:
    """The OpenAI request fields the profile's provider takes, per litellm; None for an
    OpenAI-compatible endpoint on the direct transport, which is sent every field as is."""
    if uses_http_transport(profile):
        return None
    import litellm

    provider = profile.model.split("/", 1)[0] if "/" in profile.model else None
    try:
        names = litellm.get_supported_openai_params(
            model=profile.upstream_name, custom_llm_provider=provider
        )
    except Exception:  # a provider litellm cannot describe: let the call itself decide
        return None
    return None if names is None else frozenset(names)
