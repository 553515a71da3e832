"""Request and response schemas in `/openapi.json`, from the models the handlers validate with.

The handlers read their bodies themselves (size limits, OpenAI-style errors), so FastAPI cannot
see them; this fills each operation's request body with its pydantic model's schema, and the
JSON replies of the OpenAI-compatible endpoints with the `openai` package's own models.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

__all__ = ["mount", "request_models", "response_models"]


def request_models() -> dict[tuple[str, str], type[BaseModel]]:
    """(method, path) -> the model that operation validates its JSON body with."""
    from router.api import FeedbackRequest, RouteRequest
    from router.chat_schema import ChatRequest
    from router.passthrough import CompletionRequest, EmbeddingRequest
    from router.responses import ResponsesRequest
    from router.settings import PolicySettings

    return {
        ("post", "/v1/chat/completions"): ChatRequest,
        ("post", "/v1/responses"): ResponsesRequest,
        ("post", "/v1/completions"): CompletionRequest,
        ("post", "/v1/embeddings"): EmbeddingRequest,
        ("post", "/v1/route"): RouteRequest,
        ("post", "/v1/feedback"): FeedbackRequest,
        ("put", "/admin/policy"): PolicySettings,
    }


def response_models() -> dict[tuple[str, str], type[BaseModel]]:
    """(method, path) -> the openai model its non-streamed JSON reply follows."""
    from openai.types import Completion, CreateEmbeddingResponse
    from openai.types.chat import ChatCompletion
    from openai.types.responses import Response

    return {
        ("post", "/v1/chat/completions"): ChatCompletion,
        ("post", "/v1/responses"): Response,
        ("post", "/v1/completions"): Completion,
        ("post", "/v1/embeddings"): CreateEmbeddingResponse,
    }


def _add(components: dict[str, Any], model: type[BaseModel], prefix: str) -> dict[str, str]:
    template = "#/components/schemas/" + prefix + "{model}"
    schema = model.model_json_schema(ref_template=template, mode="validation")
    for name, sub in schema.pop("$defs", {}).items():
        components[prefix + name] = sub
    components[prefix + model.__name__] = schema
    return {"$ref": f"#/components/schemas/{prefix}{model.__name__}"}


def build_schema(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with every body schema filled in."""
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, routes=app.routes
    )
    components: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    for (method, path), model in request_models().items():
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            ref = _add(components, model, "")
            content = {"application/json": {"schema": ref}}
            operation["requestBody"] = {"required": True, "content": content}
    for (method, path), model in response_models().items():
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            ref = _add(components, model, "OpenAI")
            ok = operation.setdefault("responses", {}).setdefault("200", {"description": "OK"})
            ok["content"] = {
                "application/json": {"schema": ref},
                "text/event-stream": {"schema": {"type": "string"}},
            }
    return schema


def mount(app: FastAPI) -> None:
    """Serve the filled-in document at /openapi.json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_schema(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
