"""Errors of POST /auth/token are problem documents that also speak OAuth2: `error` and
`error_description` (RFC 6749 section 5.2) as extension members, which OAuth2 clients show."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import assert_problem
from tests.servers import serving
from todo_api.settings import Settings

PASSWORD = "correct horse battery"
# RFC 6749 section 5.2: error_description is printable ASCII without " and \.
DESCRIPTION_CHARACTERS = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]+$")


def assert_token_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    body = assert_problem(response, status)
    assert body["error"] == error, body
    assert DESCRIPTION_CHARACTERS.fullmatch(body["error_description"]), body
    assert int(response.headers["content-length"]) == len(response.content)
    return body


async def registered(client: httpx.AsyncClient) -> str:
    email = f"oauth-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": PASSWORD}
    assert (await client.post("/auth/register", json=body)).status_code == 201
    return email


async def test_a_wrong_password_is_invalid_grant_with_the_services_own_words(
    client: httpx.AsyncClient,
) -> None:
    email = await registered(client)
    form = {"grant_type": "password", "username": email, "password": "not the password"}
    response = await client.post("/auth/token", data=form)
    body = assert_token_error(response, 401, "invalid_grant")
    assert body["error_description"] == body["detail"] == "The email or password is wrong."
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_unknown_email_gets_the_very_same_answer(client: httpx.AsyncClient) -> None:
    email = await registered(client)
    wrong = await client.post("/auth/token", data={"username": email, "password": "nope-nope"})
    unknown_form = {"username": f"nobody-{uuid.uuid4().hex}@example.com", "password": PASSWORD}
    unknown = await client.post("/auth/token", data=unknown_form)
    assert wrong.json() == unknown.json()


async def test_a_missing_field_is_invalid_request_naming_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/token", data={"username": "ada@example.com"})
    body = assert_token_error(response, 422, "invalid_request")
    assert body["errors"][0]["loc"] == ["body", "password"]
    assert body["error_description"] == "The request breaks a validation rule: password."


async def test_another_grant_type_is_unsupported_grant_type(client: httpx.AsyncClient) -> None:
    form = {"grant_type": "client_credentials", "username": "a@example.com", "password": PASSWORD}
    assert_token_error(await client.post("/auth/token", data=form), 422, "unsupported_grant_type")


async def test_a_json_body_is_invalid_request(client: httpx.AsyncClient) -> None:
    response = await client.post("/auth/token", json={"username": "a@example.com"})
    assert_token_error(response, response.status_code, "invalid_request")
    assert response.status_code in (400, 415, 422)


async def test_client_credentials_are_not_needed_and_do_not_hurt(
    client: httpx.AsyncClient,
) -> None:
    email = await registered(client)
    form = {"username": email, "password": PASSWORD, "client_id": "", "client_secret": "x"}
    assert (await client.post("/auth/token", data=form)).status_code == 200


async def test_errors_from_in_front_of_the_router_carry_the_members_too(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(rate_limit_auth="2/day", max_body_bytes=64)
    async with serving(settings) as http:
        too_big = await http.post("/auth/token", data={"username": "a" * 100, "password": "x"})
        assert_token_error(too_big, 413, "invalid_request")
        # The address budget is spent by requests the route sees (the 413 never reached it).
        for _ in range(2):
            await http.post("/auth/token", data={"username": "a@example.com", "password": "x"})
        limited = await http.post("/auth/token", data={"username": "a@example.com"})
        body = assert_token_error(limited, 429, "temporarily_unavailable")
        assert body["error_description"] == body["detail"]
        assert "retry-after" in limited.headers


async def test_built_in_accounts_switched_off_is_unsupported_grant_type(
    settings_factory: Callable[..., Settings],
) -> None:
    async with serving(settings_factory(environment="staging", jwt_secret=None)) as http:
        form = {"username": "a@example.com", "password": PASSWORD}
        assert_token_error(await http.post("/auth/token", data=form), 403, "unsupported_grant_type")


async def test_other_endpoints_keep_plain_problem_documents(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/auth/register", json={}), 422)
    assert "error" not in body
    assert "error_description" not in body


async def test_the_token_errors_are_documented_with_their_members(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/openapi.json")).json()
    schemas = document["components"]["schemas"]
    responses = document["paths"]["/auth/token"]["post"]["responses"]
    for status in ("400", "401", "403", "413", "429", "503"):
        schema = responses[status]["content"]["application/problem+json"]["schema"]
        assert schema["$ref"] == "#/components/schemas/TokenProblem", status
    validation = responses["422"]["content"]["application/problem+json"]["schema"]
    assert validation["$ref"] == "#/components/schemas/TokenValidationProblem"
    for name in ("TokenProblem", "TokenValidationProblem"):
        schema = schemas[name]
        assert {"type", "title", "status", "detail", "error", "error_description"} <= set(
            schema["required"]
        )
        codes = set(schema["properties"]["error"]["enum"])
        assert {"invalid_request", "invalid_grant", "unsupported_grant_type"} <= codes
    assert "errors" in schemas["TokenValidationProblem"]["required"]


async def test_a_wrong_method_still_answers_with_the_members(client: httpx.AsyncClient) -> None:
    assert_token_error(await client.get("/auth/token"), 405, "invalid_request")
