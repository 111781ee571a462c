"""Hypothesis against CalDAV's inputs: any XML body, any iCalendar text, any resource name.
Never a 5xx; a refused PUT stores nothing; whatever a PUT accepts reads back."""

from __future__ import annotations

from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar, vText
from icalendar.parser import Contentline, Parameters

from tests.conftest import ApiUser
from tests.dav_support import C, Dav, multiget_body, multistatus, todo

FUZZ_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Pieces a hostile or broken client might put together.
XML_PIECES = st.sampled_from(
    [
        '<?xml version="1.0"?>',
        '<propfind xmlns="DAV:">',
        "</propfind>",
        "<prop>",
        "</prop>",
        "<getetag/>",
        '<C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:">',
        '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">',
        '<C:time-range start="20260101T000000Z" end="2026"/>',
        '<C:text-match collation="i;octet" negate-condition="yes">x</C:text-match>',
        '<C:prop-filter name="">',
        "<C:is-not-defined/>",
        "</C:comp-filter></C:comp-filter></C:filter>",
        '<D:sync-collection xmlns:D="DAV:"><D:sync-token>',
        "</D:sync-token><D:limit><D:nresults>-1</D:nresults></D:limit>",
        '<C:calendar-multiget xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:D="DAV:">',
        "<D:href>/dav/calendars/../../etc/passwd</D:href>",
        '<!DOCTYPE x [<!ENTITY e "e">]>',
        "&e;",
        "<![CDATA[x]]>",
        "\x00",
        "\ud800",
        "<",
        ">",
    ]
)
xml_bodies = st.one_of(
    st.lists(XML_PIECES, max_size=12).map("".join),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")),
)

ICAL_LINES = st.sampled_from(
    [
        "BEGIN:VCALENDAR",
        "END:VCALENDAR",
        "BEGIN:VTODO",
        "END:VTODO",
        "BEGIN:VEVENT",
        "END:VEVENT",
        "BEGIN:VALARM",
        "END:VALARM",
        "UID:fuzz",
        "UID:",
        "SUMMARY:x",
        "SUMMARY:" + "x" * 300,
        "DESCRIPTION:\\n\\,\\;",
        "PRIORITY:x",
        "PRIORITY:99",
        "PRIORITY:-1",
        "DUE:2026",
        "DUE;VALUE=DATE:20261301",
        "DUE;TZID=Nowhere/Else:20261201T100000",
        "DUE:99991231T235959Z",
        "STATUS:COMPLETED",
        "COMPLETED:garbage",
        "CATEGORIES:" + ",".join(f"t{n}" for n in range(30)),
        "CATEGORIES:\x01",
        "X-APPLE-SORT-ORDER:1",
        "RELATED-TO:fuzz",
        "RELATED-TO;RELTYPE=PARENT:%_\\",
        "RELATED-TO;RELTYPE=CHILD:fuzz",
        "RELATED-TO:" + "p" * 300,
        "RRULE:FREQ=DAILY;COUNT=2",
        "RRULE:FREQ=HOURLY",
        "RRULE:FREQ=WEEKLY;BYDAY=XX",
        "RRULE:FREQ=YEARLY;UNTIL=19000101",
        "DUE;TZID=Europe/Berlin:20261201T100000",
        " folded continuation",
        ":",
        ";;;",
    ]
)
ical_bodies = st.one_of(
    st.lists(ICAL_LINES, max_size=14).map("\r\n".join),
    st.text(max_size=300),
)
names = st.text(
    st.characters(codec="utf-8", exclude_characters="/\x00?#%"), min_size=1, max_size=300
)


async def count_tasks(client: httpx.AsyncClient, user: ApiUser) -> int:
    response = await client.get("/tasks", headers=user.headers)
    return int(response.json()["total"])


@FUZZ_SETTINGS
@given(body=xml_bodies, method=st.sampled_from(["PROPFIND", "REPORT", "PROPPATCH", "MKCALENDAR"]))
async def test_no_xml_body_breaks_the_server(
    client: httpx.AsyncClient, alice: ApiUser, body: str, method: str
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    target = collection if method != "MKCALENDAR" else f"{dav.home}fuzz-target/"
    response = await client.request(
        method,
        target,
        content=body.encode("utf-8", "surrogatepass"),
        headers={**alice.headers, "Depth": "1"},
    )
    assert response.status_code < 500, response.text
    if response.status_code == 201:
        assert (await dav.request("DELETE", target)).status_code == 204


@FUZZ_SETTINGS
@given(text=ical_bodies, name=names)
async def test_no_calendar_text_breaks_the_server_and_refusals_store_nothing(
    client: httpx.AsyncClient, alice: ApiUser, text: str, name: str
) -> None:
    dav = Dav(client, alice)
    path = (await dav.default_collection()) + quote(name, safe="")
    before = await count_tasks(client, alice)
    response = await client.put(
        path,
        content=text.encode("utf-8", "surrogatepass"),
        headers={**alice.headers, "Content-Type": "text/calendar"},
    )
    assert response.status_code < 500, response.text
    if response.status_code in (201, 204):
        got = await dav.request("GET", path)
        assert got.status_code == 200
        assert got.headers["etag"] == response.headers["etag"]
        assert (await dav.request("DELETE", path)).status_code == 204
    else:
        assert await count_tasks(client, alice) == before


@FUZZ_SETTINGS
# iCalendar TEXT carries no control characters (RFC 5545 section 3.3.11), nor XML 1.0 most.
@given(summary=st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=300))
async def test_any_accepted_summary_reads_back_through_a_multiget(
    client: httpx.AsyncClient, alice: ApiUser, summary: str
) -> None:
    dav = Dav(client, alice)
    collection = await dav.default_collection()
    line = Contentline.from_parts("SUMMARY", Parameters(), vText(summary))
    text = todo("s", str(line), summary=None)
    response = await dav.put(f"{collection}s.ics", text)
    assert response.status_code < 500, response.text
    if response.status_code in (201, 204):
        found = multistatus(await dav.report(collection, multiget_body(f"{collection}s.ics")))
        data = found.prop("s.ics", f"{C}calendar-data")
        assert data is not None
        assert str(Calendar.from_ical(data.text or "").walk("VTODO")[0]["SUMMARY"]) == summary
        assert (await dav.request("DELETE", f"{collection}s.ics")).status_code == 204
