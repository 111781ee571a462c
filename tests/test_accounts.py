"""Built-in accounts of API.md: register, sign in with the password grant, /auth/me."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.conftest import assert_problem, bearer, open_client
from todo_api.app import create_app
from todo_api.auth.models import users_table
from todo_api.auth.schemas import EMAIL_PATTERN, normalize_email
from todo_api.database import create_engine
from todo_api.settings import Settings

PASSWORD = "correct horse battery"


def new_email(domain: str = "example.com") -> str:
    return f"user-{uuid.uuid4().hex[:12]}@{domain}"


async def register(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> Any:
    response = await client.post("/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    return response.json()


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    # Exactly what the Authorize button of /docs sends (OAuth2 password grant).
    return await client.post(
        "/auth/token",
        data={"grant_type": "password", "username": email, "password": password, "scope": ""},
    )


async def stored_hash(settings: Settings, email: str) -> str:
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            statement = select(users_table.c.password_hash).where(users_table.c.email == email)
            value: str = (await connection.execute(statement)).scalar_one()
            return value
    finally:
        await engine.dispose()


class TestRegister:
    async def test_creates_an_account(self, client: httpx.AsyncClient) -> None:
        email = new_email()
        response = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert response.status_code == 201
        body = response.json()
        assert set(body) == {"id", "email", "created_at"}
        uuid.UUID(body["id"])
        assert body["email"] == email
        assert datetime.fromisoformat(body["created_at"]).utcoffset() is not None
        assert "argon2" not in response.text

    async def test_normalises_the_domain_and_keeps_the_local_part(
        self, client: httpx.AsyncClient
    ) -> None:
        local = f"Mixed.Case-{uuid.uuid4().hex[:8]}"
        body = await register(client, f"{local}@Example.COM")
        assert body["email"] == f"{local}@example.com"

    @pytest.mark.parametrize("variant", [str.upper, str.title, lambda email: email])
    async def test_an_email_taken_in_any_case_is_409(
        self, client: httpx.AsyncClient, variant: Callable[[str], str]
    ) -> None:
        email = new_email()
        await register(client, email)
        response = await client.post(
            "/auth/register", json={"email": variant(email), "password": "another password"}
        )
        body = assert_problem(response, 409)
        assert "email" in body["detail"]

    @pytest.mark.parametrize(
        "email",
        [
            "not-an-email",
            "@example.com",
            "user@",
            "user@@example.com",
            "user@localhost",
            "us er@example.com",
            "user\x00@example.com",
            "jörg@example.com",
            "",
            f"{'a' * 300}@example.com",
        ],
    )
    async def test_a_bad_email_is_422(self, client: httpx.AsyncClient, email: str) -> None:
        response = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
        body = assert_problem(response, 422)
        assert body["errors"][0]["loc"] == ["body", "email"]

    @pytest.mark.parametrize("password", ["", "s3cr3t!", "7 chars", "x" * 129, "é" * 129])
    async def test_a_password_outside_8_to_128_characters_is_422(
        self, client: httpx.AsyncClient, password: str
    ) -> None:
        response = await client.post(
            "/auth/register", json={"email": new_email(), "password": password}
        )
        body = assert_problem(response, 422)
        assert body["errors"][0]["loc"] == ["body", "password"]
        if password:
            assert password not in response.text

    @pytest.mark.parametrize("password", ["8 chars!", "é" * 128])
    async def test_passwords_of_8_and_128_characters_are_accepted(
        self, client: httpx.AsyncClient, password: str
    ) -> None:
        email = new_email()
        await register(client, email, password)
        assert (await sign_in(client, email, password)).status_code == 200

    @pytest.mark.parametrize(
        "body",
        [
            {"email": "x@example.com", "password": PASSWORD, "is_admin": True},
            {"email": "x@example.com"},
            {"password": PASSWORD},
            {"email": 5, "password": PASSWORD},
            {"email": "x@example.com", "password": 12345678},
            {"email": ["x@example.com"], "password": PASSWORD},
            {"email": "x@example.com", "password": None},
        ],
    )
    async def test_strict_json_unknown_fields_and_wrong_types_are_422(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        assert_problem(await client.post("/auth/register", json=body), 422)

    async def test_a_password_with_a_lone_surrogate_is_422_not_500(
        self, client: httpx.AsyncClient
    ) -> None:
        raw = f'{{"email": "{new_email()}", "password": "abcdefgh\\ud800"}}'
        response = await client.post(
            "/auth/register", content=raw, headers={"Content-Type": "application/json"}
        )
        assert_problem(response, 422)

    async def test_a_body_that_is_not_json_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/auth/register", content=b"{", headers={"Content-Type": "application/json"}
        )
        assert_problem(response, 400)

    async def test_registration_switched_off_is_403_and_sign_in_still_works(
        self, client: httpx.AsyncClient, settings_factory: Callable[..., Settings]
    ) -> None:
        email = new_email()
        await register(client, email)
        closed = create_app(settings_factory(auth_registration_enabled=False))
        async with open_client(closed) as closed_client:
            response = await closed_client.post(
                "/auth/register", json={"email": new_email(), "password": PASSWORD}
            )
            body = assert_problem(response, 403)
            assert "Registration" in body["detail"]
            # Refused before the body is validated.
            assert_problem(await closed_client.post("/auth/register", json={}), 403)
            assert (await sign_in(closed_client, email)).status_code == 200

    async def test_without_a_signing_secret_built_in_accounts_are_off(
        self, settings_factory: Callable[..., Settings]
    ) -> None:
        # A JWKS-only deployment: the service cannot issue tokens, so it does not pretend to.
        app = create_app(settings_factory(environment="staging", jwt_secret=None))
        async with open_client(app) as jwks_only:
            body = {"email": new_email(), "password": PASSWORD}
            assert_problem(await jwks_only.post("/auth/register", json=body), 403)
            assert_problem(await sign_in(jwks_only, new_email()), 403)


async def test_authorize_style_sign_in_then_tasks(client: httpx.AsyncClient) -> None:
    email = new_email()
    account = await register(client, email)
    token = (await sign_in(client, email)).json()["access_token"]
    created = await client.post(
        "/tasks", json={"title": "from a built-in account"}, headers=bearer(token)
    )
    assert created.status_code == 201
    listed = await client.get("/tasks", headers=bearer(token))
    assert [task["id"] for task in listed.json()["items"]] == [created.json()["id"]]
    me = await client.get("/auth/me", headers=bearer(token))
    assert me.json()["id"] == account["id"]


async def test_no_response_ever_contains_a_password_hash(client: httpx.AsyncClient) -> None:
    email = new_email()
    responses = [
        await client.post("/auth/register", json={"email": email, "password": PASSWORD}),
        await client.post("/auth/register", json={"email": email, "password": PASSWORD}),
        await sign_in(client, email),
        await sign_in(client, email, "wrong password"),
        await client.get("/openapi.json"),
    ]
    token = responses[2].json()["access_token"]
    responses.append(await client.get("/auth/me", headers=bearer(token)))
    for response in responses:
        assert "$argon2" not in response.text
        assert "password_hash" not in response.text


async def test_openapi_documents_every_auth_status_as_problem_json(
    client: httpx.AsyncClient,
) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    expected = {
        ("/auth/register", "post"): {"201", "403", "409", "422"},
        ("/auth/token", "post"): {"200", "401", "422"},
        ("/auth/me", "get"): {"200", "401"},
    }
    for (path, method), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert statuses <= responses.keys(), (path, responses.keys())
        for status in statuses - {"200", "201"}:
            assert "application/problem+json" in responses[status]["content"]
    token_body = paths["/auth/token"]["post"]["requestBody"]["content"]
    assert "application/x-www-form-urlencoded" in token_body


async def test_hashing_holds_no_database_connection(
    settings_factory: Callable[..., Settings],
) -> None:
    # Argon2 takes far longer than this request deadline, and a burst of sign-ins queues
    # behind the hashing limiter: only statements, never hashing, may count against it.
    email = new_email()
    app = create_app(settings_factory(db_request_timeout_seconds=0.25))
    async with open_client(app) as client:
        await register(client, email)
        responses = await asyncio.gather(
            *(sign_in(client, email, PASSWORD if index % 2 else "wrong") for index in range(8))
        )
    assert [response.status_code for response in responses] == [401, 200] * 4


@hypothesis_settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(st.from_regex(re.compile(EMAIL_PATTERN), fullmatch=True).filter(lambda s: len(s) <= 254))
def test_every_address_the_documented_pattern_allows_is_accepted(address: str) -> None:
    # The OpenAPI pattern is the contract clients generate from: anything it allows must
    # pass validation, and come out with only its domain lower-cased.
    local, domain = address.rsplit("@", 1)
    assert normalize_email(address) == f"{local}@{domain.lower()}"
