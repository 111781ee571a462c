"""Every rejection rule for bearer tokens gives 401 with a Bearer challenge."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import ApiUser, assert_problem, bearer, make_token
from todo_api.auth.tokens import TokenVerifier
from todo_api.settings import Settings

INVALID = 'Bearer error="invalid_token"'


def unsigned(payload: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(payload)}."


def future(seconds: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "alg none": lambda: unsigned({"sub": "mallory", "exp": int(future(300).timestamp())}),
    "wrong secret": lambda: make_token(secret="another-secret-that-is-long-enough-000"),
    "disallowed algorithm HS512": lambda: make_token(algorithm="HS512", secret="k" * 64),
    "expired": lambda: make_token(lifetime=timedelta(minutes=-5)),
    "missing exp": lambda: make_token(drop=("exp",)),
    "future nbf": lambda: make_token(nbf=future(600)),
    "future iat": lambda: make_token(iat=future(600)),
    "missing sub": lambda: make_token(drop=("sub",)),
    "empty sub": lambda: make_token(sub=""),
    "numeric sub": lambda: make_token(sub=12345),
    "sub of 256 characters": lambda: make_token(sub="s" * 256),
    "malformed": lambda: "not.a.jwt",
    "garbage": lambda: "!!!!",
    "oversized": lambda: make_token(padding="x" * 20_000),
}


@pytest.mark.parametrize("name", BAD_TOKENS)
async def test_bad_token_is_401_with_invalid_token_challenge(
    client: httpx.AsyncClient, name: str
) -> None:
    response = await client.get("/tasks", headers=bearer(BAD_TOKENS[name]()))
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == INVALID
    assert "jwt" not in body["detail"].lower().replace("bearer token", "")


async def test_tampered_payload_is_401(client: httpx.AsyncClient) -> None:
    header, _payload, signature = make_token("alice").split(".")
    forged = (
        base64.urlsafe_b64encode(
            json.dumps({"sub": "mallory", "exp": int(future(300).timestamp())}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    response = await client.get("/tasks", headers=bearer(f"{header}.{forged}.{signature}"))
    assert_problem(response, 401)


async def test_leeway_accepts_small_clock_skew(client: httpx.AsyncClient) -> None:
    token = make_token(iat=future(10), nbf=future(10))
    assert (await client.get("/tasks", headers=bearer(token))).status_code == 200


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Token abc", ""],
)
async def test_missing_or_non_bearer_authorization_is_401(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await client.get("/tasks", headers={"Authorization": header})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_scheme_is_case_insensitive(client: httpx.AsyncClient, alice: ApiUser) -> None:
    token = alice.headers["Authorization"].split()[1]
    response = await client.get("/tasks", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


class TestWithIssuerAndAudience:
    @pytest.fixture
    def settings(self, settings_factory: Callable[..., Settings]) -> Settings:
        return settings_factory(jwt_issuer="https://issuer.example", jwt_audience="todo-api")

    async def test_issuer_and_audience_must_match(self, client: httpx.AsyncClient) -> None:
        good = make_token(iss="https://issuer.example", aud="todo-api")
        assert (await client.get("/tasks", headers=bearer(good))).status_code == 200
        for claims in (
            {"iss": "https://evil.example", "aud": "todo-api"},
            {"iss": "https://issuer.example", "aud": "someone-else"},
            {"aud": "todo-api"},
            {"iss": "https://issuer.example"},
        ):
            response = await client.get("/tasks", headers=bearer(make_token(**claims)))
            assert_problem(response, 401)


class TestWithoutLeeway:
    @pytest.fixture
    def settings(self, settings_factory: Callable[..., Settings]) -> Settings:
        return settings_factory(jwt_leeway_seconds=0)

    async def test_a_token_accepted_before_stops_working_when_it_expires(
        self, app: FastAPI, client: httpx.AsyncClient
    ) -> None:
        now = time.time()
        resources = app.state.resources
        resources.verifier = TokenVerifier(resources.settings, clock=lambda: now)
        token = make_token(lifetime=timedelta(seconds=2))
        assert (await client.get("/tasks", headers=bearer(token))).status_code == 200
        now += 2.5
        assert_problem(await client.get("/tasks", headers=bearer(token)), 401)
