"""Framework-level behaviour: problem+json for unknown routes, methods, and server errors."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import event

from tests.conftest import ApiUser, assert_problem


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/nowhere"), 404)


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await client.delete("/tasks", headers=alice.headers)
    assert_problem(response, 405)
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def checkouts_of(app: FastAPI) -> list[object]:
    """Every connection the app takes from its pool from now on."""
    taken: list[object] = []
    engine = app.state.resources.database.engine
    event.listen(engine.sync_engine, "checkout", lambda *args: taken.append(args[0]))
    return taken


async def test_health_needs_no_auth_and_no_database(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    taken = checkouts_of(app)
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert taken == []


async def test_ready_when_the_database_answers(app: FastAPI, client: httpx.AsyncClient) -> None:
    taken = checkouts_of(app)
    response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert len(taken) == 1


async def test_trailing_slash_is_not_redirected(client: httpx.AsyncClient, alice: ApiUser) -> None:
    response = await client.get("/tasks/", headers=alice.headers)
    assert_problem(response, 404)
    assert "location" not in response.headers
