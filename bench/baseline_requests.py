"""What the baseline reads from a request: the JSON body and the task fields, checked as the
service checks them, and the HTTP error a bad request raises."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

MAX_BODY_BYTES = 1_048_576
TITLE_MAX_LENGTH = 255
DESCRIPTION_MAX_LENGTH = 10_000


class HTTPError(Exception):
    def __init__(self, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or []


async def read_json(receive: Receive) -> Any:
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPError(413, f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError:
        raise HTTPError(400, "The body is not valid JSON.") from None


def parse_task_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise HTTPError(422, "The task id must be a UUID.") from None


def _storable(value: str, name: str) -> str:
    if "\x00" in value:
        raise HTTPError(422, f"{name} must not contain the NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise HTTPError(422, f"{name} must be valid Unicode.") from None
    return value


def _title(value: Any) -> str:
    if not isinstance(value, str):
        raise HTTPError(422, "title must be a string.")
    value = value.strip()
    if not 1 <= len(value) <= TITLE_MAX_LENGTH:
        raise HTTPError(422, "title must be 1 to 255 characters.")
    return _storable(value, "title")


def _description(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > DESCRIPTION_MAX_LENGTH:
        raise HTTPError(422, "description must be a string of at most 10,000 characters.")
    return _storable(value, "description")


def _completed(value: Any) -> bool:
    if not isinstance(value, bool):
        raise HTTPError(422, "completed must be a boolean.")
    return value


def _fields(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise HTTPError(422, "The body must be a JSON object.")
    unknown = set(body) - {"title", "description", "completed"}
    if unknown:
        raise HTTPError(422, f"Unknown fields: {', '.join(sorted(unknown))}.")
    return body


def create_body(body: Any) -> dict[str, Any]:
    body = _fields(body)
    if "title" not in body:
        raise HTTPError(422, "title is required.")
    return {
        "title": _title(body["title"]),
        "description": _description(body.get("description")),
        "completed": _completed(body.get("completed", False)),
    }


def patch_body(body: Any) -> dict[str, Any]:
    body = _fields(body)
    if not body:
        raise HTTPError(422, "Give at least one of title, description, completed.")
    changes: dict[str, Any] = {}
    if "title" in body:
        changes["title"] = _title(body["title"])
    if "description" in body:
        changes["description"] = _description(body["description"])
    if "completed" in body:
        changes["completed"] = _completed(body["completed"])
    return changes
