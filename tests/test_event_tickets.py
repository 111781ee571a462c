"""Tickets for browsers' EventSource: `POST /events/tickets`, then `GET /events?ticket=`."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.conftest import TEST_SECRET, ApiUser, assert_problem, bearer, make_token
from tests.event_streams import events_server_environment, open_stream
from tests.servers import Server, running_server
from todo_api import pruning
from todo_api.database import Database, utc_now
from todo_api.events.models import used_event_tickets_table as used_tickets
from todo_api.events.repository import TicketRepository
from todo_api.events.tickets import Ticket, seal_ticket
from todo_api.opaque_tokens import OpaqueTokens
from todo_api.settings import Settings

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("tickets")
    with running_server(folder, events_server_environment(database_url), "--no-migrate") as up:
        yield up


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


async def ticket_for(http: httpx.AsyncClient, headers: dict[str, str]) -> str:
    response = await http.post("/events/tickets", headers=headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["expires_in"] == 60
    assert set(body) == {"ticket", "expires_in"}
    ticket: str = body["ticket"]
    return ticket


def forged(owner: str, *, secret: str = TEST_SECRET, expires_in: float = 60) -> str:
    expires_at = utc_now() + timedelta(seconds=expires_in)
    stream_until = int(time.time()) + 300
    ticket = Ticket(uuid.uuid4(), owner, expires_at, stream_until)
    return seal_ticket(OpaqueTokens(secret), ticket)


async def test_a_ticket_opens_its_users_stream_once(
    server: Server, http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    ticket = await ticket_for(http, alice.headers)
    async with open_stream(server.url, params={"ticket": ticket}) as stream:
        await http.post("/tasks", json={"title": "bob's"}, headers=bob.headers)
        made = await http.post("/tasks", json={"title": "from elsewhere"}, headers=alice.headers)
        event = await stream.next()
        assert event.json() == made.json()
        assert await stream.nothing_within(0.5)
    again = await http.get("/events", params={"ticket": ticket})
    assert_problem(again, 401)
    assert again.headers["www-authenticate"].startswith("Bearer")


async def test_expired_forged_and_tampered_tickets_are_refused(
    http: httpx.AsyncClient, alice: ApiUser
) -> None:
    genuine = await ticket_for(http, alice.headers)
    body, mac = genuine.split(".")
    tampered = f"{body}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}"
    for ticket in (
        forged(alice.sub, expires_in=-1),
        forged(alice.sub, secret="another-secret-that-is-long-enough-to-be-used"),
        tampered,
        "garbage",
        "",
    ):
        assert_problem(await http.get("/events", params={"ticket": ticket}), 401)
    # The genuine one was not spent by its neighbours' failures.
    assert (await http.get("/events", params={"ticket": "x" * 3000})).status_code == 422
    async with open_stream(str(http.base_url), params={"ticket": genuine}):
        pass


async def test_a_ticket_speaks_for_its_user_only(
    server: Server, http: httpx.AsyncClient, alice: ApiUser, bob: ApiUser
) -> None:
    alices = await ticket_for(http, alice.headers)
    # With someone else's bearer token beside it, the ticket is refused (and spent).
    mixed = await http.get("/events", params={"ticket": alices}, headers=bob.headers)
    assert_problem(mixed, 401)
    # A ticket is not a bearer token, nor the other way round.
    bobs = await ticket_for(http, bob.headers)
    assert_problem(await http.get("/events", headers=bearer(bobs)), 401)
    assert_problem(await http.get("/events", params={"ticket": make_token(alice.sub)}), 401)
    # A ticket made for alice and presented with her own token is fine.
    matching = await ticket_for(http, alice.headers)
    async with open_stream(server.url, alice.headers, {"ticket": matching}):
        pass


async def test_a_tickets_stream_ends_at_the_exp_of_the_token_that_asked(
    server: Server, http: httpx.AsyncClient
) -> None:
    short = bearer(make_token(lifetime=timedelta(seconds=2)))
    ticket = await ticket_for(http, short)
    started = time.monotonic()
    async with open_stream(server.url, params={"ticket": ticket}) as stream:
        async with asyncio.timeout(5):
            await stream.ended.wait()
    assert time.monotonic() - started < 4.5


async def test_asking_for_a_ticket_needs_a_valid_token(http: httpx.AsyncClient) -> None:
    assert_problem(await http.post("/events/tickets"), 401)
    assert_problem(await http.post("/events/tickets", headers=bearer("nope")), 401)


async def test_no_log_line_holds_a_ticket_or_a_token(
    server: Server, http: httpx.AsyncClient, alice: ApiUser
) -> None:
    ticket = await ticket_for(http, alice.headers)
    async with open_stream(server.url, params={"ticket": ticket}):
        pass
    await http.get("/events", params={"ticket": ticket})
    await asyncio.sleep(0.2)
    log = server.log()
    assert "/events" in log
    assert ticket not in log
    assert ticket.split(".")[1] not in log
    assert alice.headers["Authorization"].removeprefix("Bearer ") not in log


async def test_the_records_of_used_tickets_go_once_they_expire(
    settings_factory: Callable[..., Settings],
) -> None:
    now = utc_now()
    spent, fresh = uuid.uuid4(), uuid.uuid4()
    database = Database(settings_factory())
    try:
        repository = TicketRepository(database)
        assert await repository.mark_used(spent, now - timedelta(seconds=1))
        assert await repository.mark_used(fresh, now + timedelta(seconds=60))
        # Used is used, whoever asks.
        assert not await repository.mark_used(fresh, now + timedelta(seconds=60))
        deleted = await pruning.prune_once(database, now)
        async with database.connect() as connection:
            left = set(
                (
                    await connection.scalars(
                        select(used_tickets.c.ticket_id).where(
                            used_tickets.c.ticket_id.in_([spent, fresh])
                        )
                    )
                ).all()
            )
    finally:
        await database.dispose()
    assert deleted["used_event_tickets"] >= 1
    assert left == {fresh}
