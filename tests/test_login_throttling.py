"""Failed sign-ins are limited per email (RATE_LIMIT_LOGIN_FAILURES), known or not.

Limits here are per day: windows are aligned to the clock, and a test that crossed a
window boundary mid-way would see its counter reset.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import TEST_SECRET, assert_problem
from tests.servers import clean_environment, running_servers, serving
from tests.test_metrics import value
from tests.test_rate_limits import assert_rate_limited
from todo_api.settings import Settings, SettingsError, load_settings

PASSWORD = "correct horse battery"
FAILURES = 3


def new_email() -> str:
    return f"Throttled-{uuid.uuid4().hex[:12]}@example.com"


async def register(client: httpx.AsyncClient, email: str) -> None:
    response = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text


async def sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/auth/token", data={"username": email, "password": password})


async def fail(client: httpx.AsyncClient, email: str, times: int = FAILURES) -> None:
    for _ in range(times):
        assert_problem(await sign_in(client, email, "wrong password"), 401)


@pytest.fixture
async def client(settings_factory: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(settings_factory(rate_limit_login_failures=f"{FAILURES}/day")) as http:
        yield http


async def test_failures_for_one_email_lead_to_429_for_it_alone(
    client: httpx.AsyncClient,
) -> None:
    victim, other = new_email(), new_email()
    await register(client, victim)
    await register(client, other)
    # Any case of the address is the same account, and counts towards the same limit.
    await fail(client, victim.lower(), 1)
    await fail(client, victim.upper().replace("EXAMPLE.COM", "example.com"), 1)
    await fail(client, victim, 1)
    assert_rate_limited(await sign_in(client, victim, "wrong password"), FAILURES)
    # The right password does not get through either while the email is throttled.
    throttled = await sign_in(client, victim)
    assert_rate_limited(throttled, FAILURES)
    assert "access_token" not in throttled.text
    # Another email is untouched: it signs in, and its own failures are plain 401s.
    assert (await sign_in(client, other)).status_code == 200
    await fail(client, other, FAILURES)


async def test_an_unknown_email_is_throttled_the_same_way(client: httpx.AsyncClient) -> None:
    known, unknown = new_email(), new_email()
    await register(client, known)
    answers: dict[str, list[tuple[int, Any]]] = {}
    for email in (known, unknown):
        responses = [await sign_in(client, email, "wrong password") for _ in range(FAILURES + 2)]
        answers[email] = [(response.status_code, response.json()) for response in responses]
        assert_rate_limited(responses[-1], FAILURES)
    # Nothing in the answers tells an account that exists from one that does not.
    assert answers[known] == answers[unknown]
    assert [status for status, _ in answers[known]] == [401] * FAILURES + [429] * 2


async def test_a_successful_sign_in_clears_the_count(client: httpx.AsyncClient) -> None:
    email = new_email()
    await register(client, email)
    await fail(client, email, FAILURES - 1)
    assert (await sign_in(client, email)).status_code == 200
    await fail(client, email, FAILURES)
    assert_rate_limited(await sign_in(client, email), FAILURES)


async def test_failures_and_throttled_sign_ins_are_counted_in_metrics(
    client: httpx.AsyncClient,
) -> None:
    before = (await client.get("/metrics")).text
    email = new_email()
    await fail(client, email)
    for _ in range(2):
        assert_rate_limited(await sign_in(client, email), FAILURES)
    after = (await client.get("/metrics")).text
    rejected = value(after, "rate_limit_rejections_total", limit="login")
    assert rejected - value(before, "rate_limit_rejections_total", limit="login") == 2
    failed = value(after, "login_failures_total") - value(before, "login_failures_total")
    assert failed == FAILURES


def test_a_bad_limit_is_refused_readably() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, rate_limit_login_failures="five")
    assert caught.value.lines == [
        "RATE_LIMIT_LOGIN_FAILURES: not a rate limit such as '600/minute': 'five'"
    ]


async def test_on_redis_a_success_on_one_instance_clears_the_count_of_all(
    settings_factory: Callable[..., Settings], redis_url: str
) -> None:
    settings = settings_factory(rate_limit_login_failures=f"{FAILURES}/day", redis_url=redis_url)
    email = new_email()
    async with serving(settings) as first, serving(settings) as second:
        await register(first, email)
        await fail(first, email, FAILURES - 1)
        assert (await sign_in(second, email)).status_code == 200
        await fail(first, email, FAILURES)
        assert_rate_limited(await sign_in(second, email), FAILURES)


@pytest.mark.server
def test_two_server_processes_share_the_count_through_redis(
    database_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": TEST_SECRET,
        "REDIS_URL": redis_url,
        "RATE_LIMIT_LOGIN_FAILURES": f"{FAILURES}/day",
        "RATE_LIMIT_AUTH": "1000/minute",
        "LOG_FORMAT": "json",
    }
    # Fresh addresses keep this run's counters apart from any other's in Redis.
    known, unknown = new_email(), new_email()
    with (
        running_servers(tmp_path, clean_environment(**env), "--no-migrate", count=2) as servers,
        httpx.Client() as http,
    ):
        first, second = (server.url for server in servers)
        body = {"email": known, "password": PASSWORD}
        assert http.post(f"{first}/auth/register", json=body).status_code == 201
        statuses = [
            http.post(
                f"{server}/auth/token", data={"username": unknown, "password": "wrong password"}
            ).status_code
            for server in (first, second) * 3
        ]
        signed_in = http.post(
            f"{second}/auth/token", data={"username": known, "password": PASSWORD}
        )
    assert statuses == [401] * FAILURES + [429] * (6 - FAILURES)
    assert signed_in.status_code == 200
