"""The `/auth/app-passwords` routes of API.md ("Version 3: app passwords"), rule by rule.

Signing in with them (`authenticate`, HTTP Basic) is tested in test_app_password_sign_in.py.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.app_password_support import (
    create_password,
    new_email,
    passwords_of,
    register_and_sign_in,
)
from tests.conftest import ApiUser, assert_problem, bearer, make_token
from tests.servers import open_client, serving
from tests.test_round_trips import DriverTrace
from todo_api.app import create_app
from todo_api.app_passwords.models import app_passwords_table as app_passwords
from todo_api.app_passwords.service import MAX_APP_PASSWORDS
from todo_api.database import create_engine
from todo_api.idempotency.models import idempotency_keys_table as idempotency_keys
from todo_api.settings import Settings

CREATED_FIELDS = {"id", "name", "username", "password", "created_at"}
LISTED_FIELDS = {"id", "name", "created_at", "last_used_at"}
PASSWORD_FORMAT = re.compile(r"^[a-z2-7]{4}(-[a-z2-7]{4}){6}$")


@pytest.fixture
async def tables(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The test database itself, to check what is stored rather than what the API says."""
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


async def stored_count(engine: AsyncEngine, subject: str) -> int:
    statement = select(func.count()).where(app_passwords.c.user_id == subject)
    async with engine.connect() as connection:
        count: int = (await connection.execute(statement)).scalar_one()
        return count


# POST /auth/app-passwords


async def test_a_new_password_is_shown_once_with_the_user_name(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await client.post(
        "/auth/app-passwords", json={"name": "  iPhone  "}, headers=alice.headers
    )
    assert response.status_code == 201, response.text
    made = response.json()
    assert set(made) == CREATED_FIELDS
    uuid.UUID(made["id"])
    assert made["name"] == "iPhone"
    assert made["username"] == alice.sub
    # 28 characters of a 32-letter alphabet: 140 random bits.
    assert PASSWORD_FORMAT.match(made["password"])
    assert response.headers["cache-control"] == "no-store"
    (listed,) = await passwords_of(client, alice)
    assert set(listed) == LISTED_FIELDS
    assert listed == {
        "id": made["id"],
        "name": "iPhone",
        "created_at": made["created_at"],
        "last_used_at": None,
    }
    assert (
        made["password"]
        not in (await client.get("/auth/app-passwords", headers=alice.headers)).text
    )


async def test_every_password_is_new(client: httpx.AsyncClient, alice: ApiUser) -> None:
    made = [await create_password(client, alice, "Same name") for _ in range(5)]
    assert len({item["password"] for item in made}) == 5
    assert len({item["id"] for item in made}) == 5
    assert [item["name"] for item in await passwords_of(client, alice)] == ["Same name"] * 5


async def test_only_a_hash_of_the_password_is_stored(
    client: httpx.AsyncClient, alice: ApiUser, tables: AsyncEngine
) -> None:
    made = await create_password(client, alice)
    compact = made["password"].replace("-", "")
    async with tables.connect() as connection:
        row = (
            await connection.execute(
                select(app_passwords).where(app_passwords.c.user_id == alice.sub)
            )
        ).one()
    for value in row:
        assert made["password"] not in str(value)
        assert compact not in str(value)


async def test_a_built_in_account_signs_in_with_its_email(client: httpx.AsyncClient) -> None:
    email = new_email()
    account = await register_and_sign_in(client, email)
    made = await create_password(client, account)
    # As the account stores it: the domain lower-cased, the local part as typed.
    local, domain = email.split("@")
    assert made["username"] == f"{local}@{domain.lower()}"


async def test_an_outside_user_signs_in_with_the_sub_even_when_the_token_has_an_email(
    client: httpx.AsyncClient,
) -> None:
    sub = f"better-auth-{uuid.uuid4().hex}"
    user = ApiUser(sub, bearer(make_token(sub, email="ada@example.com")))
    assert (await create_password(client, user))["username"] == sub


async def test_an_outside_user_whose_sub_is_a_uuid_is_no_built_in_account(
    client: httpx.AsyncClient,
) -> None:
    sub = str(uuid.uuid4())
    user = ApiUser(sub, bearer(make_token(sub, email="ada@example.com")))
    assert (await create_password(client, user))["username"] == sub


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "tab\tinside"},
        {"name": "nul\x00"},
        {"name": 5},
        {"name": None},
        {"name": "ok", "password": "mine"},
        {"name": "ok", "username": "someone-else"},
    ],
)
async def test_a_name_that_breaks_the_list_name_rules_is_422_and_nothing_is_made(
    client: httpx.AsyncClient, alice: ApiUser, body: dict[str, object]
) -> None:
    response = await client.post("/auth/app-passwords", json=body, headers=alice.headers)
    assert_problem(response, 422)
    assert await passwords_of(client, alice) == []


async def test_a_hundred_characters_is_a_name(client: httpx.AsyncClient, alice: ApiUser) -> None:
    assert (await create_password(client, alice, "é" * 100))["name"] == "é" * 100


async def test_bodies_that_are_not_json_objects_are_refused(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    headers = {**alice.headers, "Content-Type": "application/json"}
    response = await client.post("/auth/app-passwords", content=b"{", headers=headers)
    assert_problem(response, 400)
    response = await client.post("/auth/app-passwords", json=["Phone"], headers=alice.headers)
    assert_problem(response, 422)
    assert await passwords_of(client, alice) == []


async def test_fifty_per_user_then_409_until_one_is_revoked(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    made = [await create_password(client, alice, f"app {n}") for n in range(MAX_APP_PASSWORDS)]
    refused = await client.post(
        "/auth/app-passwords", json={"name": "one more"}, headers=alice.headers
    )
    assert_problem(refused, 409)
    assert len(await passwords_of(client, alice)) == MAX_APP_PASSWORDS
    # Another user's count is their own.
    await create_password(client, bob)
    revoked = await client.delete(f"/auth/app-passwords/{made[0]['id']}", headers=alice.headers)
    assert revoked.status_code == 204
    await create_password(client, alice, "one more")
    assert len(await passwords_of(client, alice)) == MAX_APP_PASSWORDS


async def test_concurrent_creations_never_pass_fifty(
    settings_factory: Callable[..., Settings], alice: ApiUser, tables: AsyncEngine
) -> None:
    async with serving(settings_factory(db_pool_size=6)) as client:
        for n in range(MAX_APP_PASSWORDS - 2):
            await create_password(client, alice, f"app {n}")
        attempts = [
            client.post("/auth/app-passwords", json={"name": "race"}, headers=alice.headers)
            for _ in range(6)
        ]
        statuses = sorted(response.status_code for response in await asyncio.gather(*attempts))
    assert statuses == [201, 201, 409, 409, 409, 409]
    assert await stored_count(tables, alice.sub) == MAX_APP_PASSWORDS


async def test_an_idempotency_key_is_ignored_so_no_password_is_ever_stored(
    client: httpx.AsyncClient, alice: ApiUser, tables: AsyncEngine
) -> None:
    headers = {**alice.headers, "Idempotency-Key": "same-key"}
    answers = [
        await client.post("/auth/app-passwords", json={"name": "Phone"}, headers=headers)
        for _ in range(2)
    ]
    assert [answer.status_code for answer in answers] == [201, 201]
    assert answers[0].json()["password"] != answers[1].json()["password"]
    statement = select(func.count()).where(idempotency_keys.c.user_id == alice.sub)
    async with tables.connect() as connection:
        assert (await connection.execute(statement)).scalar_one() == 0


# GET /auth/app-passwords


async def test_the_list_is_the_callers_own_oldest_first(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    first = await create_password(client, alice, "Laptop")
    second = await create_password(client, alice, "Phone")
    await create_password(client, bob, "Bob's phone")
    assert [item["id"] for item in await passwords_of(client, alice)] == [first["id"], second["id"]]
    assert [item["name"] for item in await passwords_of(client, bob)] == ["Bob's phone"]


# DELETE /auth/app-passwords/{id}


async def test_revoking_removes_it_and_a_second_revocation_is_404(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    kept = await create_password(client, alice, "Kept")
    gone = await create_password(client, alice, "Gone")
    response = await client.delete(f"/auth/app-passwords/{gone['id']}", headers=alice.headers)
    assert response.status_code == 204
    assert response.content == b""
    assert [item["id"] for item in await passwords_of(client, alice)] == [kept["id"]]
    again = await client.delete(f"/auth/app-passwords/{gone['id']}", headers=alice.headers)
    assert_problem(again, 404)


async def test_another_users_password_is_404_and_stays(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    bobs = await create_password(client, bob)
    unknown = await client.delete(f"/auth/app-passwords/{uuid.uuid4()}", headers=alice.headers)
    others = await client.delete(f"/auth/app-passwords/{bobs['id']}", headers=alice.headers)
    # The same answer for someone else's id as for one nobody has: nothing is revealed.
    assert assert_problem(others, 404)["detail"] == assert_problem(unknown, 404)["detail"]
    assert [item["id"] for item in await passwords_of(client, bob)] == [bobs["id"]]


@pytest.mark.parametrize("password_id", ["not-a-uuid", "1", "%00"])
async def test_an_id_that_is_no_uuid_is_422(
    client: httpx.AsyncClient, alice: ApiUser, password_id: str
) -> None:
    response = await client.delete(f"/auth/app-passwords/{password_id}", headers=alice.headers)
    assert_problem(response, 422)


# Authentication


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/auth/app-passwords"),
        ("GET", "/auth/app-passwords"),
        ("DELETE", "/auth/app-passwords/5f0c2a3e-8d1b-4c6f-9a27-3b4e5d6f7a81"),
    ],
)
async def test_every_route_needs_a_bearer_token(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, json={"name": "x"})
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_app_password_is_no_bearer_token(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    made = await create_password(client, alice)
    for path in ("/tasks", "/lists", "/auth/me", "/auth/app-passwords"):
        response = await client.get(path, headers=bearer(made["password"]))
        assert_problem(response, 401)


async def test_erasure_removes_the_callers_passwords_and_nobody_elses(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, tables: AsyncEngine
) -> None:
    await create_password(client, alice)
    await create_password(client, bob)
    assert (await client.delete("/auth/me", headers=alice.headers)).status_code == 204
    assert await stored_count(tables, alice.sub) == 0
    assert await passwords_of(client, alice) == []
    assert await stored_count(tables, bob.sub) == 1


async def test_listing_and_revoking_are_one_statement_and_creating_one_transaction(
    settings_factory: Callable[..., Settings], database_backend: str, alice: ApiUser
) -> None:
    if database_backend != "postgresql":
        pytest.skip("round trips are counted on PostgreSQL, as in test_round_trips.py")
    settings = settings_factory(db_pool_size=1, db_ping_after_idle_seconds=3600)
    app = create_app(settings)
    async with open_client(app) as http:
        trace = await DriverTrace.of(app.state.resources.database.engine)
        async with trace.observe() as creating:
            made = await create_password(http, alice)
        async with trace.observe() as listing:
            await passwords_of(http, alice)
        async with trace.observe() as revoking:
            response = await http.delete(f"/auth/app-passwords/{made['id']}", headers=alice.headers)
            assert response.status_code == 204
    for observed in (listing, revoking):
        assert observed.transaction_control == []
        assert observed.round_trips == 1, observed.statements
    # BEGIN, the owner's advisory lock, the insert, COMMIT: what keeps 50 the most.
    assert creating.round_trips == 4, creating.statements
