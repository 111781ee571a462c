"""CalDAV at its edges: body limits, erasure, the switch, HEAD and conditional GET, names
that need escaping, on every backend."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, unquote

import httpx

from tests.conftest import ApiUser, assert_problem
from tests.dav_support import D, Dav, list_names, multistatus, todo
from tests.servers import serving
from todo_api.settings import Settings


async def test_a_body_over_the_limit_is_413_and_stores_nothing(
    settings_factory: Callable[..., Settings], alice: ApiUser
) -> None:
    async with serving(settings_factory(max_body_bytes=2000)) as client:
        dav = Dav(client, alice)
        collection = await dav.default_collection()
        big = todo("big", f"DESCRIPTION:{'x' * 3000}")
        response = await dav.put(f"{collection}big.ics", big)
        assert_problem(response, 413)
        assert (await client.get("/tasks", headers=alice.headers)).json()["items"] == []


async def test_dav_can_be_switched_off(
    settings_factory: Callable[..., Settings], alice: ApiUser
) -> None:
    async with serving(settings_factory(dav_enabled=False)) as client:
        assert_problem(await client.get("/.well-known/caldav"), 404)
        response = await client.request("PROPFIND", "/dav/", headers=alice.headers)
        assert response.status_code in (404, 405)


async def test_erasure_takes_the_calendars_and_their_resources(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    assert (await dav.mkcalendar("chores", "Chores")).status_code == 201
    assert (await dav.put(f"{dav.home}chores/a.ics", todo("a"))).status_code == 201
    assert (await client.delete("/auth/me", headers=alice.headers)).status_code == 204
    found = multistatus(await dav.propfind(dav.home, f"{D}displayname", depth="1"))
    assert len(found.hrefs()) == 2
    assert await list_names(client, alice) == ["Tasks"]
    assert_problem(await dav.request("GET", f"{dav.home}chores/a.ics"), 404)
    # The address is free again.
    assert (await dav.mkcalendar("chores", "Chores")).status_code == 201


async def test_head_and_conditional_get(client: httpx.AsyncClient, alice: ApiUser) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    etag = (await dav.put(f"{collection}h.ics", todo("h"))).headers["etag"]
    head = await dav.request("HEAD", f"{collection}h.ics")
    assert head.status_code == 200
    assert head.headers["etag"] == etag
    assert head.content == b""
    cached = await dav.request("GET", f"{collection}h.ics", **{"If-None-Match": etag})
    assert cached.status_code == 304


async def test_names_that_need_escaping_round_trip(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    segment, name = "Einkäufe & mehr", "tâche @home #1.ics"
    assert (await dav.mkcalendar(quote(segment, safe=""), "Einkäufe")).status_code == 201
    collection = f"{dav.home}{quote(segment, safe='')}/"
    path = f"{collection}{quote(name, safe='')}"
    assert (await dav.put(path, todo("esc"))).status_code == 201
    found = multistatus(await dav.propfind(collection, f"{D}getetag", depth="1"))
    member = [href for href in found.hrefs() if unquote(href) != unquote(collection)]
    assert len(member) == 1
    assert (await dav.request("GET", member[0])).status_code == 200


async def test_a_task_moved_to_another_list_moves_between_calendars(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    assert (await dav.mkcalendar("later", "Later")).status_code == 201
    assert (await dav.put(f"{collection}m.ics", todo("m", "X-KEPT:yes"))).status_code == 201
    task = (await client.get("/tasks", headers=alice.headers)).json()["items"][0]
    later = next(
        item
        for item in (await client.get("/lists", headers=alice.headers)).json()["items"]
        if item["name"] == "Later"
    )
    moved = await client.patch(
        f"/tasks/{task['id']}", json={"list_id": later["id"]}, headers=alice.headers
    )
    assert moved.status_code == 200
    assert_problem(await dav.request("GET", f"{collection}m.ics"), 404)
    got = await dav.request("GET", f"{dav.home}later/m.ics")
    assert got.status_code == 200
    assert "X-KEPT:yes" in got.text


async def test_a_put_into_a_missing_calendar_is_409(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    assert_problem(await dav.put(f"{dav.home}nowhere/x.ics", todo("x")), 409)
    assert (await client.get("/tasks", headers=alice.headers)).json()["items"] == []
