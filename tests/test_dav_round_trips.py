"""CalDAV's reads cost one statement each, however many resources they answer for (observed
at the driver, as tests/test_round_trips.py does for the REST routes)."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ApiUser
from tests.dav_support import D, Dav, multiget_body, propfind_body, todo
from tests.test_round_trips import App, traced_app, traced_settings

__all__ = ["traced_app", "traced_settings"]


@pytest.mark.parametrize("members", [1, 30])
async def test_a_resource_get_and_a_collection_listing_are_one_statement_each(
    traced_app: tuple[httpx.AsyncClient, App], alice: ApiUser, members: int
) -> None:
    http, app = traced_app
    dav = Dav(http, alice)
    collection = await dav.default_collection()
    for number in range(members):
        assert (await dav.put(f"{collection}{number}.ics", todo(f"u{number}"))).status_code == 201
    requests = {
        "GET": lambda: dav.request("GET", f"{collection}0.ics"),
        "PROPFIND": lambda: dav.request(
            "PROPFIND", collection, propfind_body(f"{D}getetag"), Depth="1"
        ),
        "multiget": lambda: dav.report(
            collection, multiget_body(*(f"{collection}{n}.ics" for n in range(members)))
        ),
    }
    # PROPFIND: the collection with its counter, then its members; multiget: the
    # collection, then every named member.
    expected = {"GET": 1, "PROPFIND": 2, "multiget": 2}
    for name, send in requests.items():
        async with app.trace.observe() as observed:
            response = await send()
        assert response.status_code in (200, 207), response.text
        assert observed.round_trips == expected[name], (name, observed.statements)


async def test_a_put_finds_its_resource_parent_and_waiting_children_in_one_statement(
    traced_app: tuple[httpx.AsyncClient, App], alice: ApiUser, database_backend: str
) -> None:
    http, app = traced_app
    dav = Dav(http, alice)
    collection = await dav.default_collection()
    assert (await dav.put(f"{collection}p.ics", todo("p"))).status_code == 201
    # A parent named, unknown or unchanged, adds no statement to the look-up and the write.
    # Counted in the last of six rounds: the driver prepares a statement on its fifth use,
    # a round trip of its own.
    observed_counts: dict[str, int] = {}
    for round_number in range(6):
        puts = {
            "create": ("a", todo(f"a{round_number}"), 201),
            "update": ("a", todo(f"a{round_number}", summary="again"), 204),
            "unknown parent": ("b", todo(f"b{round_number}", "RELATED-TO:later"), 201),
            "new subtask": ("c", todo(f"c{round_number}", "RELATED-TO:p"), 201),
            "same parent": ("c", todo(f"c{round_number}", "RELATED-TO:p", "PRIORITY:1"), 204),
        }
        for name, (resource, text, status) in puts.items():
            async with app.trace.observe() as observed:
                response = await dav.put(f"{collection}{resource}{round_number}.ics", text)
            assert response.status_code == status, (name, response.text)
            observed_counts[name] = observed.round_trips
    plain = observed_counts.pop("create")
    subtask = observed_counts.pop("new subtask")
    assert observed_counts == dict.fromkeys(observed_counts, plain)
    if database_backend == "postgresql":
        assert plain == 3
    # A new subtask: its placement takes a transaction of its own (tasks/placement.py).
    assert subtask > plain
