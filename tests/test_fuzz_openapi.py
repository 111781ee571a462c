"""Schemathesis drives every operation of the app's own OpenAPI document, on each database.

Valid and invalid requests alike, with a valid bearer token: no 5xx, and every response
matches its documented status code, content type, headers and body schema. The run is
bounded and derandomized, so a failure reproduces on the next run.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)

from tests.conftest import bearer, make_settings, make_token
from todo_api.app import create_app
from todo_api.idempotency.keys import KEY_PATTERN as IDEMPOTENCY_KEY_PATTERN
from todo_api.lists.models import default_list_id
from todo_api.settings import Settings

# A deeper local hunt: TODO_FUZZ_EXAMPLES=500 pytest tests/test_fuzz_openapi.py
MAX_EXAMPLES = int(os.environ.get("TODO_FUZZ_EXAMPLES", "60"))
STATEFUL_EXAMPLES = MAX_EXAMPLES // 2

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]


def _settings(database_url: str) -> Settings:
    # Quiet logs: the fuzzer sends thousands of requests (limits are too high to matter).
    return make_settings(database_url, log_level="WARNING")


@pytest.fixture(scope="module")
def fuzzed_app(database_url: str) -> Iterator[FastAPI]:
    yield create_app(_settings(database_url))
    # Schemathesis keeps an app's lifespan running until the process exits; end it here,
    # while the database still exists.
    schemathesis_asgi.shutdown_lifespans()


FUZZ_SUBJECT = f"fuzz-{uuid.uuid4().hex}"


def _load_schema() -> Any:
    # The document does not depend on the database, so it is read once, at collection, from
    # an app that never starts; each test hands its own database's app to `case.call`.
    app = create_app(_settings("sqlite+aiosqlite:///:memory:"))
    document = app.openapi()
    token = make_token(FUZZ_SUBJECT, lifetime=timedelta(hours=12))
    config = schemathesis.Config.from_dict(
        {
            "headers": bearer(token),
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "checks": {
                # A well-formed If-Match that names another version is answered 412, as
                # the contract says: a valid request with a precondition that fails.
                "positive_data_acceptance": {
                    "expected-statuses": [
                        "2xx",
                        "3xx",
                        "401",
                        "403",
                        "404",
                        "409",
                        "412",
                        "429",
                        "5xx",
                    ]
                }
            },
        }
    )
    # An event stream with a valid token never ends on its own, and the in-process transport
    # waits for a whole body: GET /events is driven against a real server instead, bad
    # input included (test_events.py, test_event_tickets.py).
    loaded = schemathesis.openapi.from_dict(document, config=config).exclude(
        path="/events", method="GET"
    )
    # An app picks Schemathesis' in-process ASGI transport; every call names its own app.
    loaded.app = app
    return loaded


schema = _load_schema()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_response_conforms_to_the_schema(case: Any, fuzzed_app: FastAPI) -> None:
    _prepare(case, FUZZ_SUBJECT)
    case.call_and_validate(checks=CHECKS, app=fuzzed_app)


def _prepare(case: Any, subject: str) -> None:
    """Make a generated request one that a real client could send.

    A well-formed Idempotency-Key gets a unique value: the fuzzer reuses simple keys with
    other bodies, which the contract rightly answers 422 (a key names one request). List
    cursors and sync tokens are signed by the service, so no generated one can be valid
    (422 for each is tested in test_cursors.py and test_sync.py): they are left out.
    """
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and re.fullmatch(IDEMPOTENCY_KEY_PATTERN, key):
        headers["Idempotency-Key"] = f"fuzz-{uuid.uuid4()}"
    for signed in ("cursor", "since"):
        (case.query or {}).pop(signed, None)
    # Likewise no generated list id names a list of the caller's: a well-formed one becomes
    # the caller's default list (the 422 for another user's or an unknown list is tested in
    # test_tasks_in_lists.py).
    if isinstance(case.body, dict) and _is_uuid(case.body.get("list_id")):
        case.body["list_id"] = str(default_list_id(subject))
    # Nor a task of the caller's: a well-formed parent or `after` becomes null (top-level;
    # first). The 422 for any other is tested in test_subtasks.py and test_manual_order.py.
    for field in ("parent_id", "after"):
        if isinstance(case.body, dict) and _is_uuid(case.body.get(field)):
            case.body[field] = None
    if case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
        _recurrence_a_client_could_send(case)


def _recurrence_a_client_could_send(case: Any) -> None:
    """Nor can a generated string be a rule with an occurrence or an IANA zone name (each 422
    is tested in test_recurrence.py): a schema-valid recurrence becomes a daily one, with the
    due date it needs; and a write that would leave a recurring task without a due date
    (422) drops the recurrence."""
    body = case.body
    if not isinstance(body, dict) or not case.path.startswith("/tasks"):
        return
    if isinstance(body.get("recurrence"), dict):
        body["recurrence"] = {"rule": "FREQ=DAILY", "time_zone": "UTC", "from": "due"}
        if body.get("due_at") is None:
            body["due_at"] = "2026-12-01T17:00:00Z"
    elif ("due_at" in body and body["due_at"] is None) or (
        case.method == "PUT" and "due_at" not in body
    ):
        body["recurrence"] = None


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def test_linked_sequences_conform_to_the_schema(fuzzed_app: FastAPI) -> None:
    """Create, then read, change, toggle and delete what was created, along inferred links.

    A created task must be readable at once, and a deleted one must stay gone.
    """
    links = schema.as_state_machine()

    class LinkedCalls(links):  # type: ignore[misc,valid-type]
        def setup(self) -> None:
            super().setup()
            # A user of its own for each run: a run, and Hypothesis' replay of it, start from
            # no tasks, so what GET /tasks returns (and the links drawn from it) repeats.
            self.user = f"fuzz-{uuid.uuid4().hex}"
            self.user_headers = bearer(make_token(self.user, lifetime=timedelta(hours=1)))

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            _prepare(case, self.user)
            return {"app": fuzzed_app, "headers": self.user_headers}

        def validate_response(
            self,
            response: Any,
            case: Any,
            additional_checks: Any = None,
            **kwargs: Any,
        ) -> None:
            case.validate_response(
                response,
                checks=[*CHECKS, use_after_free, ensure_resource_availability],
                transport_kwargs=kwargs or None,
                recorder=self.recorder,
            )

    LinkedCalls.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
