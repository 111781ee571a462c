"""The `/dav/` tree and `/.well-known/caldav`: read the method's inputs, call the service,
answer in WebDAV's terms. Left out of the OpenAPI document: WebDAV's methods (PROPFIND,
REPORT...) are not HTTP methods OpenAPI can describe.

Each level of the tree is its own route, so metrics and logs name a template
(`/dav/calendars/{user}/{collection}/{resource}`), never a user's path.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from todo_api.database import utc_now
from todo_api.dav import paths, properties
from todo_api.dav.dependencies import DavServiceDep
from todo_api.dav.reports import run_report
from todo_api.dav.service import DavPreconditionError, sync_token
from todo_api.dav.xml import (
    CALDAV,
    DAV,
    XML_MEDIA_TYPE,
    DavXmlError,
    PropertyRequest,
    error_body,
    multistatus,
    property_statuses,
    qname,
    read_property_update,
    read_propfind,
    read_report,
)
from todo_api.errors import InvalidParameterError, problem_response
from todo_api.tasks.repository import AnyRow

DAV_HEADERS = {
    "DAV": "1, 3, calendar-access",
    "Allow": "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, MKCALENDAR, REPORT",
}
DISPLAYNAME = qname(DAV, "displayname")
router = APIRouter(include_in_schema=False)


def _multistatus(body: bytes) -> Response:
    return Response(body, status_code=207, media_type=XML_MEDIA_TYPE)


def _depth(request: Request) -> int:
    depth = request.headers.get("depth", "infinity").strip().lower()
    if depth in ("0", "1"):
        return int(depth)
    raise DavPreconditionError(DAV, "propfind-finite-depth", "Depth must be 0 or 1.")


@router.get("/.well-known/caldav")
@router.api_route("/.well-known/caldav", methods=["PROPFIND", "OPTIONS"])
async def well_known() -> RedirectResponse:
    return RedirectResponse(paths.ROOT, status_code=301)


@router.options("/dav/")
@router.options("/dav/principals/{user}/")
@router.options("/dav/calendars/{user}/")
@router.options("/dav/calendars/{user}/{collection}/")
@router.options("/dav/calendars/{user}/{collection}/{resource}")
async def options() -> Response:
    return Response(status_code=200, headers=DAV_HEADERS)


@router.api_route("/dav/", methods=["PROPFIND"])
# Clients given only the server's address ask its root for the current user's principal.
@router.api_route("/", methods=["PROPFIND"])
async def propfind_root(request: Request, service: DavServiceDep) -> Response:
    wanted = read_propfind(await request.body())
    _depth(request)
    subject = service.owner
    answer = properties.answer(request.url.path, properties.root(subject), wanted)
    return _multistatus(multistatus([answer]))


@router.api_route("/dav/principals/{user}/", methods=["PROPFIND"])
async def propfind_principal(request: Request, service: DavServiceDep) -> Response:
    wanted = read_propfind(await request.body())
    _depth(request)
    subject = service.owner
    answer = properties.answer(paths.principal(subject), properties.principal(subject), wanted)
    return _multistatus(multistatus([answer]))


@router.api_route("/dav/calendars/{user}/", methods=["PROPFIND"])
async def propfind_home(request: Request, service: DavServiceDep) -> Response:
    wanted = read_propfind(await request.body())
    depth = _depth(request)
    subject = service.owner
    answers = [properties.answer(paths.home(subject), properties.home(subject), wanted)]
    if depth == 1:
        for row in await service.collections():
            segment = paths.list_segment(row.id, row.dav_name)
            answers.append(_collection_answer(subject, segment, row, wanted))
    return _multistatus(multistatus(answers))


def _collection_answer(subject: str, segment: str, row: AnyRow, wanted: PropertyRequest) -> str:
    counter = row.counter or 0
    token = sync_token(counter, utc_now())
    values = properties.collection(subject, row, token, str(counter))
    return properties.answer(paths.collection(subject, segment), values, wanted)


@router.api_route("/dav/calendars/{user}/{collection}/", methods=["PROPFIND"])
async def propfind_collection(
    request: Request, collection: str, service: DavServiceDep
) -> Response:
    wanted = read_propfind(await request.body())
    depth = _depth(request)
    row = await service.collection(collection)
    subject = service.owner
    answers = [_collection_answer(subject, collection, row, wanted)]
    if depth == 1:
        members = await service.members(row, with_data=properties.wants_data(wanted))
        for member in members:
            path, values = properties.task(subject, collection, member)
            answers.append(properties.answer(path, values, wanted))
    return _multistatus(multistatus(answers))


@router.api_route("/dav/calendars/{user}/{collection}/{resource}", methods=["PROPFIND"])
async def propfind_resource(
    request: Request, collection: str, resource: str, service: DavServiceDep
) -> Response:
    wanted = read_propfind(await request.body())
    _depth(request)
    row = await service.resource(collection, resource)
    path, values = properties.task(service.owner, collection, row)
    return _multistatus(multistatus([properties.answer(path, values, wanted)]))


@router.api_route("/dav/calendars/{user}/{collection}/", methods=["REPORT"])
async def report(request: Request, collection: str, service: DavServiceDep) -> Response:
    wanted = read_report(await request.body())
    return _multistatus(await run_report(service, service.owner, collection, wanted))


@router.api_route("/dav/calendars/{user}/{collection}/", methods=["MKCALENDAR"])
async def mkcalendar(request: Request, collection: str, service: DavServiceDep) -> Response:
    update = read_property_update(await request.body(), qname(CALDAV, "mkcalendar"))
    names = dict(update.set)
    kept = {name: text for name, text in update.set if name not in properties.PROTECTED}
    await service.make_collection(collection, _list_name(names.get(DISPLAYNAME)), kept)
    return Response(status_code=201, headers={"Cache-Control": "no-store"})


@router.api_route("/dav/calendars/{user}/{collection}/", methods=["PROPPATCH"])
async def proppatch(request: Request, collection: str, service: DavServiceDep) -> Response:
    update = read_property_update(await request.body(), qname(DAV, "propertyupdate"))
    await service.collection(collection)
    named = [name for name, _text in update.set] + list(update.remove)
    # displayname is the list's name: it may be set, never removed.
    refused = {name for name in named if name in properties.PROTECTED and name != DISPLAYNAME}
    refused |= {DISPLAYNAME} & set(update.remove)
    if refused:
        # All or nothing (RFC 4918 section 9.2): the rest fails with the refused ones.
        statuses = [(name, 403 if name in refused else 424) for name in dict.fromkeys(named)]
    else:
        names = dict(update.set)
        changed = {name: text for name, text in update.set if name != DISPLAYNAME}
        display_name = _list_name(names.get(DISPLAYNAME))
        await service.update_properties(collection, display_name, changed, list(update.remove))
        statuses = [(name, 200) for name in dict.fromkeys(named)]
    path = paths.collection(service.owner, collection)
    return _multistatus(multistatus([property_statuses(path, statuses)]))


def _list_name(name: str | None) -> str | None:
    if name is not None and not name.strip():
        raise InvalidParameterError(["body", "displayname"], "must not be empty", "value_error")
    return name


@router.delete("/dav/calendars/{user}/{collection}/")
async def delete_collection(request: Request, collection: str, service: DavServiceDep) -> Response:
    await service.delete_collection(collection, request.headers.get("if-match"))
    return Response(status_code=204)


@router.api_route("/dav/calendars/{user}/{collection}/{resource}", methods=["GET", "HEAD"])
async def get_resource(
    request: Request, collection: str, resource: str, service: DavServiceDep
) -> Response:
    row = await service.resource(collection, resource)
    headers = {"ETag": row.etag}
    if request.headers.get("if-none-match") in ("*", row.etag):
        return Response(status_code=304, headers=headers)
    body = properties.task_document(row).encode()
    return Response(body, media_type="text/calendar; charset=utf-8", headers=headers)


@router.put("/dav/calendars/{user}/{collection}/{resource}")
async def put_resource(
    request: Request, collection: str, resource: str, service: DavServiceDep
) -> Response:
    media_type = request.headers.get("content-type", "text/calendar").split(";")[0].strip()
    if media_type.lower() not in ("text/calendar", ""):
        raise DavPreconditionError(CALDAV, "supported-calendar-data", "Send text/calendar.")
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        raise DavPreconditionError(CALDAV, "valid-calendar-data", "Send UTF-8.") from None
    written = await service.put(
        collection,
        resource,
        text,
        if_match=request.headers.get("if-match"),
        if_none_match=request.headers.get("if-none-match"),
    )
    return Response(
        status_code=201 if written.created else 204, headers={"ETag": written.task.etag}
    )


@router.delete("/dav/calendars/{user}/{collection}/{resource}")
async def delete_resource(
    request: Request, collection: str, resource: str, service: DavServiceDep
) -> Response:
    await service.delete_resource(collection, resource, request.headers.get("if-match"))
    return Response(status_code=204)


async def _precondition_failed(_request: Request, error: Exception) -> Response:
    assert isinstance(error, DavPreconditionError)
    body = error_body(qname(error.namespace, error.condition), error.detail)
    return Response(body, status_code=error.status_code, media_type=XML_MEDIA_TYPE)


async def _malformed(_request: Request, error: Exception) -> Response:
    return problem_response(400, str(error))


def install_dav(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(DavPreconditionError, _precondition_failed)
    app.add_exception_handler(DavXmlError, _malformed)
