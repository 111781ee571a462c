"""Subtasks (API.md, "Version 3: subtasks and manual order"): `parent_id` on create and
PATCH with its rules, each broken rule a 422 naming the field that changes nothing; the
subtree deleted with its task (a tombstone each) and moved with it across lists; the
`parent_id` and `top_level` filters."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser, TaskFactory, assert_problem
from tests.test_lists import ListFactory


@pytest.fixture
def create_list(client: httpx.AsyncClient) -> ListFactory:
    return ListFactory(client)


async def _chain(create_task: TaskFactory, user: ApiUser, levels: int) -> list[dict[str, Any]]:
    """`levels` tasks, each the child of the one before."""
    chain = [await create_task(user, title="level 1")]
    for level in range(2, levels + 1):
        chain.append(await create_task(user, title=f"level {level}", parent_id=chain[-1]["id"]))
    return chain


async def _all(client: httpx.AsyncClient, user: ApiUser, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/tasks", params={"limit": 200, **params}, headers=user.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _field_of(problem: dict[str, Any]) -> list[Any]:
    return [error["loc"] for error in problem["errors"]]


async def test_a_subtask_goes_into_its_parents_list(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, create_list: ListFactory
) -> None:
    work = await create_list(alice, "Work")
    parent = await create_task(alice, list_id=work["id"])
    child = await create_task(alice, parent_id=parent["id"])
    assert child["parent_id"] == parent["id"]
    assert child["list_id"] == work["id"]
    assert parent["parent_id"] is None
    fetched = await client.get(f"/tasks/{child['id']}", headers=alice.headers)
    assert fetched.json() == child


async def test_a_subtask_may_name_its_parents_list(
    alice: ApiUser, create_task: TaskFactory, create_list: ListFactory
) -> None:
    work = await create_list(alice, "Work")
    parent = await create_task(alice, list_id=work["id"])
    child = await create_task(alice, parent_id=parent["id"], list_id=work["id"])
    assert child["list_id"] == work["id"]


async def test_a_list_other_than_the_parents_is_422_naming_parent_id(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, create_list: ListFactory
) -> None:
    work = await create_list(alice, "Work")
    parent = await create_task(alice)
    response = await client.post(
        "/tasks",
        json={"title": "x", "parent_id": parent["id"], "list_id": work["id"]},
        headers=alice.headers,
    )
    assert _field_of(assert_problem(response, 422)) == [["body", "parent_id"]]
    assert len(await _all(client, alice)) == 1


@pytest.mark.parametrize("whose", ["another user's", "nobody's"])
async def test_a_parent_that_is_not_yours_is_422_and_reveals_nothing(
    client: httpx.AsyncClient,
    alice: ApiUser,
    bob: ApiUser,
    create_task: TaskFactory,
    whose: str,
) -> None:
    parent_id = (await create_task(bob))["id"] if whose == "another user's" else str(uuid.uuid4())
    response = await client.post(
        "/tasks", json={"title": "x", "parent_id": parent_id}, headers=alice.headers
    )
    problem = assert_problem(response, 422)
    assert _field_of(problem) == [["body", "parent_id"]]
    assert problem["errors"][0]["msg"] == "is not one of your tasks"
    assert await _all(client, alice) == []


async def test_four_levels_at_most(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    chain = await _chain(create_task, alice, 4)
    response = await client.post(
        "/tasks", json={"title": "fifth", "parent_id": chain[-1]["id"]}, headers=alice.headers
    )
    assert _field_of(assert_problem(response, 422)) == [["body", "parent_id"]]
    assert len(await _all(client, alice)) == 4


@pytest.mark.parametrize("which", ["itself", "its child", "its grandchild"])
async def test_a_task_cannot_become_its_own_descendant(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, which: str
) -> None:
    chain = await _chain(create_task, alice, 3)
    target = {"itself": chain[0], "its child": chain[1], "its grandchild": chain[2]}[which]
    before = await _all(client, alice, sort="created_at")
    response = await client.patch(
        f"/tasks/{chain[0]['id']}", json={"parent_id": target["id"]}, headers=alice.headers
    )
    assert _field_of(assert_problem(response, 422)) == [["body", "parent_id"]]
    assert await _all(client, alice, sort="created_at") == before


async def test_the_level_limit_counts_the_moved_tasks_subtasks(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    pair = await _chain(create_task, alice, 2)
    deep = await _chain(create_task, alice, 3)
    # pair (2 levels) under deep's second level would make 4 levels: allowed.
    moved = await client.patch(
        f"/tasks/{pair[0]['id']}", json={"parent_id": deep[1]["id"]}, headers=alice.headers
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["parent_id"] == deep[1]["id"]
    # Under the third level it would make 5.
    again = await client.patch(
        f"/tasks/{pair[0]['id']}", json={"parent_id": deep[2]["id"]}, headers=alice.headers
    )
    assert _field_of(assert_problem(again, 422)) == [["body", "parent_id"]]
    current = await client.get(f"/tasks/{pair[0]['id']}", headers=alice.headers)
    assert current.json() == moved.json()


async def test_patch_parent_id_null_makes_a_task_top_level_last(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(alice)
    child = await create_task(alice, parent_id=parent["id"])
    later = await create_task(alice)
    response = await client.patch(
        f"/tasks/{child['id']}",
        json={"parent_id": None, "title": "now alone"},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["parent_id"], body["title"]) == (None, "now alone")
    order = [t["id"] for t in await _all(client, alice, top_level="true", sort="position")]
    assert order == [parent["id"], later["id"], child["id"]]


async def test_patch_with_the_current_parent_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(alice)
    child = await create_task(alice, parent_id=parent["id"])
    await create_task(alice, parent_id=parent["id"])
    response = await client.patch(
        f"/tasks/{child['id']}", json={"parent_id": parent["id"]}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == child


async def test_put_never_moves_a_subtask(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(alice)
    child = await create_task(alice, parent_id=parent["id"])
    response = await client.put(
        f"/tasks/{child['id']}", json={"title": "v2"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["parent_id"], body["position"]) == (parent["id"], child["position"])


async def test_deleting_a_task_deletes_its_subtree_each_a_deletion_in_sync(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    chain = await _chain(create_task, alice, 4)
    sibling = await create_task(alice, parent_id=chain[0]["id"])
    other = await create_task(alice)
    start = (await client.get("/tasks/changes", headers=alice.headers)).json()["next_since"]
    response = await client.delete(f"/tasks/{chain[0]['id']}", headers=alice.headers)
    assert response.status_code == 204
    assert [t["id"] for t in await _all(client, alice)] == [other["id"]]
    changes = (
        await client.get("/tasks/changes", params={"since": start}, headers=alice.headers)
    ).json()
    assert sorted(changes["deleted"]) == sorted([t["id"] for t in chain] + [sibling["id"]])
    for task in [*chain, sibling]:
        gone = await client.get(f"/tasks/{task['id']}", headers=alice.headers)
        assert_problem(gone, 404)


async def test_deleting_a_subtask_leaves_its_parent(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    chain = await _chain(create_task, alice, 3)
    response = await client.delete(f"/tasks/{chain[1]['id']}", headers=alice.headers)
    assert response.status_code == 204
    assert [t["id"] for t in await _all(client, alice)] == [chain[0]["id"]]


async def test_a_failed_if_match_deletes_no_subtask(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    chain = await _chain(create_task, alice, 2)
    headers = {**alice.headers, "If-Match": '"999999"'}
    assert_problem(await client.delete(f"/tasks/{chain[0]['id']}", headers=headers), 412)
    assert len(await _all(client, alice)) == 2


async def test_completing_a_task_leaves_its_subtasks(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(alice)
    child = await create_task(alice, parent_id=parent["id"])
    await client.patch(f"/tasks/{parent['id']}/toggle", headers=alice.headers)
    after = await client.get(f"/tasks/{child['id']}", headers=alice.headers)
    assert after.json() == child


async def test_patch_list_id_takes_the_subtree_to_the_end_of_that_list(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, create_list: ListFactory
) -> None:
    work = await create_list(alice, "Work")
    already = await create_task(alice, list_id=work["id"])
    chain = await _chain(create_task, alice, 3)
    start = (await client.get("/tasks/changes", headers=alice.headers)).json()["next_since"]
    response = await client.patch(
        f"/tasks/{chain[0]['id']}", json={"list_id": work["id"]}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    in_work = await _all(client, alice, list_id=work["id"], top_level="true", sort="position")
    assert [t["id"] for t in in_work] == [already["id"], chain[0]["id"]]
    for task in chain[1:]:
        moved = (await client.get(f"/tasks/{task['id']}", headers=alice.headers)).json()
        assert moved["list_id"] == work["id"]
        assert moved["parent_id"] == task["parent_id"]
    changed = (
        await client.get("/tasks/changes", params={"since": start}, headers=alice.headers)
    ).json()
    assert {t["id"] for t in changed["tasks"]} == {t["id"] for t in chain}


async def test_a_subtask_moved_alone_to_another_list_becomes_top_level(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, create_list: ListFactory
) -> None:
    work = await create_list(alice, "Work")
    chain = await _chain(create_task, alice, 3)
    response = await client.patch(
        f"/tasks/{chain[1]['id']}", json={"list_id": work["id"]}, headers=alice.headers
    )
    assert response.status_code == 200, response.text
    assert (response.json()["parent_id"], response.json()["list_id"]) == (None, work["id"])
    grandchild = (await client.get(f"/tasks/{chain[2]['id']}", headers=alice.headers)).json()
    assert (grandchild["parent_id"], grandchild["list_id"]) == (chain[1]["id"], work["id"])
    parent = (await client.get(f"/tasks/{chain[0]['id']}", headers=alice.headers)).json()
    assert parent["list_id"] != work["id"]


async def test_deleting_a_list_deletes_its_subtasks(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory, create_list: ListFactory
) -> None:
    work = await create_list(alice, "Work")
    parent = await create_task(alice, list_id=work["id"])
    await create_task(alice, parent_id=parent["id"])
    response = await client.delete(f"/lists/{work['id']}", headers=alice.headers)
    assert response.status_code == 204, response.text
    assert await _all(client, alice) == []


async def test_filters_parent_id_and_top_level(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    chain = await _chain(create_task, alice, 3)
    second_child = await create_task(alice, parent_id=chain[0]["id"])
    children = await _all(client, alice, parent_id=chain[0]["id"], sort="position")
    assert [t["id"] for t in children] == [chain[1]["id"], second_child["id"]]
    top = await _all(client, alice, top_level="true")
    assert [t["id"] for t in top] == [chain[0]["id"]]
    below = await _all(client, alice, top_level="false")
    assert len(below) == 3
    page = await client.get(
        "/tasks", params={"parent_id": chain[0]["id"], "limit": 1}, headers=alice.headers
    )
    assert page.json()["total"] == 2


async def test_the_parent_id_filter_finds_nothing_of_another_user(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, create_task: TaskFactory
) -> None:
    parent = await create_task(bob)
    await create_task(bob, parent_id=parent["id"])
    assert await _all(client, alice, parent_id=parent["id"]) == []


@pytest.mark.parametrize(
    "params",
    [{"top_level": "yes"}, {"top_level": "1"}, {"parent_id": "nope"}, {"sort": "place"}],
)
async def test_bad_filters_are_422(
    client: httpx.AsyncClient, alice: ApiUser, params: dict[str, str]
) -> None:
    assert_problem(await client.get("/tasks", params=params, headers=alice.headers), 422)


@pytest.mark.parametrize("parent_id", [5, True, "not-a-uuid", ["x"]])
async def test_a_malformed_parent_id_is_422(
    client: httpx.AsyncClient, alice: ApiUser, parent_id: object
) -> None:
    response = await client.post(
        "/tasks", json={"title": "x", "parent_id": parent_id}, headers=alice.headers
    )
    assert_problem(response, 422)
    assert await _all(client, alice) == []
