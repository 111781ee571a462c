"""A list's response, rendered to bytes: the same bytes for a write, its replay under an
Idempotency-Key, and a read (as tasks/responses.py does for tasks)."""

from __future__ import annotations

import orjson

from todo_api.idempotency.service import StoredResponse
from todo_api.lists.schemas import ListRead

_JSON = "application/json"


def _body(task_list: ListRead) -> bytes:
    return orjson.dumps(task_list.model_dump(), option=orjson.OPT_UTC_Z)


def created_list(task_list: ListRead) -> StoredResponse:
    headers = {
        "content-type": _JSON,
        "location": f"/lists/{task_list.id}",
        "etag": task_list.etag,
    }
    return StoredResponse(201, _body(task_list), headers)


def current_list(task_list: ListRead) -> StoredResponse:
    return StoredResponse(200, _body(task_list), {"content-type": _JSON, "etag": task_list.etag})
