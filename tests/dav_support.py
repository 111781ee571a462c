"""Helpers of the CalDAV tests: requests in WebDAV's terms, answers read with ElementTree."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree

import httpx
from defusedxml.ElementTree import fromstring

from tests.conftest import ApiUser

D = "{DAV:}"
C = "{urn:ietf:params:xml:ns:caldav}"
CS = "{http://calendarserver.org/ns/}"


def home_of(user: ApiUser) -> str:
    return f"/dav/calendars/{user.sub}/"


def todo(uid: str | None = None, *lines: str, summary: str | None = "Buy milk") -> str:
    body = [f"UID:{uid or uuid.uuid4()}", "DTSTAMP:20261201T000000Z"]
    if summary is not None:
        body.append(f"SUMMARY:{summary}")
    body.extend(lines)
    inner = "\r\n".join(body)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n"
        f"BEGIN:VTODO\r\n{inner}\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
    )


@dataclass
class Multistatus:
    root: ElementTree.Element

    def hrefs(self) -> list[str]:
        return [r.findtext(f"{D}href") or "" for r in self.root.findall(f"{D}response")]

    def response(self, href_suffix: str) -> ElementTree.Element:
        for response in self.root.findall(f"{D}response"):
            if (response.findtext(f"{D}href") or "").endswith(href_suffix):
                return response
        raise AssertionError(f"no response for {href_suffix}: {self.hrefs()}")

    def prop(self, href_suffix: str, name: str) -> ElementTree.Element | None:
        for propstat in self.response(href_suffix).findall(f"{D}propstat"):
            if "200" in (propstat.findtext(f"{D}status") or ""):
                found = propstat.find(f"{D}prop/{name}")
                if found is not None:
                    return found
        return None

    def status(self, href_suffix: str) -> str:
        return self.response(href_suffix).findtext(f"{D}status") or ""

    def sync_token(self) -> str:
        return self.root.findtext(f"{D}sync-token") or ""


def multistatus(response: httpx.Response) -> Multistatus:
    assert response.status_code == 207, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return Multistatus(fromstring(response.content))


def propfind_body(*names: str) -> str:
    props = "".join(f'<{name.split("}")[1]} xmlns="{name[1:].split("}")[0]}"/>' for name in names)
    return f'<?xml version="1.0"?><propfind xmlns="DAV:"><prop>{props}</prop></propfind>'


class Dav:
    """A CalDAV client of one user, over the test app's HTTP client."""

    def __init__(self, client: httpx.AsyncClient, user: ApiUser) -> None:
        self.client = client
        self.user = user
        self.home = home_of(user)

    async def request(
        self, method: str, path: str, body: str = "", **headers: Any
    ) -> httpx.Response:
        return await self.client.request(
            method, path, content=body.encode(), headers={**self.user.headers, **headers}
        )

    async def propfind(self, path: str, *names: str, depth: str = "0") -> httpx.Response:
        return await self.request("PROPFIND", path, propfind_body(*names), Depth=depth)

    async def report(self, path: str, body: str) -> httpx.Response:
        return await self.request("REPORT", path, body, Depth="1")

    async def put(self, path: str, text: str, **headers: Any) -> httpx.Response:
        return await self.request("PUT", path, text, **{"Content-Type": "text/calendar", **headers})

    async def default_collection(self) -> str:
        found = multistatus(await self.propfind(self.home, f"{D}resourcetype", depth="1"))
        collections = [href for href in found.hrefs() if href != self.home]
        assert collections, found.hrefs()
        return collections[0]

    async def mkcalendar(self, segment: str, name: str) -> httpx.Response:
        body = (
            '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
            f"<D:displayname>{name}</D:displayname></D:prop></D:set></C:mkcalendar>"
        )
        return await self.request("MKCALENDAR", f"{self.home}{segment}/", body)


def sync_body(token: str = "", *names: str, limit: int | None = None) -> str:
    props = "".join(f'<{n.split("}")[1]} xmlns="{n[1:].split("}")[0]}"/>' for n in names) or (
        "<getetag/>"
    )
    limit_xml = "" if limit is None else f"<limit><nresults>{limit}</nresults></limit>"
    return (
        '<?xml version="1.0"?><sync-collection xmlns="DAV:">'
        f"<sync-token>{token}</sync-token><sync-level>1</sync-level>{limit_xml}"
        f"<prop>{props}</prop></sync-collection>"
    )


def multiget_body(*hrefs: str) -> str:
    links = "".join(f"<D:href>{href}</D:href>" for href in hrefs)
    return (
        '<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
        f"</D:prop>{links}</C:calendar-multiget>"
    )


def query_body(filter_xml: str) -> str:
    return (
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>'
        f'<C:filter><C:comp-filter name="VCALENDAR">{filter_xml}</C:comp-filter></C:filter>'
        "</C:calendar-query>"
    )


async def list_names(client: httpx.AsyncClient, user: ApiUser) -> list[str]:
    items = (await client.get("/lists", headers=user.headers)).json()["items"]
    return [item["name"] for item in items]
