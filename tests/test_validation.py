"""Bad input gets a clear 4xx problem and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ApiUser, TaskFactory, assert_problem


async def count_tasks(client: httpx.AsyncClient, user: ApiUser) -> int:
    total: int = (await client.get("/tasks", headers=user.headers)).json()["total"]
    return total


async def test_title_is_trimmed(client: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await client.post("/tasks", json={"title": " \t padded \n "}, headers=alice.headers)
    assert response.json()["title"] == "padded"


@pytest.mark.parametrize("title", ["a" * 255, " " + "a" * 255 + " ", "é" * 255, "🙂" * 255])
async def test_title_of_255_characters_is_accepted(
    client: httpx.AsyncClient, alice: ApiUser, title: str
) -> None:
    response = await client.post("/tasks", json={"title": title}, headers=alice.headers)
    assert response.status_code == 201
    assert response.json()["title"] == title.strip()


async def test_description_of_10000_characters_is_accepted(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    description = "d" * 10_000
    response = await client.post(
        "/tasks", json={"title": "t", "description": description}, headers=alice.headers
    )
    assert response.status_code == 201
    assert response.json()["description"] == description


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "a" * 256}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({}, "title"),
        ({"title": None}, "title"),
        ({"title": 5}, "title"),
        ({"title": ["x"]}, "title"),
        ({"title": "t", "description": "d" * 10_001}, "description"),
        ({"title": "t", "description": 5}, "description"),
        ({"title": "t", "completed": "true"}, "completed"),
        ({"title": "t", "completed": 1}, "completed"),
        ({"title": "t", "completed": None}, "completed"),
        ({"title": "t", "priority": "urgent"}, "priority"),
        ({"title": "t", "priority": "HIGH"}, "priority"),
        ({"title": "t", "priority": 3}, "priority"),
        ({"title": "t", "priority": None}, "priority"),
        ({"title": "t", "due_at": "2026-12-01T17:00:00"}, "due_at"),
        ({"title": "t", "due_at": "2026-12-01"}, "due_at"),
        ({"title": "t", "due_at": "2026-12-01T17:00+01:00"}, "due_at"),
        ({"title": "t", "due_at": "2026-02-30T17:00:00Z"}, "due_at"),
        ({"title": "t", "due_at": "0001-01-01T00:00:00+01:00"}, "due_at"),
        ({"title": "t", "due_at": 1764608400}, "due_at"),
        ({"title": "t", "tags": "work"}, "tags"),
        ({"title": "t", "tags": None}, "tags"),
        ({"title": "t", "tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"title": "t", "tags": ["ok", "   "]}, "tags"),
        ({"title": "t", "tags": ["x" * 51]}, "tags"),
        ({"title": "t", "tags": ["bell\u0007"]}, "tags"),
        ({"title": "t", "tags": ["c1\u0085control"]}, "tags"),
        ({"title": "t", "tags": ["nul\u0000"]}, "tags"),
        ({"title": "t", "tags": [5]}, "tags"),
        ({"title": "t", "etag": '"1"'}, "etag"),
        ({"title": "t", "id": "00000000-0000-0000-0000-000000000000"}, "id"),
        ({"title": "nul \u0000 byte"}, "title"),
    ],
)
async def test_invalid_create_is_422_and_stores_nothing(
    client: httpx.AsyncClient, alice: ApiUser, body: dict[str, Any], field: str
) -> None:
    response = await client.post("/tasks", json=body, headers=alice.headers)
    problem = assert_problem(response, 422)
    assert any(field in error["loc"] for error in problem["errors"])
    for error in problem["errors"]:
        assert set(error) == {"loc", "msg", "type"}
    assert await count_tasks(client, alice) == 0


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"title": "x"', "application/json"),
        (b"not json at all", "application/json"),
        (b'{"title": "x"', None),
        (b"\xff\xfe\x00garbage", "application/json"),
    ],
)
async def test_body_that_is_not_json_is_400(
    client: httpx.AsyncClient, alice: ApiUser, content: bytes, content_type: str | None
) -> None:
    headers = dict(alice.headers)
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.post("/tasks", content=content, headers=headers)
    assert_problem(response, 400)
    assert await count_tasks(client, alice) == 0


async def test_lone_surrogate_in_json_is_422(client: httpx.AsyncClient, alice: ApiUser) -> None:
    content = b'{"title": "t", "description": "lone \\ud800 surrogate"}'
    headers = {**alice.headers, "Content-Type": "application/json"}
    response = await client.post("/tasks", content=content, headers=headers)
    assert_problem(response, 422)
    assert await count_tasks(client, alice) == 0


async def test_body_that_is_not_an_object_is_422(client: httpx.AsyncClient, alice: ApiUser) -> None:
    for body in ([], "title", 5, None):
        response = await client.post("/tasks", json=body, headers=alice.headers)
        assert_problem(response, 422)


async def test_json_sent_as_a_form_is_415(client: httpx.AsyncClient, alice: ApiUser) -> None:
    headers = {**alice.headers, "Content-Type": "application/x-www-form-urlencoded"}
    response = await client.post("/tasks", content=b'{"title": "x"}', headers=headers)
    assert_problem(response, 415)


async def test_invalid_update_changes_nothing(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    task = await create_task(alice, description="keep")
    url = f"/tasks/{task['id']}"
    for method, body in [
        ("PUT", {"title": "a" * 256}),
        ("PUT", {"title": "ok", "completed": "false"}),
        ("PATCH", {"description": "d" * 10_001}),
        ("PATCH", {"title": "ok", "extra": True}),
    ]:
        assert_problem(await client.request(method, url, json=body, headers=alice.headers), 422)
    assert (await client.get(url, headers=alice.headers)).json() == task


async def test_body_over_the_limit_is_413(client: httpx.AsyncClient, alice: ApiUser) -> None:
    body = b'{"title": "t", "description": "' + b"x" * 1_048_576 + b'"}'
    response = await client.post(
        "/tasks", content=body, headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert_problem(response, 413)
    assert await count_tasks(client, alice) == 0


async def test_chunked_body_over_the_limit_is_413(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    async def chunks() -> Any:
        yield b'{"title": "t", "description": "'
        for _ in range(40):
            yield b"x" * 32_768
        yield b'"}'

    response = await client.post(
        "/tasks", content=chunks(), headers={**alice.headers, "Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_problem(response, 413)
    assert await count_tasks(client, alice) == 0
