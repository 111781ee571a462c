"""A task's response: every route that answers with one task renders it here, to bytes.

The keyed writes store those bytes for replays (idempotency/service.py), so a replay is byte
for byte the first answer, and GET and PUT answer with the same bytes as the writes
(FastAPI's response-model pass wrote the same JSON, for about 1 us more).
"""

from __future__ import annotations

import orjson

from todo_api.idempotency.service import StoredResponse
from todo_api.tasks.schemas import TaskRead

_JSON = "application/json"


def _body(task: TaskRead) -> bytes:
    return orjson.dumps(task.model_dump(), option=orjson.OPT_UTC_Z)


def created_task(task: TaskRead) -> StoredResponse:
    headers = {"content-type": _JSON, "location": f"/tasks/{task.id}", "etag": task.etag}
    return StoredResponse(201, _body(task), headers)


def current_task(task: TaskRead) -> StoredResponse:
    return StoredResponse(200, _body(task), {"content-type": _JSON, "etag": task.etag})
