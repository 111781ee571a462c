"""Outside issuers through a live JWKS: algorithms, Better Auth, rotation, fetch limits, outages."""

from __future__ import annotations

import asyncio
import secrets
import string
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI

from tests.conftest import bearer, make_token, open_client
from tests.jwks_server import JWKS_PATH, IssuerKey, JwksServer
from todo_api.app import create_app
from todo_api.settings import Settings, SettingsError

ORIGIN = "https://app.example.com"
PROMPT_SECONDS = 5.0


class FakeClock:
    """The key source's clock, which moves only when a test advances it: no test waits for
    the key table to age or for the periodic refresh to come round. The JWKS server, the
    fetches and their timeouts stay real.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: dict[asyncio.Future[None], float] = {}

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        self._sleepers[wake] = self.now + seconds
        try:
            await wake
        finally:
            self._sleepers.pop(wake, None)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for wake, wake_at in list(self._sleepers.items()):
            if wake_at <= self.now:
                del self._sleepers[wake]
                wake.set_result(None)

    @property
    def sleeping(self) -> bool:
        return bool(self._sleepers)


async def eventually(condition: Callable[[], bool], failure: str) -> None:
    """Wait (in real time, with a deadline) for work on another task or thread to finish."""
    deadline = time.monotonic() + PROMPT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, failure
        await asyncio.sleep(0.005)


async def run_due_refreshes(clock: FakeClock, seconds: float) -> None:
    """Move the clock on, and return once the periodic refresh has done what fell due."""
    await eventually(lambda: clock.sleeping, "the periodic refresh is not waiting")
    clock.advance(seconds)
    # A refresh that fell due was woken and taken off the sleepers; it sleeps again when done.
    await eventually(lambda: clock.sleeping, "the periodic refresh did not finish")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> FastAPI:
    return create_app(settings, jwks_clock=clock)


@pytest.fixture
def jwks_settings(
    settings_factory: Callable[..., Settings], jwks_server: JwksServer
) -> Callable[..., Settings]:
    """Settings of a service that trusts the test JWKS, as docs/AUTH.md configures it."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "jwt_jwks_url": jwks_server.url,
            "jwt_issuer": ORIGIN,
            "jwt_audience": ORIGIN,
            "jwt_jwks_timeout_seconds": 1,
            **overrides,
        }
        return settings_factory(**values)

    return make


@pytest.fixture
def settings(jwks_settings: Callable[..., Settings]) -> Settings:
    return jwks_settings()


def issued(key: IssuerKey, **claims: Any) -> str:
    return key.sign({"iss": ORIGIN, "aud": ORIGIN, **claims})


async def me(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.get("/auth/me", headers=bearer(token))


@pytest.mark.parametrize("algorithm", ["EdDSA", "ES256", "RS256"])
async def test_tokens_of_each_algorithm_are_accepted(
    client: httpx.AsyncClient, jwks_server: JwksServer, algorithm: str
) -> None:
    key = IssuerKey.generate(algorithm)
    jwks_server.publish(key)
    token = issued(key, sub=f"{algorithm}-user")
    response = await me(client, token)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == f"{algorithm}-user"
    created = await client.post("/tasks", json={"title": "x"}, headers=bearer(token))
    assert created.status_code == 201


async def test_a_token_minted_like_better_auth_is_accepted(
    client: httpx.AsyncClient, jwks_server: JwksServer
) -> None:
    # Better Auth's JWT plugin: an Ed25519 key published at /api/auth/jwks as
    # {kty, crv, x, kid, alg}; tokens with header {alg, kid}, iss = aud = the app's origin,
    # sub = its own (non-UUID) user id, the user's fields as claims, and 15 minutes of life.
    key = IssuerKey.generate("EdDSA")
    public = key.public_jwk()
    jwks_server.keys = [{name: public[name] for name in ("kty", "crv", "x", "kid", "alg")}]
    assert jwks_server.url.endswith("/api/auth/jwks")
    user_id = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    now = datetime.now(UTC)
    payload = {
        "id": user_id,
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "emailVerified": True,
        "image": None,
        "createdAt": "2026-01-02T03:04:05.000Z",
        "updatedAt": "2026-01-02T03:04:05.000Z",
        "iat": int(now.timestamp()),
        "iss": ORIGIN,
        "aud": ORIGIN,
        "exp": int((now + timedelta(minutes=15)).timestamp()),
        "sub": user_id,
    }
    token = jwt.encode(
        payload, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, "typ": None}
    )
    assert jwt.get_unverified_header(token) == {"alg": "EdDSA", "kid": key.kid}

    response = await me(client, token)
    assert response.status_code == 200, response.text
    assert response.json() == {"id": user_id, "email": "ada@example.com"}
    created = await client.post("/tasks", json={"title": "from Better Auth"}, headers=bearer(token))
    assert created.status_code == 201
    listed = await client.get("/tasks", headers=bearer(token))
    assert [task["id"] for task in listed.json()["items"]] == [created.json()["id"]]


async def test_shared_secret_and_jwks_work_side_by_side(
    client: httpx.AsyncClient, jwks_server: JwksServer
) -> None:
    key = IssuerKey.generate("EdDSA")
    jwks_server.publish(key)
    assert (await me(client, issued(key))).status_code == 200
    hs256 = make_token("secret-user", iss=ORIGIN, aud=ORIGIN)
    assert (await me(client, hs256)).json()["id"] == "secret-user"


async def test_built_in_tokens_carry_the_configured_issuer_and_audience(
    client: httpx.AsyncClient,
) -> None:
    email = f"iss-{secrets.token_hex(6)}@example.com"
    body = {"email": email, "password": "correct horse battery"}
    assert (await client.post("/auth/register", json=body)).status_code == 201
    form = {"username": email, "password": "correct horse battery"}
    token = (await client.post("/auth/token", data=form)).json()["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == ORIGIN
    assert claims["aud"] == ORIGIN
    assert (await me(client, token)).json()["email"] == email


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/jwks", f"gopher://127.0.0.1{JWKS_PATH}"]
)
async def test_a_jwks_url_that_is_not_http_refuses_to_start(
    settings_factory: Callable[..., Settings], url: str
) -> None:
    app = create_app(settings_factory(jwt_jwks_url=url))
    with pytest.raises(SettingsError, match="JWT_JWKS_URL"):
        async with open_client(app):
            pass
