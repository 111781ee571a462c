"""Live updates across instances on one PostgreSQL, and a listener whose connection is cut."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import bearer, make_token
from tests.event_streams import events_server_environment, open_stream
from tests.servers import running_server, running_servers
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.server


async def test_a_change_through_one_instance_reaches_a_stream_on_another(
    tmp_path: Path, migrated_postgres_url: str
) -> None:
    headers = bearer(make_token())
    env = events_server_environment(migrated_postgres_url)
    with running_servers(tmp_path, env, "--no-migrate", count=2) as (first, second):
        async with (
            open_stream(second.url, headers) as stream,
            httpx.AsyncClient(base_url=first.url, timeout=10) as http,
        ):
            started = time.monotonic()
            made = await http.post("/tasks", json={"title": "over there"}, headers=headers)
            event = await stream.next(within=1.0)
            assert time.monotonic() - started < 1.0
            assert event.json() == made.json()
            # A ticket made by one instance opens a stream on the other, once: the other
            # instance refuses it afterwards.
            ticket = (await http.post("/events/tickets", headers=headers)).json()["ticket"]
            async with open_stream(second.url, params={"ticket": ticket}):
                pass
            reused = await http.get("/events", params={"ticket": ticket})
            assert reused.status_code == 401


async def test_nothing_is_lost_while_the_listeners_connection_is_cut(
    tmp_path: Path, migrated_postgres_url: str, proxy: TcpProxy
) -> None:
    headers = bearer(make_token())
    # Requests reach PostgreSQL directly; only the listener goes through the proxy.
    env = events_server_environment(
        migrated_postgres_url, DATABASE_LISTEN_URL=proxy.url_for(migrated_postgres_url)
    )
    with running_server(tmp_path, env, "--no-migrate") as server:
        async with (
            open_stream(server.url, headers) as stream,
            httpx.AsyncClient(base_url=server.url, timeout=10) as http,
        ):
            await http.post("/tasks", json={"title": "before"}, headers=headers)
            assert (await stream.next()).json()["title"] == "before"
            # A network that drops every packet: nothing is closed, nothing answers.
            proxy.cut(refuse_new=False)
            titles = [f"during {number}" for number in range(3)]
            for title in titles:
                made = await http.post("/tasks", json={"title": title}, headers=headers)
                assert made.status_code == 201
            # Unheard: the listener's connection is silent, until its ping finds out.
            for _ in range(200):
                if "listener lost its connection" in server.log():
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the listener never noticed the silent network")
            proxy.restore()
            caught_up = await stream.take(3, within=10)
            assert [event.json()["title"] for event in caught_up] == titles
            await http.post("/tasks", json={"title": "after"}, headers=headers)
            assert (await stream.next()).json()["title"] == "after"
    log = server.log()
    assert "live updates listener lost its connection; reconnecting" in log
    assert "Traceback" not in log


async def test_the_listener_says_where_it_listens_without_the_password(
    tmp_path: Path, migrated_postgres_url: str
) -> None:
    with_password = make_url(migrated_postgres_url).set(password="s3cret-pw")
    url = with_password.render_as_string(hide_password=False)
    env = events_server_environment(migrated_postgres_url, DATABASE_LISTEN_URL=url)
    with running_server(tmp_path, env, "--no-migrate") as server:
        await asyncio.sleep(0.3)
        log = server.log()
    assert "live updates listen for changes" in log
    assert "DATABASE_LISTEN_URL" in log
    assert "s3cret-pw" not in log


async def test_a_stream_outlives_a_database_outage_and_carries_on(
    tmp_path: Path, migrated_postgres_url: str, proxy: TcpProxy
) -> None:
    headers = bearer(make_token())
    env = events_server_environment(proxy.url_for(migrated_postgres_url))
    with running_server(tmp_path, env, "--no-migrate") as server:
        async with (
            open_stream(server.url, headers) as stream,
            httpx.AsyncClient(base_url=server.url, timeout=15) as http,
        ):
            proxy.cut()
            heard = len(stream.comments)
            await asyncio.sleep(3)
            # Still open, still sending its comment lines.
            assert not stream.ended.is_set()
            assert len(stream.comments) >= heard + 2
            proxy.restore()
            for _ in range(100):
                made = await http.post("/tasks", json={"title": "back"}, headers=headers)
                if made.status_code == 201:
                    break
                await asyncio.sleep(0.2)
            assert made.status_code == 201
            assert (await stream.next(within=15)).json() == made.json()
    assert "Traceback" not in server.log()
