"""A value for every request field of OpenAI's chat-completions API, as a client would send it.

The compatibility tests and bench/dropin.py send each one through the gateway and look for it in
the body the upstream received (or for the 400 that names it).
"""

from __future__ import annotations

from typing import Any

__all__ = ["FIELD_SAMPLES", "TOOL"]

TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "submit",
        "description": "Submit the final answer.",
        "parameters": {
            "type": "object",
            "properties": {"total": {"type": "string"}},
            "required": ["total"],
        },
    },
}

FIELD_SAMPLES: dict[str, Any] = {
    "audio": {"voice": "alloy", "format": "wav"},
    "frequency_penalty": 0.5,
    "function_call": "auto",
    "functions": [TOOL["function"]],
    "logit_bias": {"50256": -100},
    "logprobs": True,
    "max_completion_tokens": 300,
    "max_tokens": 300,
    "metadata": {"team": "search"},
    "modalities": ["text"],
    "moderation": {"model": "omni-moderation-latest"},
    "n": 2,
    "parallel_tool_calls": False,
    "prediction": {"type": "content", "content": "The answer is 72."},
    "presence_penalty": 0.25,
    "prompt_cache_key": "tenant-7",
    "prompt_cache_options": {"mode": "implicit"},
    "prompt_cache_retention": "24h",
    "reasoning_effort": "low",
    "response_format": {"type": "json_object"},
    "safety_identifier": "user-hash-1",
    "seed": 7,
    "service_tier": "auto",
    "stop": ["\n\nQ:"],
    "store": False,
    "stream": True,
    "stream_options": {"include_usage": True},
    "temperature": 0.3,
    "tool_choice": "auto",
    "tools": [TOOL],
    "top_logprobs": 2,
    "top_p": 0.9,
    "user": "user-1",
    "verbosity": "low",
    "web_search_options": {"search_context_size": "low"},
}
