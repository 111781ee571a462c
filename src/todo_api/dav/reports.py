"""REPORTs on a calendar collection: calendar-multiget, calendar-query, sync-collection.

Each reads the collection's tasks in one statement (a multiget: one per CHUNK names; a
sync: the counter, then the changes), never one per resource, and renders each task once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from icalendar import Calendar

from todo_api.database import utc_now
from todo_api.dav import paths, properties
from todo_api.dav.filters import UnsupportedCollationError, every_task_matches, matches
from todo_api.dav.service import DavPreconditionError, DavService, sync_token
from todo_api.dav.xml import (
    CALDAV,
    DAV,
    Report,
    multistatus,
    status_response,
    truncated_response,
)
from todo_api.tasks.repository import AnyRow


async def run_report(service: DavService, subject: str, segment: str, report: Report) -> bytes:
    collection = await service.collection(segment)
    with_data = properties.wants_data(report.properties)
    if report.kind == "calendar-multiget":
        return await _multiget(service, subject, segment, collection, report, with_data)
    if report.kind == "calendar-query":
        if every_task_matches(report.filter):
            # "All my tasks" (Thunderbird's listing): every member matches, unparsed.
            rows = await service.members(collection, with_data=with_data)
            return multistatus(_answers(subject, segment, rows, report))
        rows = await service.members(collection, with_data=True)
        try:
            chosen = [row for row in rows if _matches(row, report)]
        except UnsupportedCollationError:
            raise DavPreconditionError(
                CALDAV, "supported-collation", "Collations: i;ascii-casemap, i;octet."
            ) from None
        return multistatus(_answers(subject, segment, chosen, report))
    return await _sync(service, subject, segment, collection, report, with_data)


def _matches(row: AnyRow, report: Report) -> bool:
    if report.filter is None:
        return True
    calendar = Calendar.from_ical(properties.task_document(row))
    return matches(calendar, report.filter)


def _answers(subject: str, segment: str, rows: list[AnyRow], report: Report) -> Iterator[str]:
    for row in rows:
        path, values = properties.task(subject, segment, row)
        yield properties.answer(path, values, report.properties)


async def _multiget(
    service: DavService,
    subject: str,
    segment: str,
    collection: AnyRow,
    report: Report,
    with_data: bool,
) -> bytes:
    collection_path = paths.collection(subject, segment)
    wanted: list[tuple[str, str | None]] = []
    for href in report.hrefs:
        path = unquote(urlsplit(href).path)
        inside = (
            path.startswith(unquote(collection_path))
            and "/" not in path[len(unquote(collection_path)) :]
        )
        wanted.append((href, path[len(unquote(collection_path)) :] if inside else None))
    names = [name for _href, name in wanted if name]
    rows = await service.named(collection, names, with_data=with_data)
    by_name = {paths.resource_name(row.id, row.dav_name): row for row in rows}

    def answers() -> Iterator[str]:
        for href, name in wanted:
            row = by_name.get(name) if name else None
            if row is None:
                yield status_response(href, 404)
                continue
            path, values = properties.task(subject, segment, row)
            yield properties.answer(path, values, report.properties)

    return multistatus(answers())


async def _sync(
    service: DavService,
    subject: str,
    segment: str,
    collection: AnyRow,
    report: Report,
    with_data: bool,
) -> bytes:
    if report.sync_level not in ("1", "infinite", "infinity"):
        raise DavPreconditionError(DAV, "valid-sync-level", "sync-level is 1 here.", 400)
    start = service.sync_start(report.sync_token)
    counter, changed, gone = await service.changes(collection, start, with_data=with_data)
    # (number, row, whether it left the collection), in the order the changes committed.
    entries: list[tuple[int, AnyRow, bool]] = sorted(
        [(int(row.etag.strip('"')), row, False) for row in changed]
        + [(int(row[2]), row, True) for row in gone],
        key=lambda entry: entry[0],
    )
    reached, issued, truncated = counter, utc_now(), False
    if report.limit is not None and len(entries) > report.limit:
        entries, reached, truncated = _cut(entries, report.limit)
        issued = start.issued
    collection_path = paths.collection(subject, segment)

    def answers() -> Iterator[str]:
        for _seq, row, left in entries:
            if left:
                name = paths.resource_name(row[0], row[1])
                yield status_response(paths.resource(subject, segment, name), 404)
                continue
            path, values = properties.task(subject, segment, row)
            yield properties.answer(path, values, report.properties)
        if truncated:
            yield truncated_response(collection_path)

    return multistatus(answers(), sync_token=sync_token(reached, issued))


def _cut(entries: list[tuple[int, Any, bool]], limit: int) -> tuple[list[Any], int, bool]:
    """The first `limit` changes, ending between two numbers (rows older than the change
    counter share number 0 and cannot be split), and the number reached."""
    kept = entries[:limit]
    while kept and len(kept) < len(entries) and entries[len(kept)][0] == kept[-1][0]:
        kept.pop()
    if not kept:
        # Only a tie fills the limit: every row of the first number, whatever the limit.
        first = entries[0][0]
        kept = [entry for entry in entries if entry[0] == first]
    return kept, kept[-1][0], True
