"""Schemathesis drives every operation of the app's own OpenAPI document, on each database.

Valid and invalid requests alike, with a valid bearer token: no 5xx, and every response
matches its documented status code, content type, headers and body schema. The run is
bounded and derandomized, so a failure reproduces on the next run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
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


def _load_schema() -> Any:
    # The document does not depend on the database, so it is read once, at collection, from
    # an app that never starts; each test hands its own database's app to `case.call`.
    app = create_app(_settings("sqlite+aiosqlite:///:memory:"))
    document = app.openapi()
    token = make_token(f"fuzz-{uuid.uuid4().hex}", lifetime=timedelta(hours=12))
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
    loaded = schemathesis.openapi.from_dict(document, config=config)
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
    case.call_and_validate(checks=CHECKS, app=fuzzed_app)


def test_linked_sequences_conform_to_the_schema(fuzzed_app: FastAPI) -> None:
    """Create, then read, change, toggle and delete what was created, along inferred links.

    A created task must be readable at once, and a deleted one must stay gone.
    """
    links = schema.as_state_machine()
    # A user of its own: links draw from what the list returns, so tasks left by the other
    # tests would make the same example draw differently from one run to the next.
    own_user = bearer(make_token(f"fuzz-linked-{uuid.uuid4().hex}", lifetime=timedelta(hours=12)))

    class LinkedCalls(links):  # type: ignore[misc,valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"app": fuzzed_app, "headers": own_user}

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
