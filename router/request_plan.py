"""What a chat request asks of a profile, which profiles can give it, and what goes upstream.

Before the policy decides: the request's needs (input modalities of its parts, audio output,
the OpenAI fields a litellm provider must take) select the eligible profiles; a forced profile
that cannot take the request, or a request no profile can take, is a 400 naming what is
missing. After: the relayed fields, the token limit, and the reasoning-effort controls the
effort policy chose (policies.effort) make the upstream parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from difficulty.errors import InvalidInputError
from policies.capabilities import Capability, Needs, eligible
from policies.effort import EFFORT_KEYS, EffortResolution, resolve_effort
from router.chat_request import ChatRequest, request_modalities
from router.chat_schema import FIELDS
from router.settings import ProfileSettings, Settings

__all__ = [
    "RequestPlan",
    "capabilities",
    "plan_chat",
    "upstream_params",
]

# OpenAI fields a provider must take for the request to mean what the client asked; the rest
# thinkgate decides itself (model, stream, ...) or are harmless to drop (user, metadata, store).
_CHECKED = frozenset(
    name
    for name, (decision, _) in FIELDS.items()
    if decision == "relayed"
    and name
    not in {"messages", "n", "max_tokens", "max_completion_tokens", "user", "metadata", "store"}
)


@dataclass(frozen=True)
class RequestPlan:
    """A request's needs and the profiles that can meet them."""

    needs: Needs
    eligible: tuple[str, ...]
    refused: dict[str, tuple[str, str]] = field(default_factory=dict)
    effort_mode: str = "override"
    reasoning_output: str = "upstream"
    # Tools, functions or a response format: the answer has a shape early exit must not cut.
    constrained: bool = False

    def check(self, profile: str) -> None:
        """400 naming what `profile` cannot take, if anything."""
        problem = self.refused.get(profile)
        if problem is not None:
            raise _refusal(problem, f"profile {profile!r}")


def _refusal(problem: tuple[str, str], who: str) -> InvalidInputError:
    kind, name = problem
    if kind == "modality":
        return InvalidInputError(
            f"messages carry {name} content, which {who} does not take "
            f"(declare it in the profile's `modalities`)",
            param="messages",
        )
    if kind == "output":
        return InvalidInputError(
            f"{who} cannot answer with {name} (declare it in the profile's `output_modalities`)",
            param="modalities",
        )
    return InvalidInputError(f"'{name}' is not supported by {who}", param=name)


def capabilities(
    settings: Settings, supported: Mapping[str, frozenset[str] | None]
) -> dict[str, Capability]:
    """Every profile's capability from its config and its provider's supported fields."""
    return {
        name: Capability.of(p.modalities, p.output_modalities, supported.get(name))
        for name, p in settings.profiles.items()
    }


def plan_chat(
    settings: Settings,
    chat: ChatRequest,
    caps: Mapping[str, Capability],
    key_name: str | None,
) -> RequestPlan:
    """The needs of `chat`, the profiles that can meet them, and its effort and output modes."""
    raw = chat.passthrough()
    needs = Needs(
        modalities=request_modalities(chat),
        output_modalities=frozenset(chat.modalities or ("text",)),
        params=frozenset(k for k in raw if k in _CHECKED),
    )
    ok, refused = eligible(needs, caps)
    constrained = bool(chat.tools or chat.functions) or (
        chat.response_format is not None and chat.response_format.get("type") != "text"
    )
    if constrained:
        # A search votes on answers it extracts from text: no vote over tool calls or JSON.
        shaped = "tools" if chat.tools or chat.functions else "response_format"
        for name in [n for n in ok if settings.profiles[n].search is not None]:
            ok.remove(name)
            refused[name] = ("param", shaped)
    if not ok:
        first = next(iter(refused.values()))
        raise _refusal(first, "any profile")
    options = chat.thinkgate
    effort = settings.effort.keys.get(key_name or "", settings.effort.mode)
    if options is not None and options.effort is not None:
        if not settings.effort.per_request:
            raise InvalidInputError(
                "this gateway does not take a per-request effort mode", param="thinkgate.effort"
            )
        effort = options.effort
    output = settings.reasoning_output
    if options is not None and options.reasoning_output is not None:
        output = options.reasoning_output
    return RequestPlan(needs, tuple(ok), refused, effort, output, constrained)


def upstream_params(
    chat: ChatRequest, profile: ProfileSettings, plan: RequestPlan
) -> tuple[dict[str, Any], EffortResolution]:
    """The parameters sent to `profile`, with the effort controls the effort policy chose."""
    params = chat.passthrough()
    if chat.max_completion_tokens is not None:
        params["max_completion_tokens"] = chat.max_completion_tokens
    elif chat.max_tokens is not None:
        params["max_tokens"] = chat.max_tokens
    if chat.n is not None and chat.n > 1:
        params["n"] = chat.n
    resolution = resolve_effort(plan.effort_mode, chat.effort(), profile.params)
    if resolution.honoured == "client":
        _give_way(params, profile.params, resolution.client)
    return params, resolution


def _template_kwargs(params: Mapping[str, Any]) -> dict[str, Any]:
    extra = params.get("extra_body") or {}
    found = dict(extra.get("chat_template_kwargs") or {}) if isinstance(extra, Mapping) else {}
    return {**found, **(params.get("chat_template_kwargs") or {})}


def _give_way(
    params: dict[str, Any], profile: Mapping[str, Any], client: Mapping[str, Any]
) -> None:
    """The profile's effort controls step aside (None drops a key) for the client's."""
    for key in EFFORT_KEYS:
        if key != "chat_template_kwargs" and key in profile:
            params[key] = None
    for key, value in client.items():
        if key != "chat_template_kwargs":
            params[key] = value
    mine = _template_kwargs(profile)
    if "enable_thinking" in mine or "chat_template_kwargs" in client:
        mine.pop("enable_thinking", None)
        theirs = {
            **params.get("chat_template_kwargs", {}),
            **client.get("chat_template_kwargs", {}),
        }
        # extra_body is merged into the request last: what it says is what the server sees.
        params.setdefault("extra_body", {})["chat_template_kwargs"] = {**mine, **theirs}
