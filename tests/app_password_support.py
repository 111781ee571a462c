"""What the app-password tests share: making passwords, built-in accounts, a Basic header,
and a test-only route that signs in as `/dav/` will (app_passwords/basic.py)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from tests.conftest import ApiUser, bearer
from tests.servers import open_client
from todo_api.app import create_app
from todo_api.app_passwords.basic import BasicSubject
from todo_api.settings import Settings

ACCOUNT_PASSWORD = "correct horse battery"
PROBE = "/test-only/basic"


async def create_password(
    client: httpx.AsyncClient, user: ApiUser, name: str = "Phone"
) -> dict[str, Any]:
    response = await client.post("/auth/app-passwords", json={"name": name}, headers=user.headers)
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def passwords_of(client: httpx.AsyncClient, user: ApiUser) -> list[dict[str, Any]]:
    response = await client.get("/auth/app-passwords", headers=user.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def new_email() -> str:
    return f"Calendar-{uuid.uuid4().hex[:12]}@Example.com"


async def register_and_sign_in(client: httpx.AsyncClient, email: str) -> ApiUser:
    """A built-in account, and its user with a token from `POST /auth/token`."""
    body = {"email": email, "password": ACCOUNT_PASSWORD}
    registered = await client.post("/auth/register", json=body)
    assert registered.status_code == 201, registered.text
    form = {"username": email, "password": ACCOUNT_PASSWORD}
    token = await client.post("/auth/token", data=form)
    assert token.status_code == 200, token.text
    return ApiUser(registered.json()["id"], bearer(token.json()["access_token"]))


def basic(username: str, password: str) -> dict[str, str]:
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {credentials}"}


def with_probe(app: FastAPI) -> FastAPI:
    """The app plus a route that answers the subject a Basic header signs in as, through
    the same dependency `/dav/` uses. Never part of the shipped app."""

    async def probe(subject: BasicSubject) -> dict[str, str]:
        return {"subject": subject}

    app.add_api_route(PROBE, probe, methods=["GET"])
    return app


@asynccontextmanager
async def probed(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with open_client(with_probe(create_app(settings))) as http:
        yield http


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.get(PROBE, headers=basic(username, password))
