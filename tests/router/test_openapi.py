"""/openapi.json shows every JSON body: the request models the handlers validate with."""

from __future__ import annotations

from typing import Any

from router.app import create_app
from router.settings import settings_from_mapping
from tests.router.conftest import base_config


def document(tmp_path: Any) -> dict[str, Any]:
    config = base_config("http://127.0.0.1:9/v1", f"sqlite:///{tmp_path}/l.db")
    return create_app(settings_from_mapping(config)).openapi()


def resolve(doc: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    name = ref["$ref"].rsplit("/", 1)[1]
    schema: dict[str, Any] = doc["components"]["schemas"][name]
    return schema


def test_chat_completions_has_its_strict_request_schema(tmp_path: Any) -> None:
    doc = document(tmp_path)
    body = doc["paths"]["/v1/chat/completions"]["post"]["requestBody"]
    schema = resolve(doc, body["content"]["application/json"]["schema"])
    props = schema["properties"]
    assert schema["required"] == ["model", "messages"]
    # strict: a number, never a string; a boolean stream
    assert {"type": "number", "maximum": 2.0, "minimum": 0.0} in props["temperature"]["anyOf"]
    assert props["stream"]["type"] == "boolean"
    assert "tools" in props and "response_format" in props and "reasoning_effort" in props
    reply = doc["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert resolve(doc, reply["application/json"]["schema"])["title"] == "ChatCompletion"


def test_every_json_endpoint_names_its_body(tmp_path: Any) -> None:
    doc = document(tmp_path)
    for path, method in [("/v1/route", "post"), ("/v1/feedback", "post"), ("/admin/policy", "put")]:
        ref = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert resolve(doc, ref)["type"] == "object", path
