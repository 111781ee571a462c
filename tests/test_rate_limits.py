"""Rate limits: per token subject on /tasks and /auth/me, per client address on sign-in.

Limits here are per day: windows are aligned to the clock, and a test that crossed a
window boundary mid-way would see its counter reset.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import ApiUser, assert_problem, bearer, make_token
from tests.servers import clean_environment, closed_port, running_servers, serving
from tests.test_metrics import value
from todo_api.ratelimit import client_address
from todo_api.settings import Settings


@pytest.fixture
async def limited(settings_factory: Callable[..., Settings]) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_factory(
        rate_limit_tasks="3/day", rate_limit_auth="2/day", trusted_proxies="127.0.0.1"
    )
    async with serving(settings) as http:
        yield http


def assert_rate_limited(response: httpx.Response, limit: int) -> None:
    assert_problem(response, 429)
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 86_400
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    assert int(response.headers["ratelimit-reset"]) == retry_after


async def test_the_request_after_the_limit_gets_429_with_headers(
    limited: httpx.AsyncClient, alice: ApiUser
) -> None:
    remaining = []
    for _ in range(3):
        response = await limited.get("/tasks", headers=alice.headers)
        assert response.status_code == 200
        assert response.headers["ratelimit-limit"] == "3"
        remaining.append(int(response.headers["ratelimit-remaining"]))
    assert remaining == [2, 1, 0]
    assert_rate_limited(await limited.get("/tasks", headers=alice.headers), 3)
    assert_rate_limited(await limited.post("/tasks", json={"title": "x"}, headers=alice.headers), 3)


async def test_tags_share_the_subjects_allowance_with_tasks(
    limited: httpx.AsyncClient, alice: ApiUser
) -> None:
    for path in ("/tags", "/tasks", "/tags"):
        response = await limited.get(path, headers=alice.headers)
        assert response.status_code == 200
        assert response.headers["ratelimit-limit"] == "3"
    assert_rate_limited(await limited.get("/tags", headers=alice.headers), 3)


async def test_each_subject_has_its_own_allowance(
    limited: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    for _ in range(4):
        await limited.get("/tasks", headers=alice.headers)
    assert (await limited.get("/tasks", headers=alice.headers)).status_code == 429
    response = await limited.get("/tasks", headers=bob.headers)
    assert response.status_code == 200
    assert response.headers["ratelimit-remaining"] == "2"


async def test_a_rejected_token_neither_counts_nor_is_counted(
    limited: httpx.AsyncClient, alice: ApiUser
) -> None:
    forged = bearer(make_token(alice.sub, secret="a-forged-secret-that-is-long-enough"))
    for _ in range(5):
        assert_problem(await limited.get("/tasks", headers=forged), 401)
    assert (await limited.get("/tasks", headers=alice.headers)).status_code == 200


async def test_rejections_are_counted_in_metrics(
    limited: httpx.AsyncClient, alice: ApiUser
) -> None:
    before = value(
        (await limited.get("/metrics")).text, "rate_limit_rejections_total", limit="tasks"
    )
    for _ in range(5):
        await limited.get("/tasks", headers=alice.headers)
    after = value(
        (await limited.get("/metrics")).text, "rate_limit_rejections_total", limit="tasks"
    )
    assert after - before == 2


async def test_auth_routes_are_limited_per_client_address(limited: httpx.AsyncClient) -> None:
    client_a = {"X-Forwarded-For": "203.0.113.10"}
    client_b = {"X-Forwarded-For": "203.0.113.20"}
    for _ in range(2):
        assert (await limited.post("/auth/token", headers=client_a)).status_code != 429
    response = await limited.post("/auth/register", headers=client_a)
    assert_rate_limited(response, 2)
    assert (await limited.post("/auth/token", headers=client_b)).status_code != 429


async def test_auth_me_is_counted_per_token_subject_not_per_address(
    limited: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    # Many users behind one address (a NAT) do not share the sign-in budget of 2.
    same_address = {"X-Forwarded-For": "203.0.113.30"}
    for user in (alice, bob):
        for _ in range(3):
            response = await limited.get("/auth/me", headers={**user.headers, **same_address})
            assert response.status_code == 200
            assert response.headers["ratelimit-limit"] == "3"
    # Each user's own budget is the one /tasks uses, and it is spent.
    assert_rate_limited(await limited.get("/tasks", headers=alice.headers), 3)
    assert_rate_limited(await limited.get("/auth/me", headers=bob.headers), 3)
    # The address still has its whole sign-in budget.
    assert (await limited.post("/auth/token", headers=same_address)).status_code != 429


async def test_other_routes_are_not_limited(limited: httpx.AsyncClient) -> None:
    for _ in range(5):
        response = await limited.get("/health")
        assert response.status_code == 200
        assert "ratelimit-limit" not in response.headers
    # A path that only starts like /auth is not under it.
    assert (await limited.get("/authors")).status_code == 404
    assert "ratelimit-limit" not in (await limited.get("/authors")).headers


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(
    settings_factory: Callable[..., Settings],
) -> None:
    async with serving(settings_factory(rate_limit_auth="2/day")) as http:
        for index in range(2):
            await http.post("/auth/token", headers={"X-Forwarded-For": f"198.51.100.{index}"})
        response = await http.post("/auth/token", headers={"X-Forwarded-For": "198.51.100.99"})
        assert_rate_limited(response, 2)


def _scope(peer: str, *forwarded: str) -> dict[str, object]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 1234), "headers": headers}


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("10.0.0.5", ("1.2.3.4",), "10.0.0.5"),  # peer is not a trusted proxy
        ("10.1.0.1", ("1.2.3.4",), "1.2.3.4"),
        ("10.1.0.1", ("6.6.6.6, 1.2.3.4",), "1.2.3.4"),  # the client's own claim is ignored
        ("10.1.0.1", ("1.2.3.4, 10.1.0.7",), "1.2.3.4"),  # two trusted hops
        ("10.1.0.1", ("6.6.6.6", "1.2.3.4"), "1.2.3.4"),  # repeated header
        ("10.1.0.1", ("garbage",), "10.1.0.1"),
        ("10.1.0.1", (), "10.1.0.1"),
        ("10.1.0.1", ("2001:db8::1",), "2001:db8::1"),
    ],
)
def test_client_address_trusts_forwarded_for_only_from_trusted_proxies(
    peer: str, forwarded: tuple[str, ...], expected: str
) -> None:
    trusted = (ipaddress.ip_network("10.1.0.0/16"),)
    assert client_address(_scope(peer, *forwarded), trusted) == expected


# --- Redis ----------------------------------------------------------------------------------


async def test_an_unreachable_redis_does_not_stop_the_service(
    settings_factory: Callable[..., Settings],
    alice: ApiUser,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with closed_port() as port:
        settings = settings_factory(
            rate_limit_tasks="1/day", redis_url=f"redis://127.0.0.1:{port}/0"
        )
        async with serving(settings) as http:
            before = value((await http.get("/metrics")).text, "rate_limit_storage_errors_total")
            for _ in range(5):
                response = await http.get("/tasks", headers=alice.headers)
                assert response.status_code == 200
                assert "ratelimit-limit" not in response.headers
            metrics = (await http.get("/metrics")).text
    assert value(metrics, "rate_limit_storage_errors_total") - before >= 1
    assert value(metrics, "rate_limit_unchecked_total", limit="tasks") >= 5
    output = capsys.readouterr().err
    # Logged once, not once per request.
    assert output.count("rate-limit store unavailable") == 1


async def test_two_apps_on_one_redis_share_a_subjects_allowance(
    settings_factory: Callable[..., Settings], redis_url: str, alice: ApiUser
) -> None:
    settings = settings_factory(rate_limit_tasks="4/day", redis_url=redis_url)
    async with serving(settings) as first, serving(settings) as second:
        statuses = [
            (await (first if index % 2 else second).get("/tasks", headers=alice.headers))
            for index in range(6)
        ]
    assert [response.status_code for response in statuses] == [200] * 4 + [429] * 2
    assert [response.headers["ratelimit-remaining"] for response in statuses[:4]] == [
        "3",
        "2",
        "1",
        "0",
    ]


@pytest.mark.server
def test_two_server_processes_enforce_one_shared_limit(
    database_url: str, redis_url: str, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url,
        "JWT_SECRET": "s" * 40,
        "REDIS_URL": redis_url,
        "RATE_LIMIT_TASKS": "5/day",
        "LOG_FORMAT": "json",
    }
    # A subject of its own keeps this run's counters apart from any other's in Redis.
    user = bearer(make_token(f"shared-limit-{uuid.uuid4().hex}", secret="s" * 40))
    with (
        running_servers(tmp_path, clean_environment(**env), "--no-migrate", count=2) as servers,
        httpx.Client() as http,
    ):
        statuses = [
            http.get(f"{server.url}/tasks", headers=user).status_code for server in servers * 4
        ]
    assert statuses == [200] * 5 + [429] * 3
