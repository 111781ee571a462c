"""CalDAV REPORTs: calendar-multiget, calendar-query, sync-collection, on every backend."""

from __future__ import annotations

import httpx

from tests.conftest import ApiUser, TaskFactory
from tests.dav_support import (
    C,
    D,
    Dav,
    multiget_body,
    multistatus,
    query_body,
    sync_body,
    todo,
)


async def test_multiget_returns_each_named_resource_and_404_for_the_rest(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    task = await create_task(alice, title="From REST")
    assert (await dav.put(f"{collection}one.ics", todo("one"))).status_code == 201
    hrefs = (f"{collection}one.ics", f"{collection}{task['id']}.ics", f"{collection}gone.ics")
    found = multistatus(await dav.report(collection, multiget_body(*hrefs)))
    assert found.hrefs() == list(hrefs)
    data = found.prop("one.ics", f"{C}calendar-data")
    assert data is not None
    assert "UID:one" in (data.text or "")
    rest = found.prop(f"{task['id']}.ics", f"{C}calendar-data")
    assert "SUMMARY:From REST" in (rest.text or "")  # type: ignore[union-attr]
    etag = found.prop(f"{task['id']}.ics", f"{D}getetag")
    assert etag is not None
    assert etag.text == task["etag"]
    assert "404" in found.status("gone.ics")


async def test_calendar_query_filters(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    await dav.put(
        f"{collection}open.ics",
        todo("open", "DUE:20991210T120000Z", "STATUS:NEEDS-ACTION", summary="Open"),
    )
    await dav.put(
        f"{collection}done.ics",
        todo("done", "STATUS:COMPLETED", "COMPLETED:20261201T100000Z", summary="Done"),
    )
    await dav.put(f"{collection}undated.ics", todo("undated", summary="Undated Milk"))

    async def names(filter_xml: str) -> set[str]:
        found = multistatus(await dav.report(collection, query_body(filter_xml)))
        return {href.rsplit("/", 1)[-1] for href in found.hrefs()}

    every = {"open.ics", "done.ics", "undated.ics"}
    assert await names('<C:comp-filter name="VTODO"/>') == every
    assert await names('<C:comp-filter name="VEVENT"/>') == set()
    not_completed = (
        '<C:comp-filter name="VTODO"><C:prop-filter name="COMPLETED">'
        "<C:is-not-defined/></C:prop-filter></C:comp-filter>"
    )
    assert await names(not_completed) == {"open.ics", "undated.ics"}
    status_not_completed = (
        '<C:comp-filter name="VTODO"><C:prop-filter name="STATUS">'
        '<C:text-match negate-condition="yes">COMPLETED</C:text-match>'
        "</C:prop-filter></C:comp-filter>"
    )
    # A text-match needs the property: the task that sent no STATUS does not match.
    assert await names(status_not_completed) == {"open.ics"}
    milk = (
        '<C:comp-filter name="VTODO"><C:prop-filter name="SUMMARY">'
        "<C:text-match>milk</C:text-match></C:prop-filter></C:comp-filter>"
    )
    assert await names(milk) == {"undated.ics"}

    def within(start: str, end: str) -> str:
        return (
            f'<C:comp-filter name="VTODO"><C:time-range start="{start}" end="{end}"/>'
            "</C:comp-filter>"
        )

    # RFC 4791 section 9.9: the dated task by its DUE; a task with neither DUE nor DTSTART
    # by COMPLETED and CREATED (the completed one), or by CREATED alone (the open undated
    # one, created now, overlaps every range that ends later).
    assert await names(within("20991209T000000Z", "20991211T000000Z")) == {
        "open.ics",
        "undated.ics",
    }
    assert await names(within("20261130T000000Z", "20261202T000000Z")) == {"done.ics"}
    assert await names(within("20010101T000000Z", "20020101T000000Z")) == set()
    unknown = (
        '<C:comp-filter name="VTODO"><C:prop-filter name="SUMMARY">'
        '<C:text-match collation="i;klingon">x</C:text-match></C:prop-filter></C:comp-filter>'
    )
    response = await dav.report(collection, query_body(unknown))
    assert response.status_code == 403
    assert b"supported-collation" in response.content


async def test_sync_collection_reports_changes_and_deletions_in_commit_order(
    client: httpx.AsyncClient, alice: ApiUser, create_task: TaskFactory
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    kept = await create_task(alice, title="kept")
    await dav.put(f"{collection}a.ics", todo("a"))
    first = multistatus(await dav.report(collection, sync_body("")))
    assert {h.rsplit("/", 1)[-1] for h in first.hrefs()} == {f"{kept['id']}.ics", "a.ics"}
    token = first.sync_token()
    assert token
    nothing = multistatus(await dav.report(collection, sync_body(token)))
    assert nothing.hrefs() == []
    # A REST change, a CalDAV creation and a CalDAV deletion since the token.
    await client.patch(f"/tasks/{kept['id']}", json={"title": "changed"}, headers=alice.headers)
    await dav.put(f"{collection}b.ics", todo("b"))
    assert (await dav.request("DELETE", f"{collection}a.ics")).status_code == 204
    later = multistatus(await dav.report(collection, sync_body(token)))
    assert [h.rsplit("/", 1)[-1] for h in later.hrefs()] == [f"{kept['id']}.ics", "b.ics", "a.ics"]
    assert "404" in later.status("/a.ics")
    assert later.prop("/b.ics", f"{D}getetag") is not None
    assert later.sync_token() != token
    # A task moved to another list leaves this collection.
    other = (await client.post("/lists", json={"name": "Other"}, headers=alice.headers)).json()
    moved = await client.patch(
        f"/tasks/{kept['id']}", json={"list_id": other["id"]}, headers=alice.headers
    )
    assert moved.status_code == 200
    after_move = multistatus(await dav.report(collection, sync_body(later.sync_token())))
    assert "404" in after_move.status(f"{kept['id']}.ics")


async def test_sync_collection_honours_the_limit(client: httpx.AsyncClient, alice: ApiUser) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    start = multistatus(await dav.report(collection, sync_body(""))).sync_token()
    for number in range(5):
        await dav.put(f"{collection}{number}.ics", todo(f"u{number}"))
    seen: list[str] = []
    token = start
    for _ in range(10):
        page = multistatus(await dav.report(collection, sync_body(token, limit=2)))
        names = [h.rsplit("/", 1)[-1] for h in page.hrefs()]
        truncated = any(h.rstrip("/") == collection.rstrip("/") for h in page.hrefs())
        seen.extend(name for name in names if name.endswith(".ics"))
        token = page.sync_token()
        if not truncated:
            break
    assert seen == [f"{number}.ics" for number in range(5)]


async def test_unknown_or_expired_sync_tokens_are_403_valid_sync_token(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    for token in ("nonsense", "urn:x-todo-api:sync:99999:1796600000", "urn:x-todo-api:sync:1:1"):
        response = await dav.report(collection, sync_body(token))
        assert response.status_code == 403, token
        assert b"valid-sync-token" in response.content


async def test_calendar_query_on_categories_and_a_task_with_a_start(
    client: httpx.AsyncClient, alice: ApiUser
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    started = todo("s", "DTSTART:20300105T090000Z", "DUE:20300110T090000Z", "CATEGORIES:Garden")
    await dav.put(f"{collection}started.ics", started)
    await dav.put(f"{collection}plain.ics", todo("p", "CATEGORIES:Work,Home"))

    async def names(filter_xml: str) -> set[str]:
        found = multistatus(await dav.report(collection, query_body(filter_xml)))
        return {href.rsplit("/", 1)[-1] for href in found.hrefs()}

    garden = (
        '<C:comp-filter name="VTODO"><C:prop-filter name="CATEGORIES">'
        "<C:text-match>garden</C:text-match></C:prop-filter></C:comp-filter>"
    )
    assert await names(garden) == {"started.ics"}
    # DTSTART with DUE: the task spans 5 to 10 January 2030.
    inside = (
        '<C:comp-filter name="VTODO">'
        '<C:time-range start="20300107T000000Z" end="20300108T000000Z"/></C:comp-filter>'
    )
    assert "started.ics" in await names(inside)
    after = (
        '<C:comp-filter name="VTODO">'
        '<C:time-range start="20300111T000000Z" end="20300112T000000Z"/></C:comp-filter>'
    )
    assert "started.ics" not in await names(after)
    due_in_range = (
        '<C:comp-filter name="VTODO"><C:prop-filter name="DUE">'
        '<C:time-range start="20300110T000000Z" end="20300111T000000Z"/>'
        "</C:prop-filter></C:comp-filter>"
    )
    assert await names(due_in_range) == {"started.ics"}
