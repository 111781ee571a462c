"""`DELETE /auth/me`: the caller's tasks, lists and built-in account are gone, nobody else's
data."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ApiUser, TaskFactory, assert_problem, bearer, make_token
from tests.jwks_server import IssuerKey, JwksServer
from tests.servers import serving
from tests.test_rate_limits import assert_rate_limited
from todo_api.auth.models import users_table as users
from todo_api.database import create_engine
from todo_api.idempotency.models import idempotency_keys_table as idempotency_keys
from todo_api.lists.models import list_tombstones_table as list_tombstones
from todo_api.lists.models import task_lists_table as task_lists
from todo_api.settings import Settings
from todo_api.tasks.models import change_counters_table as change_counters
from todo_api.tasks.models import task_tombstones_table as task_tombstones
from todo_api.tasks.models import tasks_table as tasks

PASSWORD = "correct horse battery"


@pytest.fixture
async def tables(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The test database itself, to check what is stored rather than what the API says."""
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


async def stored_task_ids(engine: AsyncEngine, subject: str) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(tasks.c.id).where(tasks.c.user_id == subject))
        return {str(task_id) for task_id in rows.scalars()}


async def stored_rows_per_table(engine: AsyncEngine, subject: str) -> dict[str, int]:
    counts = {}
    async with engine.connect() as connection:
        for table in (
            tasks,
            task_tombstones,
            task_lists,
            list_tombstones,
            idempotency_keys,
            change_counters,
        ):
            statement = select(func.count()).where(table.c.user_id == subject)
            counts[table.name] = (await connection.execute(statement)).scalar_one()
    return counts


async def stored_accounts(engine: AsyncEngine, email: str) -> int:
    statement = select(func.count()).where(func.lower(users.c.email) == email.lower())
    async with engine.connect() as connection:
        count: int = (await connection.execute(statement)).scalar_one()
        return count


async def register_and_sign_in(client: httpx.AsyncClient, email: str) -> ApiUser:
    body = {"email": email, "password": PASSWORD}
    registered = await client.post("/auth/register", json=body)
    assert registered.status_code == 201, registered.text
    token = await client.post("/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return ApiUser(registered.json()["id"], bearer(token.json()["access_token"]))


def new_email() -> str:
    return f"leaver-{uuid.uuid4().hex[:12]}@example.com"


async def erase(client: httpx.AsyncClient, user: ApiUser) -> None:
    response = await client.delete("/auth/me", headers=user.headers)
    assert response.status_code == 204, response.text
    assert response.content == b""


async def test_a_built_in_account_is_erased_with_its_tasks_and_its_email_freed(
    client: httpx.AsyncClient, create_task: TaskFactory, tables: AsyncEngine
) -> None:
    leaving_email, staying_email = new_email(), new_email()
    leaving = await register_and_sign_in(client, leaving_email)
    staying = await register_and_sign_in(client, staying_email)
    for _ in range(3):
        await create_task(leaving)
    kept = {(await create_task(staying))["id"] for _ in range(2)}
    assert len(await stored_task_ids(tables, leaving.sub)) == 3

    await erase(client, leaving)

    assert await stored_task_ids(tables, leaving.sub) == set()
    assert await stored_accounts(tables, leaving_email) == 0
    assert await stored_task_ids(tables, staying.sub) == kept
    assert await stored_accounts(tables, staying_email) == 1
    # The token still verifies until it expires, but finds nothing.
    listed = await client.get("/tasks", headers=leaving.headers)
    assert listed.json()["items"] == []
    assert listed.json()["total"] == 0
    signed_in = await client.post(
        "/auth/token", data={"username": leaving_email, "password": PASSWORD}
    )
    assert_problem(signed_in, 401)
    # The address is free again, in any case, for a new account with a new id.
    again = await register_and_sign_in(client, leaving_email.capitalize())
    assert again.sub != leaving.sub
    assert (await client.get("/tasks", headers=again.headers)).json()["total"] == 0
    # The other user noticed nothing.
    assert (await client.get("/tasks", headers=staying.headers)).json()["total"] == 2


async def test_sync_history_and_stored_retries_are_erased_too(
    client: httpx.AsyncClient, create_task: TaskFactory, tables: AsyncEngine
) -> None:
    leaving = await register_and_sign_in(client, new_email())
    staying = await register_and_sign_in(client, new_email())
    for user in (leaving, staying):
        kept = await client.post(
            "/tasks",
            json={"title": "Kept answer"},
            headers={**user.headers, "Idempotency-Key": "k1"},
        )
        assert kept.status_code == 201, kept.text
        deleted = await create_task(user)
        assert (
            await client.delete(f"/tasks/{deleted['id']}", headers=user.headers)
        ).status_code == 204
        for name in ("Kept list", "Deleted list"):
            made = await client.post("/lists", json={"name": name}, headers=user.headers)
            assert made.status_code == 201, made.text
        assert (
            await client.delete(f"/lists/{made.json()['id']}", headers=user.headers)
        ).status_code == 204
    synced = await client.get("/tasks/changes", headers=leaving.headers)
    since = synced.json()["next_since"]
    before = await stored_rows_per_table(tables, staying.sub)
    assert all(count > 0 for count in (await stored_rows_per_table(tables, leaving.sub)).values())

    await erase(client, leaving)

    assert set((await stored_rows_per_table(tables, leaving.sub)).values()) == {0}
    assert await stored_rows_per_table(tables, staying.sub) == before
    changes = await client.get("/tasks/changes", headers=leaving.headers)
    assert changes.json()["tasks"] == []
    assert changes.json()["deleted"] == []
    # A token from before the erasure cannot silently skip what comes after it.
    stale = await client.get("/tasks/changes", params={"since": since}, headers=leaving.headers)
    assert_problem(stale, 410)


async def test_an_outside_subject_has_its_tasks_erased(
    client: httpx.AsyncClient,
    create_task: TaskFactory,
    tables: AsyncEngine,
    alice: ApiUser,
    bob: ApiUser,
) -> None:
    for _ in range(2):
        await create_task(alice)
    kept = {(await create_task(bob))["id"]}
    await erase(client, alice)
    assert await stored_task_ids(tables, alice.sub) == set()
    assert await stored_task_ids(tables, bob.sub) == kept


async def test_subtasks_and_moved_tasks_are_erased_too(
    client: httpx.AsyncClient,
    create_task: TaskFactory,
    tables: AsyncEngine,
    alice: ApiUser,
    bob: ApiUser,
) -> None:
    parent = await create_task(alice)
    child = await create_task(alice, parent_id=parent["id"])
    await create_task(alice, parent_id=child["id"])
    moved = await client.post(
        f"/tasks/{parent['id']}/move", json={"after": None}, headers=alice.headers
    )
    assert moved.status_code == 200, moved.text
    bobs_parent = await create_task(bob)
    kept = {bobs_parent["id"], (await create_task(bob, parent_id=bobs_parent["id"]))["id"]}
    await erase(client, alice)
    assert await stored_task_ids(tables, alice.sub) == set()
    assert (await client.get("/tasks", headers=alice.headers)).json()["items"] == []
    assert await stored_task_ids(tables, bob.sub) == kept


async def test_a_jwks_issuers_user_has_its_tasks_erased(
    settings_factory: Callable[..., Settings],
    jwks_server: JwksServer,
    tables: AsyncEngine,
    bob: ApiUser,
) -> None:
    key = IssuerKey.generate("EdDSA")
    jwks_server.publish(key)
    async with serving(settings_factory(jwt_jwks_url=jwks_server.url)) as client:
        subject = f"better-auth-{uuid.uuid4().hex}"
        outsider = ApiUser(subject, bearer(key.sign({"sub": subject})))
        factory = TaskFactory(client)
        await factory(outsider)
        kept = {(await factory(bob))["id"]}
        await erase(client, outsider)
    assert await stored_task_ids(tables, outsider.sub) == set()
    assert await stored_task_ids(tables, bob.sub) == kept


async def test_an_outside_subject_spelling_an_account_id_differently_keeps_that_account(
    client: httpx.AsyncClient, tables: AsyncEngine
) -> None:
    email = new_email()
    account = await register_and_sign_in(client, email)
    for lookalike in (account.sub.upper(), account.sub.replace("-", "")):
        await erase(client, ApiUser(lookalike, bearer(make_token(lookalike))))
    assert await stored_accounts(tables, email) == 1
    form = {"username": email, "password": PASSWORD}
    assert (await client.post("/auth/token", data=form)).status_code == 200


async def test_erasing_twice_or_with_nothing_stored_is_204(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    await erase(client, alice)
    await erase(client, alice)


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("not-a-jwt"), bearer(make_token(secret="another-secret-that-is-long-enough"))],
    ids=["no-token", "garbage", "forged"],
)
async def test_without_a_valid_token_it_is_401_and_nothing_is_erased(
    client: httpx.AsyncClient,
    create_task: TaskFactory,
    tables: AsyncEngine,
    alice: ApiUser,
    headers: dict[str, str],
) -> None:
    task = await create_task(alice)
    assert_problem(await client.delete("/auth/me", headers=headers), 401)
    assert await stored_task_ids(tables, alice.sub) == {task["id"]}


async def test_it_is_rate_limited_per_subject(
    settings_factory: Callable[..., Settings], alice: ApiUser, bob: ApiUser
) -> None:
    async with serving(settings_factory(rate_limit_tasks="2/day")) as client:
        for _ in range(2):
            assert (await client.delete("/auth/me", headers=alice.headers)).status_code == 204
        assert_rate_limited(await client.delete("/auth/me", headers=alice.headers), 2)
        assert_rate_limited(await client.get("/auth/me", headers=alice.headers), 2)
        assert (await client.delete("/auth/me", headers=bob.headers)).status_code == 204


async def test_openapi_documents_the_route_and_its_statuses(client: httpx.AsyncClient) -> None:
    operation: dict[str, Any] = (await client.get("/openapi.json")).json()["paths"]["/auth/me"][
        "delete"
    ]
    assert {"204", "401", "429", "503"} <= operation["responses"].keys()
    for status in ("401", "429", "503"):
        assert "application/problem+json" in operation["responses"][status]["content"]
    assert operation["security"]
