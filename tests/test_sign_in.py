"""Built-in accounts of API.md: sign in with the password grant, and /auth/me."""

from __future__ import annotations

import statistics
import time
import uuid

import httpx
import jwt
import pytest
from pwdlib.hashers.argon2 import Argon2Hasher

from tests.conftest import TEST_SECRET, assert_problem, bearer
from tests.test_accounts import PASSWORD, new_email, register, sign_in, stored_hash
from todo_api.auth.models import users_table
from todo_api.database import create_engine, utc_now
from todo_api.settings import Settings


class TestSignIn:
    async def test_returns_a_bearer_token_that_is_not_cached(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        email = new_email()
        account = await register(client, email)
        response = await sign_in(client, email)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == settings.access_token_expire_minutes * 60
        assert response.headers["cache-control"] == "no-store"
        claims = jwt.decode(body["access_token"], TEST_SECRET, algorithms=["HS256"])
        assert claims["sub"] == account["id"]
        assert claims["exp"] - claims["iat"] == body["expires_in"]
        assert {"jti", "iat", "exp"} <= claims.keys()

    async def test_the_email_matches_in_any_case(self, client: httpx.AsyncClient) -> None:
        email = new_email()
        await register(client, email)
        assert (await sign_in(client, email.upper())).status_code == 200

    async def test_unknown_email_and_wrong_password_get_the_same_401(
        self, client: httpx.AsyncClient
    ) -> None:
        email = new_email()
        await register(client, email)
        wrong_password = await sign_in(client, email, "wrong password")
        unknown_email = await sign_in(client, new_email())
        not_an_email = await sign_in(client, "not an email")
        too_long = await sign_in(client, email, "x" * 10_000)
        for response in (wrong_password, unknown_email, not_an_email, too_long):
            assert_problem(response, 401)
            assert response.json() == wrong_password.json()
            assert response.headers["www-authenticate"] == "Bearer"

    async def test_an_unknown_email_takes_as_long_as_a_wrong_password(
        self, client: httpx.AsyncClient
    ) -> None:
        # Without the dummy hash check an unknown email would answer in a fraction of the time.
        email = new_email()
        await register(client, email)

        async def duration(username: str) -> float:
            started = time.perf_counter()
            assert (await sign_in(client, username, "wrong password")).status_code == 401
            return time.perf_counter() - started

        known = statistics.median([await duration(email) for _ in range(3)])
        unknown = statistics.median([await duration(new_email()) for _ in range(3)])
        assert unknown > known * 0.5

    @pytest.mark.parametrize(
        "form",
        [
            {"username": "x@example.com"},
            {"password": PASSWORD},
            {"username": "x@example.com", "password": PASSWORD, "grant_type": "client_creds"},
        ],
    )
    async def test_missing_fields_or_another_grant_are_422(
        self, client: httpx.AsyncClient, form: dict[str, str]
    ) -> None:
        assert_problem(await client.post("/auth/token", data=form), 422)

    async def test_a_json_body_instead_of_a_form_is_refused_not_500(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/auth/token", json={"username": "x@example.com", "password": PASSWORD}
        )
        assert response.status_code in (400, 415, 422)
        assert response.headers["content-type"].startswith("application/problem+json")

    async def test_undecodable_form_bytes_are_not_a_500(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            "/auth/token",
            content=b"username=%FF%FE%00&password=%ED%A0%80abcdefgh",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code in (400, 401, 422)

    async def test_an_outdated_hash_is_upgraded_on_sign_in(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        email = new_email()
        weak_hash = Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
        engine = create_engine(settings)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    users_table.insert().values(
                        id=uuid.uuid4(), email=email, password_hash=weak_hash, created_at=utc_now()
                    )
                )
        finally:
            await engine.dispose()

        assert (await sign_in(client, email)).status_code == 200
        upgraded = await stored_hash(settings, email)
        assert upgraded != weak_hash
        assert upgraded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
        assert (await sign_in(client, email)).status_code == 200
        assert await stored_hash(settings, email) == upgraded

    async def test_passwords_are_stored_only_as_argon2id_hashes(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        email = new_email()
        await register(client, email)
        stored = await stored_hash(settings, email)
        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored


class TestMe:
    async def test_a_built_in_token_speaks_for_its_account(self, client: httpx.AsyncClient) -> None:
        email = new_email()
        account = await register(client, email)
        token = (await sign_in(client, email)).json()["access_token"]
        response = await client.get("/auth/me", headers=bearer(token))
        assert response.status_code == 200
        assert response.json() == {"id": account["id"], "email": email}

    async def test_an_outside_token_gives_its_sub_and_email_claim(
        self, client: httpx.AsyncClient
    ) -> None:
        from tests.conftest import make_token

        with_email = make_token("outside-user-1", email="someone@example.org")
        without_email = make_token("outside-user-2")
        response = await client.get("/auth/me", headers=bearer(with_email))
        assert response.json() == {"id": "outside-user-1", "email": "someone@example.org"}
        response = await client.get("/auth/me", headers=bearer(without_email))
        assert response.json() == {"id": "outside-user-2", "email": None}

    async def test_no_token_is_401_with_a_bearer_challenge(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/auth/me")
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
