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
