"""X-Request-ID, security headers, CORS and the body limit: headers every response carries."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import TEST_SECRET, ApiUser, assert_problem
from tests.servers import SLOW_START_TIMEOUT, clean_environment, running_server, serving
from todo_api.middleware import request_id_from
from todo_api.settings import Settings

GENERATED_ID = re.compile(r"^[0-9a-f]{32}$")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


async def _boom() -> None:
    raise RuntimeError("secret detail that must not leak")


@pytest.fixture
def app_with_failing_route(app: FastAPI) -> FastAPI:
    app.add_api_route("/test-only/boom", _boom)
    return app


@pytest.mark.parametrize(
    "incoming",
    ["a", "abc-123_XYZ.def", "x" * 128, "0f8e2c7a-1d2b-4a5e-9c3f-123456789abc"],
)
async def test_a_valid_incoming_request_id_is_echoed(
    client: httpx.AsyncClient, incoming: str
) -> None:
    response = await client.get("/health", headers={"X-Request-ID": incoming})
    assert response.headers["x-request-id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    ["", "x" * 129, "has space", "semi;colon", "slash/", "ünïcode", "new\\nline", "a,b"],
)
async def test_an_invalid_incoming_request_id_is_replaced(
    client: httpx.AsyncClient, incoming: str
) -> None:
    response = await client.get("/health", headers={"X-Request-ID": incoming.encode()})
    assert GENERATED_ID.match(response.headers["x-request-id"])


async def test_each_request_without_an_id_gets_its_own(client: httpx.AsyncClient) -> None:
    first = (await client.get("/health")).headers["x-request-id"]
    second = (await client.get("/health")).headers["x-request-id"]
    assert GENERATED_ID.match(first)
    assert first != second


def test_generated_ids_differ_between_forked_workers() -> None:
    # Pre-forking servers (gunicorn --preload) import the app once, then fork the workers.
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover -- the child reports through the pipe
        os.write(writer, request_id_from(()).encode())
        os._exit(0)
    os.close(writer)
    os.waitpid(child, 0)
    with os.fdopen(reader, "rb") as pipe:
        childs_id = pipe.read().decode()
    assert GENERATED_ID.match(childs_id)
    assert childs_id != request_id_from(())


async def test_error_responses_carry_the_request_id_and_security_headers(
    client: httpx.AsyncClient, alice: ApiUser, settings_factory: Callable[..., Settings]
) -> None:
    responses = {
        404: await client.get("/no/such/route", headers={"X-Request-ID": "r404"}),
        405: await client.put("/health", headers={"X-Request-ID": "r405"}),
        401: await client.get("/tasks", headers={"X-Request-ID": "r401"}),
        413: await client.post(
            "/tasks",
            content=b"x" * 1_048_577,
            headers={**alice.headers, "X-Request-ID": "r413", "Content-Type": "application/json"},
        ),
    }
    for status, response in responses.items():
        assert_problem(response, status)
        assert response.headers["x-request-id"] == f"r{status}"
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value


async def test_an_unexpected_error_is_a_500_problem_with_the_request_id(
    app_with_failing_route: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/test-only/boom", headers={"X-Request-ID": "r500"})
    body = assert_problem(response, 500)
    assert "secret detail" not in response.text
    assert body["detail"] == "Internal server error."
    assert response.headers["x-request-id"] == "r500"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_api_responses_have_a_strict_policy_and_are_not_stored(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await client.get("/tasks", headers=alice.headers)
    assert response.headers["content-security-policy"] == (
        "default-src 'none'; frame-ancestors 'none'"
    )
    assert response.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in response.headers


async def test_docs_get_a_policy_that_lets_swagger_load(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-frame-options"] == "DENY"


async def test_production_sends_strict_transport_security(
    settings_factory: Callable[..., Settings], postgres_or_skip: str
) -> None:
    settings = settings_factory(environment="production", database_url=postgres_or_skip)
    async with serving(settings) as http:
        response = await http.get("/health")
        assert response.headers["strict-transport-security"].startswith("max-age=")


@pytest.fixture
def postgres_or_skip(database_url: str) -> str:
    if not database_url.startswith("postgresql"):
        pytest.skip("production runs only on PostgreSQL")
    return database_url


# --- CORS ---------------------------------------------------------------------------------

ALLOWED_ORIGIN = "https://app.example.com"


@pytest.fixture
async def cors_client(
    settings_factory: Callable[..., Settings],
) -> AsyncIterator[httpx.AsyncClient]:
    origins = f"{ALLOWED_ORIGIN},http://localhost:3000"
    async with serving(settings_factory(cors_origins=origins)) as http:
        yield http


def _preflight(
    origin: str, method: str = "POST", headers: str = "authorization,content-type"
) -> dict[str, Any]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_cors_preflight_from_an_allowed_origin_succeeds(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options("/tasks", headers=_preflight(ALLOWED_ORIGIN))
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "x-request-id" in response.headers


async def test_cors_preflight_from_another_origin_is_refused(
    cors_client: httpx.AsyncClient,
) -> None:
    response = await cors_client.options("/tasks", headers=_preflight("https://evil.example"))
    assert_problem(response, 400)
    assert "access-control-allow-origin" not in response.headers


async def test_cors_simple_request_exposes_the_operational_headers(
    cors_client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await cors_client.get("/tasks", headers={**alice.headers, "Origin": ALLOWED_ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    exposed = {
        name.strip().lower()
        for name in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"x-request-id", "location", "retry-after", "ratelimit-remaining"} <= exposed
    assert {"etag", "idempotent-replayed"} <= exposed


async def test_cors_preflight_allows_the_conditional_and_idempotency_headers(
    cors_client: httpx.AsyncClient,
) -> None:
    for method, headers in (
        ("PATCH", "authorization,content-type,if-match,idempotency-key"),
        ("GET", "authorization,if-none-match"),
        ("DELETE", "authorization,if-match"),
    ):
        response = await cors_client.options(
            "/tasks/0b7f4c53-1f43-4b4a-9d1e-6a0f3f0f4f0e",
            headers=_preflight(ALLOWED_ORIGIN, method, headers),
        )
        assert response.status_code == 200, (method, response.text)
        allowed = response.headers["access-control-allow-headers"].lower()
        for header in headers.split(","):
            assert header in allowed, (method, header)


async def test_no_cors_origins_means_no_cors_headers(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await client.get("/tasks", headers={**alice.headers, "Origin": ALLOWED_ORIGIN})
    assert "access-control-allow-origin" not in response.headers
    preflight = await client.options("/tasks", headers=_preflight(ALLOWED_ORIGIN))
    assert "access-control-allow-origin" not in preflight.headers


# --- body limit -----------------------------------------------------------------------------


async def test_a_chunked_body_over_the_limit_gets_413(
    settings_factory: Callable[..., Settings], alice: ApiUser
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"title": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    async with serving(settings_factory(max_body_bytes=1000)) as http:
        response = await http.post(
            "/tasks",
            content=chunks(),
            headers={**alice.headers, "Content-Type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert_problem(response, 413)
        assert "x-request-id" in response.headers


@pytest.mark.server
def test_a_real_chunked_request_over_the_limit_gets_413(
    database_url: str, tmp_path: Path, alice: ApiUser
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "MAX_BODY_BYTES": "1000",
        "LOG_FORMAT": "json",
    }

    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(50):
            yield b"x" * 100
        yield b'"}'

    with (
        running_server(
            tmp_path,
            clean_environment(**env),
            "--no-migrate",
            startup_timeout=SLOW_START_TIMEOUT,
        ) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        response = http.post(
            "/tasks",
            content=chunks(),
            headers={**alice.headers, "Content-Type": "application/json"},
        )
        small = http.post("/tasks", json={"title": "fits"}, headers=alice.headers)
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413)
    assert "x-request-id" in response.headers
    assert small.status_code == 201
