"""The OpenAPI document: problem+json schemas for every error response, and request bodies
that generated clients type as the service reads them."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from todo_api.auth.token_errors import TokenProblem, TokenValidationProblem
from todo_api.errors import PROBLEM_MEDIA_TYPE, Problem, ValidationProblem

_REF_TEMPLATE = "#/components/schemas/{model}"
BEARER_SCHEME = "ProviderToken"
_BEARER_DESCRIPTION = (
    "**Signed in through another provider** (Better Auth, Auth0, ...): paste the token (a JWT) "
    "it gave you, without the word `Bearer`. With an account on this service, use "
    "`BuiltInAccount` instead."
)


def operation_id(route: APIRoute) -> str:
    """The route's function name (`create_task`): generated clients name their methods after
    it, where FastAPI's default appends the path and method (`create_task_tasks_post`)."""
    return route.name


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, ValidationProblem, TokenProblem, TokenValidationProblem):
        model_schema = model.model_json_schema(ref_template=_REF_TEMPLATE, mode="serialization")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    # FastAPI documents its own 422 as application/json HTTPValidationError; ours is a
    # problem document, so every such entry is replaced.
    validation = {
        "description": "The body or a parameter breaks a validation rule.",
        "content": {
            PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
        },
    }
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses", {})
            # A route's own problem entry (with its own description) stays as it is.
            if "422" in responses and PROBLEM_MEDIA_TYPE not in responses["422"].get("content", {}):
                responses["422"] = validation
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    _add_plain_bearer_scheme(schema)
    _document_parameters_without_null(schema)
    _document_request_defaults(schema)
    return schema


def _document_request_defaults(schema: dict[str, Any]) -> None:
    """A request-body property that may be left out is documented without `default`, its
    default told in the description instead.

    openapi-typescript (its default options, the generator most front ends use) types every
    property that has a `default` as required, since a server's response always carries it;
    in a request it means the opposite, so `POST /tasks {"title": ...}` would not type-check.
    Response schemas keep their defaults, and list every field as required.
    """
    components = schema.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    pending = [
        media["schema"]
        for path_item in schema.get("paths", {}).values()
        for operation in path_item.values()
        for media in operation.get("requestBody", {}).get("content", {}).values()
    ]
    while pending:
        body = pending.pop()
        ref = body.get("$ref", "")
        if ref.startswith(_REF_TEMPLATE.format(model="")):
            name = ref.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                pending.append(components[name])
            continue
        for variant in body.get("anyOf", ()):
            pending.append(variant)
        if "items" in body:
            pending.append(body["items"])
        for value in body.get("properties", {}).values():
            if "default" in value:
                default = json.dumps(value.pop("default"), ensure_ascii=False)
                told = f"Default when left out: `{default}`."
                value["description"] = f"{value.get('description', '')} {told}".lstrip()
            pending.append(value)


def _document_parameters_without_null(schema: dict[str, Any]) -> None:
    """A parameter is absent or has a value, never null, so an optional one is documented
    by its value's schema: FastAPI's `anyOf: [T, null]` reads as "T | null" in clients."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", ()):
                variants = parameter["schema"].get("anyOf", ())
                values = [variant for variant in variants if variant != {"type": "null"}]
                if len(variants) == 2 and len(values) == 1:
                    outer = {k: v for k, v in parameter["schema"].items() if k != "anyOf"}
                    parameter["schema"] = {**values[0], **outer}


def _add_plain_bearer_scheme(schema: dict[str, Any]) -> None:
    """Offer a paste-a-token bearer scheme beside the password flow, for outside tokens."""
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes[BEARER_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": _BEARER_DESCRIPTION,
    }
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            security = operation.get("security")
            if security and {BEARER_SCHEME: []} not in security:
                security.append({BEARER_SCHEME: []})
