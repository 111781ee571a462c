"""The sanity check: every target answers the workloads' requests alike, so all do the same work."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

from .database import Seed, mint_token
from .targets import Server


def call(
    url: str, method: str, path: str, token: str | None, body: dict[str, Any] | None = None
) -> tuple[int, Any, dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            status, response_headers = response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        raw = error.read()
        status, response_headers = error.code, dict(error.headers)
    try:
        payload = json.loads(raw) if raw else None
    except ValueError:
        payload = raw.decode(errors="replace")
    return status, payload, response_headers


# Fields that differ between two targets' writes by nature: each target creates its own task,
# and each update stamps its own time.
# A new task's position follows its owner's change number, which each target's own earlier
# writes have moved on.
WRITE_FIELDS_THAT_DIFFER = frozenset({"id", "created_at", "updated_at", "etag", "position"})


def sanity_check(servers: dict[str, Server], seeded: Seed) -> list[str]:
    """Each target answers the workloads' requests alike, so all do the same work."""
    problems: list[str] = []
    # The update goes to a third user, so it cannot change what the other target lists.
    reader, other, updater = seeded.readers[0], seeded.readers[1], seeded.readers[2]
    writer = seeded.writers[0]
    task_id = reader["tasks"][-1]
    answers: dict[str, dict[str, Any]] = {}
    for name, server in servers.items():
        checks = {
            "list": (call(server.url, "GET", "/tasks?limit=50", reader["token"]), 200),
            "get": (call(server.url, "GET", f"/tasks/{task_id}", reader["token"]), 200),
            "other user's task": (
                call(server.url, "GET", f"/tasks/{task_id}", other["token"]),
                403,
            ),
            "unknown task": (
                call(server.url, "GET", f"/tasks/{uuid.uuid4()}", reader["token"]),
                404,
            ),
            "no token": (call(server.url, "GET", "/tasks", None), 401),
            "bad token": (
                call(server.url, "GET", "/tasks", mint_token("wrong-secret-" * 4, reader["id"])),
                401,
            ),
            "create": (
                call(server.url, "POST", "/tasks", writer["token"], {"title": "  sanity  "}),
                201,
            ),
            "update": (
                call(
                    server.url,
                    "PATCH",
                    f"/tasks/{updater['tasks'][0]}",
                    updater["token"],
                    {"title": "sanity"},
                ),
                200,
            ),
        }
        for label, ((status, payload, _headers), expected) in checks.items():
            if status != expected:
                problems.append(f"{name} {label}: status {status}, expected {expected}: {payload}")
        created = checks["create"][0]
        if created[0] == 201:
            if created[1].get("title") != "sanity":
                problems.append(f"{name} create: title not trimmed: {created[1]}")
            if created[2].get("location") != f"/tasks/{created[1].get('id')}":
                problems.append(f"{name} create: no matching Location header")
        list_body = checks["list"][0][1]
        if checks["list"][0][0] == 200 and len(list_body.get("items", [])) != min(
            50, len(reader["tasks"])
        ):
            problems.append(f"{name} list: expected a full page, got {list_body}")
        answers[name] = {
            "list": list_body,
            "get": checks["get"][0][1],
            "create": _comparable_write(checks["create"][0][1]),
            "update": _comparable_write(checks["update"][0][1]),
        }
    first, *others = answers
    for name in others:
        for label in ("list", "get", "create", "update"):
            expected, got = _on_shared_fields(answers[first][label], answers[name][label])
            if got != expected:
                problems.append(
                    f"{first} and {name} disagree on {label}:\n"
                    f"    {first:<16} {json.dumps(expected)[:400]}\n"
                    f"    {name:<16} {json.dumps(got)[:400]}"
                )
    return problems


def _on_shared_fields(first: Any, second: Any) -> tuple[Any, Any]:
    """Two answers cut to the fields both carry: a newer build answers with more (version 3
    adds parent_id, position and recurrence to a task), and the runs compare what both do."""
    if isinstance(first, dict) and isinstance(second, dict):
        pairs = {
            key: _on_shared_fields(first[key], second[key]) for key in first.keys() & second.keys()
        }
        return {k: v[0] for k, v in pairs.items()}, {k: v[1] for k, v in pairs.items()}
    if isinstance(first, list) and isinstance(second, list) and len(first) == len(second):
        cut = [_on_shared_fields(a, b) for a, b in zip(first, second, strict=True)]
        return [a for a, _ in cut], [b for _, b in cut]
    return first, second


def _comparable_write(body: Any) -> Any:
    """A write's response without the fields that differ by nature; every other field both
    targets answer must match."""
    if not isinstance(body, dict):
        return body
    return {
        key: "<differs>" if key in WRITE_FIELDS_THAT_DIFFER else value
        for key, value in body.items()
    }
