"""Signing in with an app password, as `/dav/` will: `AppPasswordService.authenticate`
behind HTTP Basic (app_passwords/basic.py), through a test-only route on the real app.

Limits of failed sign-ins are per day: windows are aligned to the clock, and a test that
crossed a window boundary mid-way would see its counter reset.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from tests.app_password_support import (
    ACCOUNT_PASSWORD,
    PROBE,
    basic,
    create_password,
    new_email,
    passwords_of,
    probed,
    register_and_sign_in,
    sign_in,
    with_probe,
)
from tests.conftest import ApiUser, assert_problem, bearer, make_token
from tests.servers import open_client
from tests.test_rate_limits import assert_rate_limited
from tests.test_round_trips import DriverTrace
from todo_api.app import create_app
from todo_api.app_passwords.dependencies import app_password_service
from todo_api.app_passwords.models import app_passwords_table as app_passwords
from todo_api.connections import RequestConnection
from todo_api.database import create_engine
from todo_api.settings import Settings

FAILURES = 3
CHALLENGE = 'Basic realm="todo-api", charset="UTF-8"'


@pytest.fixture
async def client(settings_factory: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    async with probed(settings_factory(rate_limit_login_failures=f"{FAILURES}/day")) as http:
        yield http


def assert_refused(response: httpx.Response) -> None:
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == CHALLENGE
    assert "subject" not in response.text


async def signs_in_as(client: httpx.AsyncClient, username: str, password: str) -> str:
    response = await sign_in(client, username, password)
    assert response.status_code == 200, response.text
    subject: str = response.json()["subject"]
    return subject


# The right password, and every wrong one


async def test_the_right_password_signs_in_as_its_owner_and_records_its_use(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    made = await create_password(client, alice)
    assert await signs_in_as(client, made["username"], made["password"]) == alice.sub
    (listed,) = await passwords_of(client, alice)
    assert listed["last_used_at"] is not None
    assert listed["last_used_at"] >= made["created_at"]


async def test_last_used_at_moves_once_a_minute_at_most(
    client: httpx.AsyncClient, alice: ApiUser, settings: Settings
) -> None:
    made = await create_password(client, alice)
    await signs_in_as(client, alice.sub, made["password"])
    (first,) = await passwords_of(client, alice)
    await signs_in_as(client, alice.sub, made["password"])
    assert await passwords_of(client, alice) == [first]
    # Two minutes later, as far as the row can tell.
    engine = create_engine(settings)
    earlier = datetime.fromisoformat(first["last_used_at"]) - timedelta(minutes=2)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                app_passwords.update()
                .where(app_passwords.c.id == uuid.UUID(made["id"]))
                .values(last_used_at=earlier)
            )
    finally:
        await engine.dispose()
    await signs_in_as(client, alice.sub, made["password"])
    (moved,) = await passwords_of(client, alice)
    assert moved["last_used_at"] > first["last_used_at"]


async def test_case_dashes_and_spaces_of_the_password_do_not_matter(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    password = (await create_password(client, alice))["password"]
    for typed in (password.upper(), password.replace("-", ""), password.replace("-", " ")):
        assert await signs_in_as(client, alice.sub, typed) == alice.sub


async def test_a_wrong_password_an_unknown_name_and_an_empty_password_are_refused_alike(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    made = await create_password(client, alice)
    wrong = "aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa"
    responses = [
        await sign_in(client, alice.sub, wrong),
        await sign_in(client, f"nobody-{uuid.uuid4().hex}", made["password"]),
        await sign_in(client, alice.sub, ""),
    ]
    for response in responses:
        assert_refused(response)
    assert len({response.json()["detail"] for response in responses}) == 1


async def test_another_users_password_does_not_sign_in_under_my_name(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    await create_password(client, alice)
    bobs = await create_password(client, bob)
    assert_refused(await sign_in(client, alice.sub, bobs["password"]))
    assert await signs_in_as(client, bob.sub, bobs["password"]) == bob.sub


async def test_a_revoked_password_stops_at_once(client: httpx.AsyncClient, alice: ApiUser) -> None:
    kept = await create_password(client, alice, "Kept")
    revoked = await create_password(client, alice, "Revoked")
    assert await signs_in_as(client, alice.sub, revoked["password"]) == alice.sub
    deleted = await client.delete(f"/auth/app-passwords/{revoked['id']}", headers=alice.headers)
    assert deleted.status_code == 204
    assert_refused(await sign_in(client, alice.sub, revoked["password"]))
    assert await signs_in_as(client, alice.sub, kept["password"]) == alice.sub


async def test_a_revocation_holds_on_every_instance(
    settings_factory: Callable[..., Settings], alice: ApiUser
) -> None:
    settings = settings_factory()
    async with probed(settings) as one, probed(settings) as other:
        made = await create_password(one, alice)
        assert await signs_in_as(other, alice.sub, made["password"]) == alice.sub
        assert (
            await one.delete(f"/auth/app-passwords/{made['id']}", headers=alice.headers)
        ).status_code == 204
        assert_refused(await sign_in(other, alice.sub, made["password"]))


async def test_erasure_ends_every_app_password(client: httpx.AsyncClient, alice: ApiUser) -> None:
    made = await create_password(client, alice)
    assert (await client.delete("/auth/me", headers=alice.headers)).status_code == 204
    assert_refused(await sign_in(client, alice.sub, made["password"]))


# User names


async def test_a_built_in_accounts_email_matches_in_any_case(client: httpx.AsyncClient) -> None:
    email = new_email()
    account = await register_and_sign_in(client, email)
    password = (await create_password(client, account))["password"]
    for typed in (email, email.lower(), email.upper()):
        assert await signs_in_as(client, typed, password) == account.sub
    # The account's id is not its user name.
    assert_refused(await sign_in(client, account.sub, password))


async def test_an_outside_users_sub_matches_exactly(
    client: httpx.AsyncClient, new_user: Callable[[], ApiUser]
) -> None:
    user = new_user()
    password = (await create_password(client, user))["password"]
    assert await signs_in_as(client, user.sub, password) == user.sub
    assert_refused(await sign_in(client, user.sub.upper(), password))


@pytest.mark.parametrize("username", ["x" * 256, "nul\x00inside", "é" * 300, " ", "a:b"])
async def test_user_names_no_row_can_hold_are_refused_not_500(
    client: httpx.AsyncClient, username: str
) -> None:
    assert_refused(await sign_in(client, username, "aaaa-aaaa-aaaa-aaaa-aaaa-aaaa-aaaa"))


# Account passwords and app passwords keep to their own doors


async def test_an_account_password_is_never_an_app_password(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register_and_sign_in(client, email)
    assert_refused(await sign_in(client, email, ACCOUNT_PASSWORD))


async def test_an_app_password_never_signs_in_to_the_rest_api(client: httpx.AsyncClient) -> None:
    email = new_email()
    account = await register_and_sign_in(client, email)
    password = (await create_password(client, account))["password"]
    token = await client.post("/auth/token", data={"username": email, "password": password})
    assert_problem(token, 401)
    for path in ("/tasks", "/lists", "/auth/me", "/auth/app-passwords"):
        assert_problem(await client.get(path, headers=basic(email, password)), 401)


# The header itself


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Basic",
        "Basic ",
        "Bearer abc",
        "Basic !!!!",
        "Basic " + base64.b64encode(b"no colon").decode(),
        "Basic " + base64.b64encode(b":no user name").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:latin-1").decode(),
        "Basic " + base64.b64encode(b"user:pass").decode().rstrip("="),
        "Digest username=alice",
    ],
)
async def test_a_missing_or_malformed_header_is_401_with_the_basic_challenge(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_refused(await client.get(PROBE, headers=headers))


async def test_the_scheme_is_case_insensitive(client: httpx.AsyncClient, alice: ApiUser) -> None:
    made = await create_password(client, alice)
    (value,) = basic(alice.sub, made["password"]).values()
    headers = {"Authorization": value.replace("Basic", "bAsIc")}
    assert (await client.get(PROBE, headers=headers)).json() == {"subject": alice.sub}


async def test_a_user_name_in_utf8(client: httpx.AsyncClient) -> None:
    sub = f"zoë-{uuid.uuid4().hex}"
    user = ApiUser(sub, bearer(make_token(sub)))
    made = await create_password(client, user)
    assert await signs_in_as(client, sub, made["password"]) == sub


# Throttling


async def test_failed_sign_ins_are_throttled_per_user_name(
    client: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    made = await create_password(client, alice)
    bobs = await create_password(client, bob)
    for _ in range(FAILURES):
        assert_refused(await sign_in(client, alice.sub, "wrong"))
    # Even the right password waits now, and says how long.
    assert_rate_limited(await sign_in(client, alice.sub, made["password"]), FAILURES)
    # Another user name is counted on its own.
    assert await signs_in_as(client, bob.sub, bobs["password"]) == bob.sub


async def test_an_app_signing_in_with_many_requests_at_once_is_never_throttled(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    # Only failures count: an app's parallel requests, more than the limit, all pass.
    made = await create_password(client, alice)
    requests = [sign_in(client, alice.sub, made["password"]) for _ in range(4 * FAILURES)]
    assert {response.status_code for response in await asyncio.gather(*requests)} == {200}


async def test_concurrent_wrong_passwords_are_all_counted(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    made = await create_password(client, alice)
    guesses = [sign_in(client, alice.sub, "wrong") for _ in range(2 * FAILURES)]
    assert {response.status_code for response in await asyncio.gather(*guesses)} <= {401, 429}
    assert_rate_limited(await sign_in(client, alice.sub, made["password"]), FAILURES)


async def test_a_success_clears_the_count(client: httpx.AsyncClient, alice: ApiUser) -> None:
    made = await create_password(client, alice)
    for _ in range(3):
        for _ in range(FAILURES - 1):
            assert_refused(await sign_in(client, alice.sub, "wrong"))
        assert await signs_in_as(client, alice.sub, made["password"]) == alice.sub


async def test_email_failures_count_in_any_case_and_with_the_account_password_sign_in(
    client: httpx.AsyncClient,
) -> None:
    email = new_email()
    account = await register_and_sign_in(client, email)
    password = (await create_password(client, account))["password"]
    assert_refused(await sign_in(client, email.upper(), "wrong"))
    assert_refused(await sign_in(client, email.lower(), "wrong"))
    # The email's one counter: a guess at the account password counts too.
    wrong = await client.post("/auth/token", data={"username": email, "password": "wrong pw"})
    assert_problem(wrong, 401)
    assert_rate_limited(await sign_in(client, email, password), FAILURES)


async def test_failures_are_counted_across_instances_through_redis(
    settings_factory: Callable[..., Settings], redis_url: str, alice: ApiUser
) -> None:
    settings = settings_factory(rate_limit_login_failures=f"{FAILURES}/day", redis_url=redis_url)
    async with probed(settings) as one, probed(settings) as other:
        made = await create_password(one, alice)
        for instance in (one, other, one):
            assert_refused(await sign_in(instance, alice.sub, "wrong"))
        assert_rate_limited(await sign_in(other, alice.sub, made["password"]), FAILURES)


# The seam itself, as code that holds the request's connection calls it


async def test_authenticate_through_the_apps_own_state(app: FastAPI, alice: ApiUser) -> None:
    async with open_client(app) as http:
        made = await create_password(http, alice)
        resources = app.state.resources
        async with resources.database.connect() as connection:
            service = app_password_service(resources, RequestConnection.held(connection))
            assert await service.authenticate(alice.sub, made["password"]) == alice.sub
            assert await service.authenticate(alice.sub, "wrong") is None
            assert await service.authenticate("", made["password"]) is None


async def test_a_sign_in_is_one_statement_without_begin_or_commit(
    settings_factory: Callable[..., Settings], database_backend: str, alice: ApiUser
) -> None:
    if database_backend not in ("sqlite", "postgresql"):
        pytest.skip("observed on a database of the test's own")
    # One connection, so it is the one traced (as in test_round_trips.py).
    settings = settings_factory(db_pool_size=1, db_ping_after_idle_seconds=3600)
    app = with_probe(create_app(settings))
    async with open_client(app) as http:
        made = await create_password(http, alice)
        trace = await DriverTrace.of(app.state.resources.database.engine)
        async with trace.observe() as observed:
            assert await signs_in_as(http, alice.sub, made["password"]) == alice.sub
    assert observed.transaction_control == []
    if trace.backend == "postgresql":
        assert observed.round_trips == 1, observed.statements
    else:
        assert len([sql for sql in observed.statements if "app_passwords" in sql]) == 1
