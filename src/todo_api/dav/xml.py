"""Every piece of WebDAV XML: client bodies read into plain values, answers written out.

Client XML is parsed only by defusedxml, with DTDs, entity declarations and external
references refused: a body that tries any of them is malformed like any other (400), so no
billion-laughs expansion or file read can happen. Answers are written as text, element by
element, with fixed prefixes for the namespaces the service speaks: a multistatus of
thousands of resources is then one join of strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Literal
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape, quoteattr

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

DAV = "DAV:"
CALDAV = "urn:ietf:params:xml:ns:caldav"
CALENDARSERVER = "http://calendarserver.org/ns/"
APPLE = "http://apple.com/ns/ical/"
PREFIXES = {DAV: "D", CALDAV: "C", CALENDARSERVER: "CS", APPLE: "A"}
_DECLARATIONS = " ".join(f'xmlns:{prefix}="{uri}"' for uri, prefix in PREFIXES.items())
XML_MEDIA_TYPE = "application/xml; charset=utf-8"


def qname(namespace: str, local: str) -> str:
    """A property or element name as ElementTree spells it: `{namespace}local`."""
    return f"{{{namespace}}}{local}"


class DavXmlError(ValueError):
    """A body that is not the XML its method takes (400)."""


# --- reading ---------------------------------------------------------------------------


def parse(body: bytes) -> Element | None:
    """The root element of a client body, or None when the body is empty."""
    if not body.strip():
        return None
    try:
        root: Element = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, UnicodeError) as error:
        raise DavXmlError("The body is not well-formed XML, or declares a DTD.") from error
    return root


def _expect(root: Element | None, name: str) -> Element:
    if root is None or root.tag != name:
        raise DavXmlError(f"The body must be a {name.split('}')[-1]} element.")
    return root


@dataclass(frozen=True, slots=True)
class PropertyRequest:
    """Which properties a PROPFIND or REPORT asks for."""

    kind: Literal["prop", "allprop", "propname"]
    names: tuple[str, ...] = ()


ALL_PROPERTIES = PropertyRequest("allprop")


def _property_request(parent: Element) -> PropertyRequest:
    prop = parent.find(qname(DAV, "prop"))
    if prop is not None:
        return PropertyRequest("prop", tuple(child.tag for child in prop))
    if parent.find(qname(DAV, "propname")) is not None:
        return PropertyRequest("propname")
    return ALL_PROPERTIES


def read_propfind(body: bytes) -> PropertyRequest:
    root = parse(body)
    if root is None:
        return ALL_PROPERTIES
    return _property_request(_expect(root, qname(DAV, "propfind")))


@dataclass(frozen=True, slots=True)
class PropertyUpdate:
    """PROPPATCH or MKCALENDAR: each property set (with its text) or removed, in order."""

    set: tuple[tuple[str, str], ...] = ()
    remove: tuple[str, ...] = ()


def read_property_update(body: bytes, root_name: str) -> PropertyUpdate:
    root = parse(body)
    if root is None:
        if root_name == qname(DAV, "propertyupdate"):
            raise DavXmlError("PROPPATCH needs a propertyupdate body.")
        return PropertyUpdate()
    _expect(root, root_name)
    changes: list[tuple[str, str]] = []
    removals: list[str] = []
    for action in root:
        for prop in action.iter(qname(DAV, "prop")):
            for item in prop:
                if action.tag == qname(DAV, "set"):
                    changes.append((item.tag, "".join(item.itertext())))
                elif action.tag == qname(DAV, "remove"):
                    removals.append(item.tag)
    return PropertyUpdate(tuple(changes), tuple(removals))


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime | None
    end: datetime | None


@dataclass(frozen=True, slots=True)
class TextMatch:
    text: str
    collation: str = "i;ascii-casemap"
    negate: bool = False


@dataclass(frozen=True, slots=True)
class ParamFilter:
    name: str
    is_not_defined: bool = False
    text_match: TextMatch | None = None


@dataclass(frozen=True, slots=True)
class PropFilter:
    name: str
    is_not_defined: bool = False
    time_range: TimeRange | None = None
    text_match: TextMatch | None = None
    param_filters: tuple[ParamFilter, ...] = ()


@dataclass(frozen=True, slots=True)
class CompFilter:
    name: str
    is_not_defined: bool = False
    time_range: TimeRange | None = None
    prop_filters: tuple[PropFilter, ...] = ()
    comp_filters: tuple[CompFilter, ...] = ()


@dataclass(frozen=True, slots=True)
class Report:
    """A REPORT body: which report, the properties it asks for, and its own parts."""

    kind: Literal["calendar-multiget", "calendar-query", "sync-collection"]
    properties: PropertyRequest
    hrefs: tuple[str, ...] = ()
    filter: CompFilter | None = None
    sync_token: str = ""
    sync_level: str = "1"
    limit: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _utc(value: str | None) -> datetime | None:
    # RFC 4791 section 9.9: "date with UTC time" values, e.g. 20261201T000000Z.
    if value is None:
        return None
    try:
        return datetime.strptime(value.strip(), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise DavXmlError("A time-range bound must be a UTC date-time.") from None


def _time_range(parent: Element) -> TimeRange | None:
    element = parent.find(qname(CALDAV, "time-range"))
    if element is None:
        return None
    bounds = TimeRange(_utc(element.get("start")), _utc(element.get("end")))
    if bounds.start is None and bounds.end is None:
        raise DavXmlError("A time-range needs a start or an end.")
    return bounds


def _text_match(parent: Element) -> TextMatch | None:
    element = parent.find(qname(CALDAV, "text-match"))
    if element is None:
        return None
    return TextMatch(
        text="".join(element.itertext()),
        collation=element.get("collation", "i;ascii-casemap"),
        negate=element.get("negate-condition", "no") == "yes",
    )


def _name_of(element: Element) -> str:
    name = element.get("name")
    if not name:
        raise DavXmlError("A filter element needs a name.")
    return name.upper()


def _defined(element: Element) -> bool:
    return element.find(qname(CALDAV, "is-not-defined")) is not None


def _prop_filter(element: Element) -> PropFilter:
    return PropFilter(
        name=_name_of(element),
        is_not_defined=_defined(element),
        time_range=_time_range(element),
        text_match=_text_match(element),
        param_filters=tuple(
            ParamFilter(_name_of(child), _defined(child), _text_match(child))
            for child in element.findall(qname(CALDAV, "param-filter"))
        ),
    )


def _comp_filter(element: Element, depth: int = 0) -> CompFilter:
    if depth > 8:
        raise DavXmlError("Filters nest too deep.")
    return CompFilter(
        name=_name_of(element),
        is_not_defined=_defined(element),
        time_range=_time_range(element),
        prop_filters=tuple(
            _prop_filter(child) for child in element.findall(qname(CALDAV, "prop-filter"))
        ),
        comp_filters=tuple(
            _comp_filter(child, depth + 1)
            for child in element.findall(qname(CALDAV, "comp-filter"))
        ),
    )


def read_report(body: bytes) -> Report:
    root = parse(body)
    if root is None:
        raise DavXmlError("REPORT needs a body.")
    properties = _property_request(root)
    if root.tag == qname(CALDAV, "calendar-multiget"):
        hrefs = tuple((href.text or "").strip() for href in root.findall(qname(DAV, "href")))
        return Report("calendar-multiget", properties, hrefs=hrefs)
    if root.tag == qname(CALDAV, "calendar-query"):
        filter_element = root.find(qname(CALDAV, "filter"))
        top = None if filter_element is None else filter_element.find(qname(CALDAV, "comp-filter"))
        return Report(
            "calendar-query", properties, filter=None if top is None else _comp_filter(top)
        )
    if root.tag == qname(DAV, "sync-collection"):
        token = root.findtext(qname(DAV, "sync-token"), default="").strip()
        level = root.findtext(qname(DAV, "sync-level"), default="1").strip()
        limit_text = root.findtext(f"{qname(DAV, 'limit')}/{qname(DAV, 'nresults')}")
        limit = None
        if limit_text is not None:
            if not limit_text.strip().isdigit():
                raise DavXmlError("DAV:nresults must be a whole number.")
            limit = int(limit_text.strip())
        return Report(
            "sync-collection", properties, sync_token=token, sync_level=level, limit=limit
        )
    raise DavXmlError("This REPORT is not supported here.")


# --- writing ---------------------------------------------------------------------------


def _tag(name: str) -> tuple[str, str]:
    """The opening and closing text of an element named `{namespace}local` (an element of an
    unknown namespace declares it on itself)."""
    namespace, _, local = name[1:].partition("}") if name.startswith("{") else ("", "", name)
    prefix = PREFIXES.get(namespace)
    if prefix is not None:
        return f"<{prefix}:{local}", f"</{prefix}:{local}>"
    return f"<X:{local} xmlns:X={quoteattr(namespace)}", f"</X:{local}>"


def element(name: str, inner: str = "") -> str:
    """An element whose content is already XML (`inner`), or empty."""
    opening, closing = _tag(name)
    return f"{opening}/>" if not inner else f"{opening}>{inner}{closing}"


# Characters XML 1.0 cannot carry even escaped (a description may hold them): replaced.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def escape_text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def text_element(name: str, text: str) -> str:
    opening, closing = _tag(name)
    return f"{opening}>{escape_text(text)}{closing}"


def href(path: str) -> str:
    return text_element(qname(DAV, "href"), path)


def _status(code: int) -> str:
    return text_element(qname(DAV, "status"), f"HTTP/1.1 {code} {HTTPStatus(code).phrase}")


def propstat(properties: Iterable[str], code: int) -> str:
    inner = element(qname(DAV, "prop"), "".join(properties))
    return element(qname(DAV, "propstat"), inner + _status(code))


def response(path: str, found: Iterable[str], missing: Iterable[str] = ()) -> str:
    """One resource of a multistatus: the properties found (each rendered) with 200, the
    names of those it does not have with 404."""
    parts = [href(path)]
    found_text = "".join(found)
    if found_text:
        parts.append(propstat([found_text], 200))
    missing_text = "".join(element(name) for name in missing)
    if missing_text:
        parts.append(propstat([missing_text], 404))
    return element(qname(DAV, "response"), "".join(parts))


def status_response(path: str, code: int) -> str:
    """A resource known only by its status (a deleted member, a multiget miss)."""
    return element(qname(DAV, "response"), href(path) + _status(code))


def truncated_response(path: str) -> str:
    """RFC 6578's mark of a sync report cut at the client's DAV:limit."""
    error = element(qname(DAV, "error"), element(qname(DAV, "number-of-matches-within-limits")))
    return element(qname(DAV, "response"), href(path) + _status(507) + error)


def property_statuses(path: str, statuses: Iterable[tuple[str, int]]) -> str:
    """PROPPATCH's answer: each property named with its own status."""
    parts = [href(path)]
    parts.extend(propstat([element(name)], code) for name, code in statuses)
    return element(qname(DAV, "response"), "".join(parts))


def multistatus(responses: Iterable[str], *, sync_token: str | None = None) -> bytes:
    parts = [f'<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus {_DECLARATIONS}>']
    parts.extend(responses)
    if sync_token is not None:
        parts.append(text_element(qname(DAV, "sync-token"), sync_token))
    parts.append("</D:multistatus>")
    return "".join(parts).encode()


def error_body(condition: str, description: str | None = None) -> bytes:
    """An RFC 4918 error body naming the precondition that failed."""
    inner = element(condition)
    if description:
        inner += text_element(qname(CALDAV, "description"), description)
    return (
        f'<?xml version="1.0" encoding="utf-8"?>\n<D:error {_DECLARATIONS}>{inner}</D:error>'
    ).encode()
