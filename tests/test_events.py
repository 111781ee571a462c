"""`GET /events` of a real server, on every database: what arrives, in which order, how fast,
and how a client resumes."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.conftest import TEST_SECRET, ApiUser, assert_problem, bearer, make_token
from tests.event_streams import Event, events_server_environment, open_stream
from tests.servers import Server, running_server
from todo_api.database import utc_now
from todo_api.opaque_tokens import OpaqueTokens
from todo_api.tasks.sync_tokens import SyncPosition, encode_sync_token

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("events")
    env = events_server_environment(database_url)
    with running_server(folder, env, "--no-migrate") as running:
        yield running


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


def names(events: list[Event]) -> list[str]:
    return [event.name for event in events]


async def test_a_change_reaches_the_stream_within_a_second(
    server: Server, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    async with open_stream(server.url, alice.headers) as stream:
        started = time.monotonic()
        created = await http.post("/tasks", json={"title": "live"}, headers=alice.headers)
        event = await stream.next(within=1.0)
        assert time.monotonic() - started < 1.0
    assert event.name == "task"
    assert event.json() == created.json()
    shown = await http.get(f"/tasks/{created.json()['id']}", headers=alice.headers)
    assert event.json() == shown.json()


async def test_every_kind_of_change_arrives_in_commit_order(
    server: Server, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    # One change at a time: changes to one task that commit between two reads of a stream
    # arrive as one event, with the task's state after the last of them (the sync rule).
    async with open_stream(server.url, alice.headers) as stream:
        made = await http.post("/lists", json={"name": "Errands"}, headers=alice.headers)
        list_id = made.json()["id"]
        events = [await stream.next()]
        body = {"title": "milk", "list_id": list_id}
        task = (await http.post("/tasks", json=body, headers=alice.headers)).json()
        events.append(await stream.next())
        await http.patch(f"/tasks/{task['id']}", json={"title": "oat milk"}, headers=alice.headers)
        events.append(await stream.next())
        await http.patch(f"/tasks/{task['id']}/toggle", headers=alice.headers)
        events.append(await stream.next())
        doomed = (await http.post("/tasks", json={"title": "x"}, headers=alice.headers)).json()
        await http.delete(f"/tasks/{doomed['id']}", headers=alice.headers)
        events += await stream.take(2)
        await http.patch(f"/lists/{list_id}", json={"name": "Shop"}, headers=alice.headers)
        events.append(await stream.next())
        await http.delete(f"/lists/{list_id}", headers=alice.headers)
        events += await stream.take(2)
    assert names(events) == [
        "list",
        "task",
        "task",
        "task",
        "task",
        "task-deleted",
        "list",
        "task-deleted",
        "list-deleted",
    ]
    assert events[0].json()["name"] == "Errands"
    assert events[2].json()["title"] == "oat milk"
    assert events[3].json()["completed"] is True
    assert events[5].json() == {"id": doomed["id"]}
    assert events[6].json()["name"] == "Shop"
    assert events[7].json() == {"id": task["id"]}
    assert events[8].json() == {"id": list_id}
    assert len({event.id for event in events}) == len(events)


async def test_a_burst_of_changes_ends_in_every_tasks_latest_state(
    server: Server, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    async with open_stream(server.url, alice.headers) as stream:
        task = (await http.post("/tasks", json={"title": "v0"}, headers=alice.headers)).json()
        for version in range(1, 6):
            body = {"title": f"v{version}"}
            await http.patch(f"/tasks/{task['id']}", json=body, headers=alice.headers)
        seen = [await stream.next()]
        while seen[-1].json()["title"] != "v5":
            seen.append(await stream.next())
        assert await stream.nothing_within(0.5)
    titles = [event.json()["title"] for event in seen]
    # In commit order, each at most once, ending with the latest.
    assert titles == sorted(set(titles), key=lambda title: int(title[1:]))


async def test_an_event_id_is_a_sync_token_of_tasks_changes(
    server: Server, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    async with open_stream(server.url, alice.headers) as stream:
        first = (await http.post("/tasks", json={"title": "a"}, headers=alice.headers)).json()
        second = (await http.post("/tasks", json={"title": "b"}, headers=alice.headers)).json()
        events = await stream.take(2)
    after_first = await http.get(
        "/tasks/changes", params={"since": events[0].id or ""}, headers=alice.headers
    )
    assert [task["id"] for task in after_first.json()["tasks"]] == [second["id"]]
    assert first["id"] == events[0].json()["id"]
    after_second = await http.get(
        "/tasks/changes", params={"since": events[1].id or ""}, headers=alice.headers
    )
    assert after_second.json()["tasks"] == []


async def test_a_stream_without_a_token_starts_with_what_commits_next(
    server: Server, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    await http.post("/tasks", json={"title": "before"}, headers=alice.headers)
    async with open_stream(server.url, alice.headers) as stream:
        assert await stream.nothing_within(1.2)
        await http.post("/tasks", json={"title": "after"}, headers=alice.headers)
        assert (await stream.next()).json()["title"] == "after"


@pytest.mark.parametrize("how", ["last-event-id", "since"])
async def test_a_client_resumes_from_its_last_event_missing_and_repeating_nothing(
    server: Server, http: httpx.AsyncClient, alice: ApiUser, how: str
) -> None:
    async with open_stream(server.url, alice.headers) as stream:
        for title in ("one", "two"):
            await http.post("/tasks", json={"title": title}, headers=alice.headers)
        await stream.take(2)
        last_id = stream.last_id or ""
    # Changes while no stream is open.
    for title in ("three", "four"):
        await http.post("/tasks", json={"title": title}, headers=alice.headers)
    headers, params = dict(alice.headers), {}
    if how == "last-event-id":
        headers["Last-Event-ID"] = last_id
        # What a browser does: reconnect to the URL it first opened, with its last id.
        params["since"] = encode_sync_token(
            OpaqueTokens(TEST_SECRET), alice.sub, SyncPosition(0, utc_now())
        )
    else:
        params["since"] = last_id
    async with open_stream(server.url, headers, params) as resumed:
        missed = await resumed.take(2)
        await http.post("/tasks", json={"title": "five"}, headers=alice.headers)
        live = await resumed.next()
        assert await resumed.nothing_within(0.5)
    assert [event.json()["title"] for event in [*missed, live]] == ["three", "four", "five"]


async def test_a_token_older_than_the_tombstones_gets_one_reset_event(
    server: Server, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    old = SyncPosition(0, utc_now() - timedelta(days=31))
    token = encode_sync_token(OpaqueTokens(TEST_SECRET), alice.sub, old)
    async with open_stream(server.url, alice.headers, {"since": token}) as stream:
        reset = await stream.next()
        await http.post("/tasks", json={"title": "next"}, headers=alice.headers)
        following = await stream.next()
    assert reset.name == "reset"
    assert "detail" in reset.json()
    assert following.name == "task"
    # The reset's id is a position the client may sync from.
    since = await http.get("/tasks/changes", params={"since": reset.id}, headers=alice.headers)
    assert [task["title"] for task in since.json()["tasks"]] == ["next"]


async def test_erasing_the_account_resets_its_open_streams(
    server: Server, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    async with open_stream(server.url, alice.headers) as stream:
        await http.post("/tasks", json={"title": "mine"}, headers=alice.headers)
        await stream.next()
        assert (await http.delete("/auth/me", headers=alice.headers)).status_code == 204
        assert (await stream.next()).name == "reset"


async def test_streams_only_carry_their_own_users_changes(
    server: Server, http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    async with open_stream(server.url, alice.headers) as alices:
        await http.post("/tasks", json={"title": "bob's"}, headers=bob.headers)
        await http.post("/tasks", json={"title": "alice's"}, headers=alice.headers)
        assert (await alices.next()).json()["title"] == "alice's"
        assert await alices.nothing_within(0.5)


async def test_a_stream_says_no_store_and_sends_heartbeats(server: Server, alice: ApiUser) -> None:
    async with open_stream(server.url, alice.headers) as stream:
        await asyncio.sleep(2.5)
        headers = stream.response.headers
        comments = list(stream.comments)
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-store"
    assert headers["x-accel-buffering"] == "no"
    assert comments.count("keep-alive") >= 2


async def test_a_stream_ends_at_its_tokens_expiry(server: Server) -> None:
    token = make_token(lifetime=timedelta(seconds=2))
    started = time.monotonic()
    async with open_stream(server.url, bearer(token)) as stream:
        async with asyncio.timeout(5):
            await stream.ended.wait()
    assert time.monotonic() - started < 4.5


async def test_one_stream_too_many_is_429_until_one_closes(
    server: Server, http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    async with open_stream(server.url, alice.headers), open_stream(server.url, alice.headers):
        refused = await http.get("/events", headers=alice.headers)
        body = assert_problem(refused, 429)
        assert int(refused.headers["retry-after"]) >= 1
        assert "stream" in body["detail"]
        async with open_stream(server.url, bob.headers):
            pass
    # The slots free as soon as the service sees the clients gone.
    for _ in range(50):
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=10) as client,
            client.stream("GET", "/events", headers=alice.headers) as response,
        ):
            if response.status_code == 200:
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the closed streams' slots were never freed")


async def test_bad_requests_are_problems_and_open_nothing(
    http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser, new_user: Callable[[], ApiUser]
) -> None:
    unauthenticated = await http.get("/events")
    assert_problem(unauthenticated, 401)
    assert unauthenticated.headers["www-authenticate"].startswith("Bearer")
    assert_problem(await http.get("/events", headers=bearer("not-a-jwt")), 401)
    malformed = await http.get("/events", params={"since": "garbage"}, headers=alice.headers)
    assert assert_problem(malformed, 422)["errors"][0]["loc"] == ["query", "since"]
    bad_header = await http.get("/events", headers={**alice.headers, "Last-Event-ID": "x.y"})
    assert assert_problem(bad_header, 422)["errors"][0]["loc"] == ["header", "Last-Event-ID"]
    bobs = encode_sync_token(OpaqueTokens(TEST_SECRET), bob.sub, SyncPosition(0, utc_now()))
    assert_problem(await http.get("/events", params={"since": bobs}, headers=alice.headers), 422)
    too_long = await http.get("/events", params={"since": "a" * 5000}, headers=alice.headers)
    assert_problem(too_long, 422)
    # None of these took a stream slot.
    carol = new_user()
    async with open_stream(http.base_url.__str__(), carol.headers):
        pass


async def test_sigterm_ends_open_streams_at_once(
    database_url: str, tmp_path: Path, alice: ApiUser, bob: ApiUser
) -> None:
    env = events_server_environment(database_url)
    with running_server(tmp_path, env, "--no-migrate", "--graceful-timeout", "20") as own:
        async with (
            open_stream(own.url, alice.headers) as first,
            open_stream(own.url, alice.headers) as second,
            open_stream(own.url, bob.headers) as third,
        ):
            started = time.monotonic()
            own.process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(5):
                for stream in (first, second, third):
                    await stream.ended.wait()
            ended_in = time.monotonic() - started
            await asyncio.to_thread(own.process.wait, 10)
            exited_in = time.monotonic() - started
    assert ended_in < 1.0
    assert exited_in < 5.0
    log = own.log()
    assert "Application shutdown complete" in log
    assert "Cancel" not in log
    assert "Traceback" not in log


async def test_a_token_past_its_exp_opens_no_stream_even_within_the_leeway(
    http: httpx.AsyncClient,
) -> None:
    # The leeway (30 s) still accepts it for requests; a stream would end before it began.
    expired = bearer(make_token(lifetime=timedelta(seconds=-5)))
    assert (await http.get("/tasks", headers=expired)).status_code == 200
    refused = await http.get("/events", headers=expired)
    assert "exp" in assert_problem(refused, 401)["detail"]
