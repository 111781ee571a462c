"""The `/lists` routes of API.md ("Version 3: task lists"), row by row, and the default list."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import ApiUser, TaskFactory, assert_problem
from tests.servers import serving
from todo_api.database import create_engine
from todo_api.lists.models import default_list_id
from todo_api.lists.models import task_lists_table as task_lists
from todo_api.settings import Settings

LIST_FIELDS = {"id", "name", "is_default", "created_at", "updated_at", "etag"}


class ListFactory:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(self, user: ApiUser, name: str | None = None) -> dict[str, Any]:
        body = {"name": name or f"list {uuid.uuid4().hex[:8]}"}
        response = await self.client.post("/lists", json=body, headers=user.headers)
        assert response.status_code == 201, response.text
        made: dict[str, Any] = response.json()
        return made


@pytest.fixture
def create_list(client: httpx.AsyncClient) -> ListFactory:
    return ListFactory(client)


async def lists_of(client: httpx.AsyncClient, user: ApiUser) -> list[dict[str, Any]]:
    response = await client.get("/lists", headers=user.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def default_list(client: httpx.AsyncClient, user: ApiUser) -> dict[str, Any]:
    first = (await lists_of(client, user))[0]
    assert first["is_default"] is True
    return first


@pytest.fixture
async def tables(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The test database itself, to count what is stored rather than what the API says."""
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


async def stored_lists(engine: AsyncEngine, subject: str) -> list[tuple[str, bool]]:
    statement = select(task_lists.c.name, task_lists.c.is_default).where(
        task_lists.c.user_id == subject
    )
    async with engine.connect() as connection:
        return [(row.name, row.is_default) for row in await connection.execute(statement)]


# The default list


async def test_a_new_user_has_exactly_one_default_list_named_tasks(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    items = await lists_of(client, alice)
    assert len(items) == 1
    (default,) = items
    assert set(default) == LIST_FIELDS
    assert (default["name"], default["is_default"]) == ("Tasks", True)
    uuid.UUID(default["id"])
    assert default["created_at"] == default["updated_at"]
    assert await lists_of(client, alice) == items


async def test_a_task_created_without_a_list_goes_to_the_default_list(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    assert task["list_id"] == (await default_list(client, alice))["id"]
    assert len(await lists_of(client, alice)) == 1


async def first_requests(
    instances: tuple[httpx.AsyncClient, httpx.AsyncClient], user: ApiUser
) -> list[httpx.Response]:
    """What a new user's devices might send at the same moment, each needing the default
    list, spread over two instances of the service."""
    one, other = instances
    requests = [
        one.get("/lists", headers=user.headers),
        other.post("/tasks", json={"title": "a"}, headers=user.headers),
        one.post("/tasks", json={"title": "b"}, headers=user.headers),
        other.post("/lists", json={"name": "Work"}, headers=user.headers),
        one.get("/tasks/changes", headers=user.headers),
        other.post("/tasks", json={"title": "c"}, headers={**user.headers, "Idempotency-Key": "k"}),
        one.get(f"/lists/{default_list_id(user.sub)}", headers=user.headers),
        other.get("/lists", headers=user.headers),
    ]
    return list(await asyncio.gather(*requests))


async def test_concurrent_first_requests_of_a_new_user_make_one_default_list(
    settings_factory: Callable[..., Settings],
    tables: AsyncEngine,
    new_user: Callable[[], ApiUser],
) -> None:
    # Two instances, each with several connections: the first requests race in the database.
    settings = settings_factory(db_pool_size=4)
    async with serving(settings) as one, serving(settings) as other:
        for _ in range(5):
            user = new_user()
            responses = await first_requests((one, other), user)
            assert all(response.is_success for response in responses), [
                response.text for response in responses if not response.is_success
            ]
            stored = await stored_lists(tables, user.sub)
            assert sorted(stored) == [("Tasks", True), ("Work", False)]
            default_id = (await default_list(one, user))["id"]
            tasks = (await one.get("/tasks", headers=user.headers)).json()["items"]
            assert len(tasks) == 3
            assert {task["list_id"] for task in tasks} == {default_id}


async def test_a_built_in_account_gets_its_default_list_too(client: httpx.AsyncClient) -> None:
    email = f"lists-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": "a long enough password"}
    assert (await client.post("/auth/register", json=body)).status_code == 201
    token = await client.post("/auth/token", data={"username": email, "password": body["password"]})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    made = await client.post("/tasks", json={"title": "first"}, headers=headers)
    lists = (await client.get("/lists", headers=headers)).json()["items"]
    assert [(item["name"], item["is_default"]) for item in lists] == [("Tasks", True)]
    assert made.json()["list_id"] == lists[0]["id"]


async def test_after_erasure_the_next_request_makes_a_new_default_list(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory, create_task: TaskFactory
) -> None:
    work = await create_list(alice, "Work")
    await create_task(alice, list_id=work["id"])
    old_default = await default_list(client, alice)
    await client.patch(f"/lists/{old_default['id']}", json={"name": "Inbox"}, headers=alice.headers)
    assert (await client.delete("/auth/me", headers=alice.headers)).status_code == 204
    items = await lists_of(client, alice)
    assert [(item["name"], item["is_default"]) for item in items] == [("Tasks", True)]
    assert (await client.get("/tasks", headers=alice.headers)).json()["total"] == 0
    # The old id of the default list names the new one; Work is gone.
    assert (await client.get(f"/lists/{items[0]['id']}", headers=alice.headers)).status_code == 200
    assert_problem(await client.get(f"/lists/{work['id']}", headers=alice.headers), 404)


async def test_after_erasure_a_request_naming_the_old_default_list_makes_it_again(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    old_default = await default_list(client, alice)
    assert (await client.delete("/auth/me", headers=alice.headers)).status_code == 204
    made = await client.post(
        "/tasks", json={"title": "x", "list_id": old_default["id"]}, headers=alice.headers
    )
    assert made.status_code == 201, made.text
    assert made.json()["list_id"] == (await default_list(client, alice))["id"]


# POST /lists


async def test_create_returns_201_location_etag_and_the_list(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    response = await client.post("/lists", json={"name": "  Groceries \t"}, headers=alice.headers)
    assert response.status_code == 201, response.text
    made = response.json()
    assert set(made) == LIST_FIELDS
    assert made["name"] == "Groceries"
    assert made["is_default"] is False
    assert response.headers["location"] == f"/lists/{made['id']}"
    assert response.headers["etag"] == made["etag"]
    assert made["created_at"] == made["updated_at"]
    assert made["created_at"].endswith("Z")
    fetched = await client.get(f"/lists/{made['id']}", headers=alice.headers)
    assert fetched.json() == made


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": " \t\n "},
        {"name": "x" * 101},
        {"name": "bell\x07"},
        {"name": "nul\x00"},
        {"name": "next\x85line"},
        {"name": 5},
        {"name": None},
        {"name": ["Work"]},
        {"name": "Work", "colour": "red"},
    ],
    ids=repr,
)
async def test_a_name_that_breaks_the_rules_is_422(
    client: httpx.AsyncClient, alice: ApiUser, body: dict[str, Any]
) -> None:
    response = await client.post("/lists", json=body, headers=alice.headers)
    assert_problem(response, 422)
    assert len(await lists_of(client, alice)) == 1


async def test_a_name_of_100_characters_and_any_script_is_accepted(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    assert (await create_list(alice, "x" * 100))["name"] == "x" * 100
    assert (await create_list(alice, " Été 🌞 "))["name"] == "Été 🌞"


@pytest.mark.parametrize("taken", ["work", "WORK", "  Work ", "wORk"])
async def test_names_are_unique_per_user_ignoring_case(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory, taken: str
) -> None:
    await create_list(alice, "Work")
    assert_problem(await client.post("/lists", json={"name": taken}, headers=alice.headers), 409)
    assert [item["name"] for item in await lists_of(client, alice)] == ["Tasks", "Work"]


async def test_case_folding_goes_beyond_ascii(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    await create_list(alice, "Été")
    assert_problem(await client.post("/lists", json={"name": "ÉTÉ"}, headers=alice.headers), 409)
    await create_list(alice, "Straße")
    assert_problem(
        await client.post("/lists", json={"name": "STRASSE"}, headers=alice.headers), 409
    )


async def test_the_default_lists_name_is_taken_too(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    # A new user: the default list is made before the name is compared.
    assert_problem(await client.post("/lists", json={"name": "tasks"}, headers=alice.headers), 409)


async def test_another_user_may_use_the_same_name(
    alice: ApiUser, bob: ApiUser, create_list: ListFactory
) -> None:
    await create_list(alice, "Work")
    await create_list(bob, "Work")


async def test_a_user_has_at_most_200_lists(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    for number in range(199):
        await create_list(alice, f"list {number:03}")
    body = assert_problem(
        await client.post("/lists", json={"name": "one too many"}, headers=alice.headers), 409
    )
    assert "200" in body["detail"]
    assert len(await lists_of(client, alice)) == 200
    last = (await lists_of(client, alice))[-1]
    assert (await client.delete(f"/lists/{last['id']}", headers=alice.headers)).status_code == 204
    await create_list(alice, "room again")


# GET /lists and GET /lists/{id}


async def test_lists_come_default_first_then_by_name_in_code_point_order(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    for name in ["beta", "Émile", "zeta", "Alpha", "ábc", "Zebra"]:
        await create_list(alice, name)
    default = await default_list(client, alice)
    await client.patch(f"/lists/{default['id']}", json={"name": "zzz"}, headers=alice.headers)
    names = [item["name"] for item in await lists_of(client, alice)]
    assert names == ["zzz", "Alpha", "Zebra", "beta", "zeta", "Émile", "ábc"]


async def test_a_user_only_sees_their_own_lists(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_list: ListFactory
) -> None:
    await create_list(alice, "Alice's")
    assert [item["name"] for item in await lists_of(client, bob)] == ["Tasks"]


async def test_get_one_list_has_its_etag(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    made = await create_list(alice)
    response = await client.get(f"/lists/{made['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.json() == made
    assert response.headers["etag"] == made["etag"]


async def test_if_none_match_with_the_current_etag_is_304(
    client: httpx.AsyncClient, alice: ApiUser, create_list: ListFactory
) -> None:
    made = await create_list(alice)
    for tags in (made["etag"], f'"x", W/{made["etag"]}', "*"):
        response = await client.get(
            f"/lists/{made['id']}", headers={**alice.headers, "If-None-Match": tags}
        )
        assert response.status_code == 304
        assert response.content == b""
        assert response.headers["etag"] == made["etag"]
    stale = await client.get(
        f"/lists/{made['id']}", headers={**alice.headers, "If-None-Match": '"0"'}
    )
    assert stale.status_code == 200


async def every_route_on(
    client: httpx.AsyncClient, user: ApiUser, list_id: str
) -> list[httpx.Response]:
    return [
        await client.get(f"/lists/{list_id}", headers=user.headers),
        await client.patch(f"/lists/{list_id}", json={"name": "mine now"}, headers=user.headers),
        await client.delete(f"/lists/{list_id}", headers=user.headers),
    ]


async def test_another_users_list_is_403_and_stays_as_it_was(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_list: ListFactory
) -> None:
    made = await create_list(alice)
    for response in await every_route_on(client, bob, made["id"]):
        body = assert_problem(response, 403)
        assert made["name"] not in body["detail"]
    bobs_default = await default_list(client, bob)
    for response in await every_route_on(client, alice, bobs_default["id"]):
        assert_problem(response, 403)
    assert (await client.get(f"/lists/{made['id']}", headers=alice.headers)).json() == made


async def test_an_unknown_list_is_404(client: httpx.AsyncClient, alice: ApiUser) -> None:
    for response in await every_route_on(client, alice, str(uuid.uuid4())):
        assert_problem(response, 404)


async def test_a_list_id_that_is_not_a_uuid_is_422(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    for response in await every_route_on(client, alice, "not-a-uuid"):
        body = assert_problem(response, 422)
        assert ["path", "list_id"] in [error["loc"] for error in body["errors"]]
