"""The OpenAPI document reads well: every request body property and every parameter carries a
realistic example that its own schema accepts (Swagger UI's "Try it out" and ReDoc show
them), and parameter bounds are ones a JavaScript client can hold."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest

from tests.conftest import ApiUser, assert_problem
from tests.test_openapi import operations

JAVASCRIPT_MAX_SAFE_INTEGER = 2**53 - 1


@pytest.fixture
async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def examples_of(document: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    """The examples a schema declares: its own, or those of the value it may be besides null
    (an optional field declares its example on the type it shares with others)."""
    schema = resolve(document, schema)
    found = list(schema.get("examples", []))
    for variant in schema.get("anyOf", []) + schema.get("oneOf", []):
        found += examples_of(document, variant)
    return found


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    # The components ride along, so the schema's $refs resolve as they do in the document.
    root = {"allOf": [schema], "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def request_bodies(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, method, operation in operations(document):
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            yield f"{method.upper()} {path} ({media_type})", media_type, content["schema"]


def body_properties(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for where, _, schema in request_bodies(document):
        for name, property_schema in resolve(document, schema)["properties"].items():
            yield f"{where} {name}", property_schema


def parameters(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, method, operation in operations(document):
        for parameter in operation.get("parameters", []):
            where = f"{method.upper()} {path} {parameter['in']} {parameter['name']}"
            yield where, parameter["schema"]


async def test_every_body_property_and_parameter_has_an_example_its_schema_accepts(
    openapi: dict[str, Any],
) -> None:
    checked = []
    for where, schema in [*body_properties(openapi), *parameters(openapi)]:
        examples = [value for value in examples_of(openapi, schema) if value is not None]
        assert examples, f"{where} has no example: declare one with examples=[...]"
        for example in examples:
            errors = [error.message for error in validator(openapi, schema).iter_errors(example)]
            assert not errors, f"{where}: example {example!r} breaks its schema: {errors}"
        checked.append(where)
    # The walk reached the bodies and parameters it is meant for.
    assert "POST /tasks (application/json) title" in checked
    assert "POST /auth/token (application/x-www-form-urlencoded) username" in checked
    assert "GET /tasks query completed" in checked
    assert "GET /tasks/{task_id} path task_id" in checked


def example_body(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The body Swagger UI offers: each property with its first example."""
    properties = resolve(document, schema)["properties"]
    return {name: examples_of(document, value)[0] for name, value in properties.items()}


async def test_every_example_body_is_valid_as_a_whole(openapi: dict[str, Any]) -> None:
    for where, _, schema in request_bodies(openapi):
        body = example_body(openapi, schema)
        errors = [error.message for error in validator(openapi, schema).iter_errors(body)]
        assert not errors, f"{where}: example body {body} is refused: {errors}"


async def test_the_example_bodies_do_what_a_new_user_expects(
    client: httpx.AsyncClient, openapi: dict[str, Any], alice: ApiUser
) -> None:
    paths = openapi["paths"]

    def body_of(path: str, method: str, media_type: str = "application/json") -> Any:
        schema = paths[path][method]["requestBody"]["content"][media_type]["schema"]
        return example_body(openapi, schema)

    made_list = await client.post("/lists", json=body_of("/lists", "post"), headers=alice.headers)
    assert made_list.status_code == 201, made_list.text
    assert made_list.json()["name"] == "Groceries"
    renamed = await client.patch(
        f"/lists/{made_list.json()['id']}",
        json=body_of("/lists/{list_id}", "patch"),
        headers=alice.headers,
    )
    assert renamed.status_code == 200, renamed.text

    def in_own_list(body: dict[str, Any]) -> dict[str, Any]:
        # The example list id stands for one of the reader's lists, as a path's id does.
        return {**body, "list_id": made_list.json()["id"]} if "list_id" in body else body

    created = await client.post(
        "/tasks", json=in_own_list(body_of("/tasks", "post")), headers=alice.headers
    )
    assert created.status_code == 201, created.text
    assert created.json()["title"] == "Buy milk"
    task_url = f"/tasks/{created.json()['id']}"
    replaced = await client.put(
        task_url, json=body_of("/tasks/{task_id}", "put"), headers=alice.headers
    )
    assert replaced.status_code == 200, replaced.text
    patched = await client.patch(
        task_url, json=in_own_list(body_of("/tasks/{task_id}", "patch")), headers=alice.headers
    )
    assert patched.status_code == 200, patched.text

    account = body_of("/auth/register", "post")
    assert account["email"] == "ada@example.com"
    # The example address may be taken in this shared database: one of its own, same form.
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    registered = await client.post("/auth/register", json={**account, "email": email})
    assert registered.status_code == 201, registered.text
    form = body_of("/auth/token", "post", "application/x-www-form-urlencoded")
    assert form["username"] == account["email"]
    signed_in = await client.post("/auth/token", data={**form, "username": email})
    assert signed_in.status_code == 200, signed_in.text


async def test_the_example_filters_of_the_list_are_accepted_together(
    client: httpx.AsyncClient, openapi: dict[str, Any], alice: ApiUser
) -> None:
    listing = openapi["paths"]["/tasks"]["get"]["parameters"]
    examples = {
        parameter["name"]: examples_of(openapi, parameter["schema"])[0]
        for parameter in listing
        if parameter["name"] in {"limit", "offset", "completed", "q", "sort"}
    }
    assert len(examples) == 5
    # A query string spells booleans the way JSON does.
    query = {
        name: str(value).lower() if isinstance(value, bool) else value
        for name, value in examples.items()
    }
    response = await client.get("/tasks", params=query, headers=alice.headers)
    assert response.status_code == 200, response.text


async def test_integer_bounds_survive_javascript(openapi: dict[str, Any]) -> None:
    for where, schema in [*body_properties(openapi), *parameters(openapi)]:
        schema = resolve(openapi, schema)
        for bound in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
            if bound in schema:
                assert abs(schema[bound]) <= JAVASCRIPT_MAX_SAFE_INTEGER, (where, bound)
    offset = next(schema for where, schema in parameters(openapi) if where.endswith("offset"))
    assert offset["maximum"] == JAVASCRIPT_MAX_SAFE_INTEGER


async def test_the_documented_offset_maximum_is_the_enforced_one(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    at_bound = {"offset": JAVASCRIPT_MAX_SAFE_INTEGER}
    response = await client.get("/tasks", params=at_bound, headers=alice.headers)
    assert response.status_code == 200, response.text
    assert response.json()["offset"] == JAVASCRIPT_MAX_SAFE_INTEGER
    past = {"offset": JAVASCRIPT_MAX_SAFE_INTEGER + 1}
    assert_problem(await client.get("/tasks", params=past, headers=alice.headers), 422)


async def test_optional_parameters_are_documented_by_their_value_not_as_nullable(
    openapi: dict[str, Any],
) -> None:
    for where, schema in parameters(openapi):
        assert "anyOf" not in schema, where
        assert schema.get("type") != "null", where
    completed = next(schema for where, schema in parameters(openapi) if where.endswith("completed"))
    assert completed["type"] == "boolean"


@pytest.mark.parametrize(
    "value", ["1", "0", "yes", "no", "on", "off", "t", "f", "True", "FALSE", ""]
)
async def test_completed_takes_true_or_false_and_nothing_else(
    client: httpx.AsyncClient, alice: ApiUser, value: str
) -> None:
    response = await client.get("/tasks", params={"completed": value}, headers=alice.headers)
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["query", "completed"]


async def test_security_schemes_tell_a_person_what_to_type(openapi: dict[str, Any]) -> None:
    schemes = openapi["components"]["securitySchemes"]
    password = next(scheme for scheme in schemes.values() if scheme["type"] == "oauth2")
    assert "email address in `username`" in password["description"]
    assert "No client id or secret" in password["description"]
    bearer = next(scheme for scheme in schemes.values() if scheme.get("scheme") == "bearer")
    assert "paste the token" in bearer["description"]
    token_form = resolve(
        openapi,
        openapi["paths"]["/auth/token"]["post"]["requestBody"]["content"][
            "application/x-www-form-urlencoded"
        ]["schema"],
    )
    # The form asks for nothing the service ignores.
    assert set(token_form["properties"]) == {"grant_type", "username", "password"}
    assert set(token_form["required"]) == {"username", "password"}
