"""The OpenAPI document types every success and error body, so generated clients are typed."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.conftest import TASK_FIELDS

PROBLEM = "application/problem+json"


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


async def test_every_task_route_is_documented(openapi: dict[str, Any]) -> None:
    documented = {(path, method) for path, method, _ in operations(openapi)}
    assert {
        ("/tasks", "get"),
        ("/tasks", "post"),
        ("/tasks/{task_id}", "get"),
        ("/tasks/{task_id}", "put"),
        ("/tasks/{task_id}", "patch"),
        ("/tasks/{task_id}", "delete"),
        ("/tasks/{task_id}/toggle", "patch"),
        ("/tags", "get"),
        ("/health", "get"),
        ("/health/ready", "get"),
    } <= documented


async def test_error_responses_are_problem_json_with_a_schema(openapi: dict[str, Any]) -> None:
    for path, method, operation in operations(openapi):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            content = response.get("content", {})
            assert list(content) == [PROBLEM], f"{method} {path} {status}"
            assert content[PROBLEM]["schema"]["$ref"].startswith("#/components/schemas/")


async def test_no_default_validation_error_schema_remains(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert {"Problem", "ValidationProblem", "ValidationErrorItem"} <= schemas.keys()
    for path, _, operation in operations(openapi):
        if "422" in operation["responses"]:
            ref = operation["responses"]["422"]["content"][PROBLEM]["schema"]["$ref"]
            # The token endpoint's problems also carry the OAuth2 members.
            expected = "TokenValidationProblem" if path == "/auth/token" else "ValidationProblem"
            assert ref == f"#/components/schemas/{expected}"


async def test_task_routes_list_their_statuses_and_security_schemes(
    openapi: dict[str, Any],
) -> None:
    expected = {
        ("/tasks", "post"): {"201", "400", "401", "413", "422", "429", "503"},
        ("/tasks", "get"): {"200", "401", "422", "429", "503"},
        ("/tasks/{task_id}", "get"): {"200", "304", "401", "403", "404", "422", "429", "503"},
        ("/tasks/{task_id}", "put"): {"200", "400", "401", "403", "404", "412", "413", "422"},
        ("/tasks/{task_id}", "patch"): {"200", "400", "401", "403", "404", "412", "413", "422"},
        ("/tasks/{task_id}/toggle", "patch"): {"200", "401", "403", "404", "412", "422"},
        ("/tasks/{task_id}", "delete"): {"204", "401", "403", "404", "412", "422"},
        ("/tags", "get"): {"200", "401", "429", "503"},
    }
    for (path, method), statuses in expected.items():
        operation = openapi["paths"][path][method]
        assert statuses <= operation["responses"].keys(), (path, method)
    schemes = openapi["components"]["securitySchemes"]
    assert any(scheme.get("scheme") == "bearer" for scheme in schemes.values())
    assert any(scheme.get("type") == "oauth2" for scheme in schemes.values())


async def test_success_bodies_are_typed(openapi: dict[str, Any]) -> None:
    create = openapi["paths"]["/tasks"]["post"]["responses"]["201"]
    assert create["content"]["application/json"]["schema"]["$ref"].endswith("/TaskRead")
    assert "Location" in create["headers"]
    listing = openapi["paths"]["/tasks"]["get"]["responses"]["200"]
    assert listing["content"]["application/json"]["schema"]["$ref"].endswith("/TaskPage")
    task = openapi["components"]["schemas"]["TaskRead"]
    assert set(task["required"]) == TASK_FIELDS


async def test_patch_body_does_not_admit_null_title(openapi: dict[str, Any]) -> None:
    patch = openapi["components"]["schemas"]["TaskPatch"]
    assert patch["properties"]["title"]["type"] == "string"
    assert patch["properties"]["completed"]["type"] == "boolean"
    assert patch["additionalProperties"] is False
    assert patch["minProperties"] == 1


async def test_fields_every_response_carries_are_required(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert set(schemas["Problem"]["required"]) == {"type", "title", "status", "detail"}
    assert "type" in schemas["ValidationProblem"]["required"]
    assert set(schemas["AccessToken"]["required"]) == {"access_token", "token_type", "expires_in"}
    assert schemas["HealthStatus"]["required"] == ["status"]


def request_body_properties(openapi: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    schemas = openapi["components"]["schemas"]
    for _, _, operation in operations(openapi):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            name = media["schema"]["$ref"].rsplit("/", 1)[1]
            for field, schema in schemas[name]["properties"].items():
                yield f"{name}.{field}", schema


async def test_request_body_fields_that_may_be_left_out_are_optional(
    openapi: dict[str, Any],
) -> None:
    # openapi-typescript types a property with a `default` as required: a request body
    # documents its defaults in words instead (generated-clients/check type-checks clients).
    for where, schema in request_body_properties(openapi):
        assert "default" not in schema, where
    schemas = openapi["components"]["schemas"]
    for name in ("TaskCreate", "TaskReplace"):
        assert schemas[name]["required"] == ["title"]
        properties = schemas[name]["properties"]
        assert properties["completed"]["description"] == "Default when left out: `false`."
        assert properties["priority"]["description"].endswith('Default when left out: `"none"`.')


async def test_operation_ids_are_the_route_names(openapi: dict[str, Any]) -> None:
    ids = {
        (path, method): operation["operationId"] for path, method, operation in operations(openapi)
    }
    assert ids[("/tasks", "post")] == "create_task"
    assert ids[("/tasks/{task_id}", "put")] == "replace_task"
    assert ids[("/tasks/changes", "get")] == "list_changes"
    assert len(set(ids.values())) == len(ids)


async def test_a_429_documents_retry_after_and_the_rate_limit_headers(
    openapi: dict[str, Any],
) -> None:
    headers = openapi["paths"]["/tasks"]["get"]["responses"]["429"]["headers"]
    assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(
        headers
    )


SINGLE_TASK_RESPONSES = [
    ("/tasks", "post", "201"),
    ("/tasks/{task_id}", "get", "200"),
    ("/tasks/{task_id}", "get", "304"),
    ("/tasks/{task_id}", "put", "200"),
    ("/tasks/{task_id}", "patch", "200"),
    ("/tasks/{task_id}/toggle", "patch", "200"),
]


@pytest.mark.parametrize(("path", "method", "status"), SINGLE_TASK_RESPONSES)
async def test_every_single_task_response_documents_its_etag_header(
    openapi: dict[str, Any], path: str, method: str, status: str
) -> None:
    headers = openapi["paths"][path][method]["responses"][status]["headers"]
    assert headers["ETag"]["schema"] == {"type": "string"}


async def test_the_304_has_no_body(openapi: dict[str, Any]) -> None:
    assert "content" not in openapi["paths"]["/tasks/{task_id}"]["get"]["responses"]["304"]


def parameters(openapi: dict[str, Any], path: str, method: str) -> dict[str, dict[str, Any]]:
    return {
        parameter["name"]: parameter for parameter in openapi["paths"][path][method]["parameters"]
    }


async def test_conditional_headers_are_documented_where_they_apply(
    openapi: dict[str, Any],
) -> None:
    for path, method in (
        ("/tasks/{task_id}", "put"),
        ("/tasks/{task_id}", "patch"),
        ("/tasks/{task_id}/toggle", "patch"),
        ("/tasks/{task_id}", "delete"),
    ):
        documented = parameters(openapi, path, method)["If-Match"]
        assert documented["in"] == "header"
        assert documented["schema"]["examples"]
    documented = parameters(openapi, "/tasks/{task_id}", "get")["If-None-Match"]
    assert documented["in"] == "header"
    assert documented["schema"]["examples"]


async def test_the_new_list_parameters_are_typed(openapi: dict[str, Any]) -> None:
    documented = parameters(openapi, "/tasks", "get")
    # Optional parameters are documented by their value's schema, without "| null".
    priority = documented["priority"]["schema"]
    assert priority["type"] == "array"
    assert priority["items"]["enum"] == ["none", "low", "medium", "high"]
    assert documented["tag"]["schema"]["type"] == "array"
    for bound in ("due_before", "due_after"):
        assert documented[bound]["schema"]["format"] == "date-time"
    for name in ("priority", "tag", "due_before", "due_after"):
        assert documented[name]["schema"]["examples"] or documented[name]["examples"], name
    sorts = documented["sort"]["schema"]["enum"]
    assert {"due_at", "-due_at", "priority", "-priority"} <= set(sorts)


async def test_the_task_schema_types_the_new_fields(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    task = schemas["TaskRead"]["properties"]
    assert task["priority"]["enum"] == ["none", "low", "medium", "high"]
    assert task["tags"]["items"]["type"] == "string"
    assert task["etag"]["type"] == "string"
    assert {"type": "string", "format": "date-time"} in task["due_at"]["anyOf"]
    for body in ("TaskCreate", "TaskReplace", "TaskPatch"):
        properties = schemas[body]["properties"]
        assert {"priority", "due_at", "tags"} <= properties.keys()
        assert "examples" in str(properties["tags"])
        assert "examples" in str(properties["due_at"])
    tags = schemas["TagList"]["properties"]["items"]["items"]["$ref"]
    assert set(schemas[tags.rsplit("/", 1)[1]]["required"]) == {"name", "count"}


async def test_safe_retries_cursors_and_sync_are_documented(openapi: dict[str, Any]) -> None:
    paths = openapi["paths"]
    for path, method in (
        ("/tasks", "post"),
        ("/tasks/{task_id}", "patch"),
        ("/tasks/{task_id}/toggle", "patch"),
        ("/lists", "post"),
    ):
        operation = paths[path][method]
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert "Idempotency-Key" in headers, (path, method)
        for status in ("400", "409", "422"):
            assert PROBLEM in operation["responses"][status]["content"], (path, status)
        assert "Idempotency-Key" in operation["responses"]["409"]["description"]
        success = next(code for code in ("200", "201") if code in operation["responses"])
        assert "Idempotent-Replayed" in operation["responses"][success]["headers"]
    listing = paths["/tasks"]["get"]
    assert "cursor" in {p["name"] for p in listing["parameters"]}
    page = openapi["components"]["schemas"]["TaskPage"]
    assert "next_cursor" in page["properties"]
    changes = paths["/tasks/changes"]["get"]
    assert {p["name"] for p in changes["parameters"] if p["in"] == "query"} == {"since", "limit"}
    for status in ("410", "422"):
        assert PROBLEM in changes["responses"][status]["content"]
    body = changes["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    schema = openapi["components"]["schemas"][body.rsplit("/", 1)[-1]]
    assert set(schema["required"]) == {
        "tasks",
        "deleted",
        "lists",
        "deleted_lists",
        "next_since",
        "has_more",
    }


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


async def test_exactly_the_routes_that_need_a_token_declare_security(
    app: FastAPI, client: httpx.AsyncClient, openapi: dict[str, Any]
) -> None:
    """Whatever routes exist: each is called without a token, and a bearer challenge in
    its answer must match a security requirement in its documentation."""
    needing_a_token = set()
    for route in api_routes(app.routes):
        if not route.include_in_schema:
            continue
        url = re.sub(r"{[^}]+}", str(uuid.uuid4()), route.path)
        for method in sorted(route.methods):
            response = await client.request(method, url, json={})
            challenged = response.status_code == 401 and response.headers.get(
                "www-authenticate", ""
            ).startswith("Bearer")
            documented = openapi["paths"][route.path][method.lower()]
            assert challenged == bool(documented.get("security")), (method, route.path)
            if challenged:
                needing_a_token.add((method, route.path))
    assert {("GET", "/tasks"), ("DELETE", "/tasks/{task_id}"), ("GET", "/auth/me")} <= (
        needing_a_token
    )


async def test_the_list_routes_document_their_statuses_headers_and_bodies(
    openapi: dict[str, Any],
) -> None:
    paths = openapi["paths"]
    expected = {
        ("/lists", "get"): {"200", "401", "429", "503"},
        ("/lists", "post"): {"201", "400", "401", "409", "413", "415", "422", "429", "503"},
        ("/lists/{list_id}", "get"): {"200", "304", "401", "403", "404", "422", "429", "503"},
        ("/lists/{list_id}", "patch"): {
            *("200", "400", "401", "403", "404", "409", "412"),
            *("413", "415", "422", "429", "503"),
        },
        ("/lists/{list_id}", "delete"): {
            *("204", "401", "403", "404", "409", "412", "422", "429", "503"),
        },
    }
    for (path, method), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert set(responses) == statuses, (path, method)
        for status in statuses - {"200", "201", "204", "304"}:
            assert PROBLEM in responses[status]["content"], (path, method, status)
    created = paths["/lists"]["post"]["responses"]["201"]
    assert {"Location", "ETag", "Idempotent-Replayed"} <= set(created["headers"])
    assert "ETag" in paths["/lists/{list_id}"]["get"]["responses"]["200"]["headers"]
    schemas = openapi["components"]["schemas"]
    assert set(schemas["ListRead"]["required"]) == {
        "id",
        "name",
        "is_default",
        "created_at",
        "updated_at",
        "etag",
    }
    assert schemas["ListCreate"]["additionalProperties"] is False
    headers = {p["name"] for p in paths["/lists/{list_id}"]["patch"]["parameters"]}
    assert "If-Match" in headers
    assert "If-Match" in {p["name"] for p in paths["/lists/{list_id}"]["delete"]["parameters"]}
    assert "If-None-Match" in {p["name"] for p in paths["/lists/{list_id}"]["get"]["parameters"]}


async def test_tasks_document_their_list(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    assert "list_id" in schemas["TaskRead"]["required"]
    assert "list_id" in schemas["TaskCreate"]["properties"]
    assert "list_id" in schemas["TaskPatch"]["properties"]
    assert "list_id" not in schemas["TaskReplace"]["properties"]
    listing = openapi["paths"]["/tasks"]["get"]["parameters"]
    list_filter = next(p for p in listing if p["name"] == "list_id")
    assert list_filter["schema"]["format"] == "uuid"
