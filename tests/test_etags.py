"""Conditional requests: ETag on every single-task response, If-Match, If-None-Match."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser, TaskFactory, assert_problem

STRONG_ETAG = re.compile(r'^"[^"]*"$')

# Each write of a task, as a call that takes the task and extra headers.
Write = Callable[[httpx.AsyncClient, dict[str, Any], dict[str, str]], Awaitable[httpx.Response]]


def put(client: httpx.AsyncClient, task: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.put(f"/tasks/{task['id']}", json={"title": "replaced"}, headers=headers)


def patch(client: httpx.AsyncClient, task: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.patch(f"/tasks/{task['id']}", json={"priority": "high"}, headers=headers)


def toggle(client: httpx.AsyncClient, task: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.patch(f"/tasks/{task['id']}/toggle", headers=headers)


def delete(client: httpx.AsyncClient, task: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.delete(f"/tasks/{task['id']}", headers=headers)


WRITES = pytest.mark.parametrize("write", [put, patch, toggle, delete], ids=lambda w: w.__name__)


async def read(client: httpx.AsyncClient, user: ApiUser, task: dict[str, Any]) -> httpx.Response:
    return await client.get(f"/tasks/{task['id']}", headers=user.headers)


async def test_every_single_task_response_carries_its_etag(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    created = await client.post("/tasks", json={"title": "t"}, headers=alice.headers)
    task = created.json()
    responses = [
        created,
        await read(client, alice, task),
        await put(client, task, alice.headers),
        await patch(client, task, alice.headers),
        await toggle(client, task, alice.headers),
    ]
    for response in responses:
        assert response.status_code in (200, 201)
        assert STRONG_ETAG.match(response.headers["etag"])
        assert response.headers["etag"] == response.json()["etag"]


async def test_the_etag_changes_on_every_write_and_is_never_reused(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    other = await create_task(alice)
    seen = [task["etag"], other["etag"]]
    for _ in range(3):
        for write in (put, patch, toggle):
            response = await write(client, task, alice.headers)
            seen.append(response.headers["etag"])
    # Writing back an earlier state (toggle twice) still gives a new ETag.
    assert len(set(seen)) == len(seen)
    assert (await read(client, alice, task)).headers["etag"] == seen[-1]


async def test_a_read_leaves_the_etag_as_it_is(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    await client.get("/tasks", headers=alice.headers)
    assert (await read(client, alice, task)).headers["etag"] == task["etag"]


@WRITES
async def test_a_write_with_the_current_etag_succeeds(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, write: Write
) -> None:
    task = await create_task(alice)
    response = await write(client, task, {**alice.headers, "If-Match": task["etag"]})
    assert response.status_code in (200, 204), response.text
    if response.status_code == 200:
        assert response.headers["etag"] != task["etag"]


@WRITES
@pytest.mark.parametrize(
    "if_match",
    [
        "stale",
        "weak",
        '"999999999"',
        "not an etag",
        '"0", "999"',
        "",
        '"1"garbage',
        '"99999999999999999999999"',
    ],
)
async def test_a_write_whose_if_match_does_not_match_is_412_and_changes_nothing(
    client: httpx.AsyncClient,
    alice: ApiUser,
    create_task: TaskFactory,
    write: Write,
    if_match: str,
) -> None:
    task = await create_task(alice, tags=["x"])
    if if_match == "stale":
        await patch(client, task, alice.headers)
        if_match = task["etag"]
    current = (await read(client, alice, task)).json()
    if if_match == "weak":
        if_match = f"W/{current['etag']}"
    response = await write(client, task, {**alice.headers, "If-Match": if_match})
    assert_problem(response, 412)
    after = await read(client, alice, task)
    assert after.status_code == 200
    assert after.json() == current
    assert after.headers["etag"] == current["etag"]


@WRITES
@pytest.mark.parametrize("if_match", ["*", "current in a list", "current, spaced"])
async def test_if_match_star_or_a_list_naming_the_current_etag_succeeds(
    client: httpx.AsyncClient,
    alice: ApiUser,
    create_task: TaskFactory,
    write: Write,
    if_match: str,
) -> None:
    task = await create_task(alice)
    if if_match == "current in a list":
        if_match = f'"0", W/{task["etag"]}, {task["etag"]}, "123456789"'
    elif if_match == "current, spaced":
        if_match = f'  {task["etag"]} ,\t"1"  '
    response = await write(client, task, {**alice.headers, "If-Match": if_match})
    assert response.status_code in (200, 204), response.text


@WRITES
async def test_ownership_is_decided_before_the_precondition(
    client: httpx.AsyncClient,
    alice: ApiUser,
    bob: ApiUser,
    create_task: TaskFactory,
    write: Write,
) -> None:
    task = await create_task(alice)
    for if_match in ('"nope"', task["etag"], "*"):
        response = await write(client, task, {**bob.headers, "If-Match": if_match})
        assert_problem(response, 403)
        unknown = {**task, "id": str(uuid.uuid4())}
        response = await write(client, unknown, {**alice.headers, "If-Match": if_match})
        assert_problem(response, 404)
    assert (await read(client, alice, task)).json() == task


async def test_a_deleted_task_with_if_match_is_404(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    assert (await delete(client, task, alice.headers)).status_code == 204
    response = await patch(client, task, {**alice.headers, "If-Match": task["etag"]})
    assert_problem(response, 404)


@pytest.mark.parametrize("if_none_match", ["current", "*", "weak current", "list", "  current  "])
async def test_if_none_match_naming_the_current_etag_is_304_with_no_body(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, if_none_match: str
) -> None:
    task = await create_task(alice)
    etag = task["etag"]
    value = {
        "current": etag,
        "*": "*",
        "weak current": f"W/{etag}",
        "list": f'"0", {etag}',
        "  current  ": f"  {etag}  ",
    }[if_none_match]
    response = await client.get(
        f"/tasks/{task['id']}", headers={**alice.headers, "If-None-Match": value}
    )
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == etag
    assert "content-type" not in response.headers


@pytest.mark.parametrize("if_none_match", ["stale", '"0"', "garbage", ""])
async def test_if_none_match_not_naming_the_current_etag_gets_the_task(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, if_none_match: str
) -> None:
    task = await create_task(alice)
    if if_none_match == "stale":
        if_none_match = task["etag"]
        task = (await patch(client, task, alice.headers)).json()
    response = await client.get(
        f"/tasks/{task['id']}", headers={**alice.headers, "If-None-Match": if_none_match}
    )
    assert response.status_code == 200
    assert response.json() == task
    assert response.headers["etag"] == task["etag"]


async def test_if_none_match_does_not_reveal_another_users_task(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    response = await client.get(
        f"/tasks/{task['id']}", headers={**bob.headers, "If-None-Match": "*"}
    )
    assert_problem(response, 403)
    response = await client.get(
        f"/tasks/{uuid.uuid4()}", headers={**alice.headers, "If-None-Match": "*"}
    )
    assert_problem(response, 404)


async def test_of_ten_concurrent_patches_with_one_etag_exactly_one_wins(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    for _ in range(3):
        task = await create_task(alice)
        headers = {**alice.headers, "If-Match": task["etag"]}
        responses = await asyncio.gather(
            *(
                client.patch(f"/tasks/{task['id']}", json={"title": f"writer {n}"}, headers=headers)
                for n in range(10)
            )
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200] + [412] * 9, statuses
        winner = next(response for response in responses if response.status_code == 200)
        final = await read(client, alice, task)
        assert final.json() == winner.json()
        assert final.headers["etag"] == winner.headers["etag"]


async def test_of_concurrent_conditional_toggles_exactly_one_flips(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice)
    headers = {**alice.headers, "If-Match": task["etag"]}
    responses = await asyncio.gather(*(toggle(client, task, headers) for _ in range(10)))
    assert sorted(response.status_code for response in responses) == [200] + [412] * 9
    assert (await read(client, alice, task)).json()["completed"] is True


async def test_concurrent_unconditional_writes_all_get_distinct_etags(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    tasks = [await create_task(alice) for _ in range(3)]
    responses = await asyncio.gather(
        *(toggle(client, task, alice.headers) for task in tasks for _ in range(4))
    )
    assert {response.status_code for response in responses} == {200}
    etags = [response.headers["etag"] for response in responses]
    assert len(set(etags)) == len(etags)


async def test_concurrent_deletes_and_writes_of_one_task_never_deadlock(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    # Every write takes its owner's change counter before the task's row: a delete that took
    # them the other way round would deadlock against a concurrent PATCH.
    for _ in range(5):
        tasks = [await create_task(alice) for _ in range(3)]
        calls = []
        for task in tasks:
            calls += [
                patch(client, task, alice.headers),
                delete(client, task, alice.headers),
                toggle(client, task, alice.headers),
                put(client, task, alice.headers),
            ]
        responses = await asyncio.gather(*calls)
        assert {response.status_code for response in responses} <= {200, 204, 404}, [
            response.text for response in responses if response.status_code >= 500
        ]
        for task in tasks:
            assert (await read(client, alice, task)).status_code == 404
