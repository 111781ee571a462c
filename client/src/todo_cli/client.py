"""The one place that speaks HTTP to the service: requests, safe retries, and what a refusal
means for the person at the terminal.

Retried on a lost connection, a 503 or a 429, with backoff and the service's Retry-After: every
read (GET, safe to repeat), and the writes that carry an Idempotency-Key (the service answers a
repeat from its record). A write without a key is sent once: repeated after a lost answer, it
could be done twice.

Imported only by commands that reach the service: httpx alone takes ~80 ms to import.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from todo_cli import __version__
from todo_cli.debug import ExchangePrinter
from todo_cli.errors import CliError
from todo_cli.event_stream import ServerEvent, server_events

Task = dict[str, Any]
TaskListInfo = dict[str, Any]  # a list as the API answers it (`todo lists`)
Params = Mapping[str, str | int | list[str]]

# The service answers within 10 s even when its database is gone (a 503), so a read waits
# longer than that before the connection counts as lost.
TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_ATTEMPTS = 4
BACKOFF_SECONDS = 0.25  # doubled after each failed attempt, with jitter
MAX_PAUSE_SECONDS = 10.0  # a longer Retry-After is reported instead of waited for
# Statuses after which a read, or a write that carries an Idempotency-Key, is sent again: the
# service was unavailable or rate-limited (nothing happened), or (409, keyed writes only) the
# first attempt, whose answer was lost, is still running and its stored response will be
# replayed.
RETRY_STATUSES = {503, 429}
STILL_RUNNING = 409
SAFE_METHODS = {"GET"}  # the only method the client reads with
PRECONDITION_FAILED = 412  # If-Match no longer matches: someone changed the task meanwhile
PAGE_SIZE = 200  # the largest page the service gives


class ServiceError(CliError):
    """The service refused, or could not be reached."""


class NotLoggedInError(ServiceError):
    pass


class StreamInterruptedError(ServiceError):
    """The event stream could not be opened or was lost, in a way that a new attempt may
    mend (the network, a 503, a 429); `retry_after` is the service's word on when."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


# The service sends a comment at least every 15 s (by default): a stream silent for longer
# than this is dead, even if the connection was never closed.
STREAM_TIMEOUT = httpx.Timeout(15.0, connect=5.0, read=45.0)


@dataclass
class TaskList:
    tasks: list[Task]
    total: int  # every task that matches the filters, fetched or not


class TodoClient:
    def __init__(self, server: str, token: str | None = None, *, debug: bool = False) -> None:
        self.server = server
        self._token = token
        # With --debug, every exchange is printed on standard error, secrets redacted.
        self._debug = ExchangePrinter([token or ""]) if debug else None
        hooks: dict[str, list[Callable[..., Any]]] = {}
        if self._debug:
            hooks = {"request": [self._debug.request], "response": [self._debug.response]}
        self._http = httpx.Client(
            base_url=server,
            timeout=TIMEOUT,
            headers={"User-Agent": f"todo/{__version__}", "Accept": "application/json"},
            event_hooks=hooks,
        )

    def use_token(self, token: str) -> None:
        self._token = token
        self._keep_secret(token)

    def _keep_secret(self, secret: str) -> None:
        if self._debug:
            self._debug.add_secret(secret)

    def __enter__(self) -> TodoClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._http.close()

    # Accounts

    def register(self, email: str, password: str) -> dict[str, Any]:
        self._keep_secret(password)
        body = {"email": email, "password": password}
        return self._object(self._send("POST", "/auth/register", json=body, authenticated=False))

    def issue_token(self, email: str, password: str) -> str:
        self._keep_secret(password)
        form = {"username": email, "password": password}
        answer = self._object(self._send("POST", "/auth/token", data=form, authenticated=False))
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise ServiceError("the service answered the login without a token")
        return token

    def me(self, *, new_login: bool = False) -> dict[str, Any]:
        try:
            return self._object(self._send("GET", "/auth/me"))
        except NotLoggedInError:
            if not new_login:
                raise
            raise ServiceError(
                f"the service at {self.server} refused the token "
                "(expired, malformed, or from an issuer it does not trust)"
            ) from None

    # Tasks

    def create_task(self, fields: Mapping[str, Any]) -> Task:
        return self._object(self._send("POST", "/tasks", json=dict(fields), idempotency_key=True))

    def get_task(self, task_id: str) -> Task:
        return self._object(self._send("GET", f"/tasks/{task_id}"))

    def update_task(
        self,
        task_id: str,
        fields: Mapping[str, Any],
        *,
        if_match: str | None = None,
        idempotency_key: bool = False,
    ) -> Task:
        headers = {"If-Match": if_match} if if_match else {}
        response = self._send(
            "PATCH",
            f"/tasks/{task_id}",
            json=dict(fields),
            headers=headers,
            idempotency_key=idempotency_key,
        )
        return self._object(response)

    def delete_task(self, task_id: str) -> None:
        self._send("DELETE", f"/tasks/{task_id}")

    def move_task(self, task_id: str, placement: Mapping[str, Any]) -> Task:
        """`placement`: any of `after`, `parent_id`, `list_id` (None: first; top-level)."""
        response = self._send(
            "POST", f"/tasks/{task_id}/move", json=dict(placement), idempotency_key=True
        )
        return self._object(response)

    def list_tasks(self, filters: Params, *, limit: int | None, page_size: int) -> TaskList:
        """Up to `limit` tasks (all when None), page after page: by `next_cursor` when the
        service gives one, else by offset."""
        tasks: list[Task] = []
        total = 0
        cursor: str | None = None
        while limit is None or len(tasks) < limit:
            size = page_size if limit is None else min(page_size, limit - len(tasks))
            query: dict[str, Any] = {**filters, "limit": size}
            if cursor:
                query["cursor"] = cursor
            elif tasks:
                query["offset"] = len(tasks)
            page = self._object(self._send("GET", "/tasks", params=query))
            items = page.get("items")
            if not isinstance(items, list):
                raise ServiceError("the service sent a task list todo cannot read")
            tasks.extend(items)
            total = page.get("total", len(tasks))
            if "next_cursor" in page:
                cursor = page["next_cursor"]
                if not cursor:
                    break
            elif not items or len(tasks) >= total:
                break
        return TaskList(tasks=tasks, total=max(total, len(tasks)))

    # Lists

    def list_lists(self) -> list[TaskListInfo]:
        """Every list of the user: the default list first, then by name."""
        page = self._object(self._send("GET", "/lists"))
        items = page.get("items")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ServiceError("the service sent lists todo cannot read")
        return items

    def create_list(self, name: str) -> TaskListInfo:
        response = self._send("POST", "/lists", json={"name": name}, idempotency_key=True)
        return self._object(response)

    def rename_list(self, list_id: str, name: str) -> TaskListInfo:
        return self._object(self._send("PATCH", f"/lists/{list_id}", json={"name": name}))

    def delete_list(self, list_id: str) -> None:
        self._send("DELETE", f"/lists/{list_id}")

    # App passwords

    def create_app_password(self, name: str) -> dict[str, Any]:
        """Sent once, with no Idempotency-Key: the answer holds a password the service never
        stores, so it could not replay it, and a retry would make a second password."""
        answer = self._object(self._send("POST", "/auth/app-passwords", json={"name": name}))
        password = answer.get("password")
        if isinstance(password, str):
            self._keep_secret(password)
        return answer

    def list_app_passwords(self) -> list[dict[str, Any]]:
        page = self._object(self._send("GET", "/auth/app-passwords"))
        items = page.get("items")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ServiceError("the service sent app passwords todo cannot read")
        return items

    def delete_app_password(self, password_id: str) -> None:
        self._send("DELETE", f"/auth/app-passwords/{password_id}")

    def count_tasks(self, filters: Params) -> int:
        """How many of the user's tasks match `filters`: the `total` of a one-task page."""
        page = self._object(self._send("GET", "/tasks", params={**filters, "limit": 1}))
        total = page.get("total")
        if not isinstance(total, int):
            raise ServiceError("the service sent a task list todo cannot read")
        return total

    # Live updates

    def stream_events(
        self, last_event_id: str | None, on_open: Callable[[], None]
    ) -> Iterator[ServerEvent]:
        """The events of one `GET /events` connection, until the service ends it: after
        `last_event_id` when given; `on_open` is called once it is open. Raises
        StreamInterruptedError when it cannot be opened for now or is lost, ServiceError
        when the service refuses it (the login, say)."""
        if not self._token:
            raise NotLoggedInError(f"not logged in to {self.server}: run `todo login`")
        headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {self._token}"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        try:
            with self._http.stream(
                "GET", "/events", headers=headers, timeout=STREAM_TIMEOUT
            ) as response:
                if response.status_code >= 400:
                    response.read()
                    refusal = self._refusal(response, authenticated=True)
                    if response.status_code in RETRY_STATUSES:
                        wait = retry_after_seconds(response)
                        raise StreamInterruptedError(refusal.message, wait)
                    raise refusal
                on_open()
                yield from server_events(response.iter_lines())
        except httpx.TransportError as error:
            raise StreamInterruptedError(self._describe_transport_error(error)) from None

    # Transport

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        idempotency_key: bool = False,
    ) -> httpx.Response:
        """One request, tried up to MAX_ATTEMPTS times when it is a read, or a write sent with
        an Idempotency-Key (one key for every attempt, so that an attempt whose answer was lost
        is answered from the service's record, not redone); any other write is tried once."""
        request_headers = dict(headers or {})
        if authenticated:
            if not self._token:
                raise NotLoggedInError(
                    f"not logged in to {self.server}: run `todo login` or `todo register`"
                )
            request_headers["Authorization"] = f"Bearer {self._token}"
        if idempotency_key:
            request_headers["Idempotency-Key"] = str(uuid.uuid4())
        repeatable = method in SAFE_METHODS or idempotency_key
        attempt = 0
        while True:
            attempt += 1
            can_retry = repeatable and attempt < MAX_ATTEMPTS
            try:
                response = self._http.request(
                    method, path, json=json, data=data, params=params, headers=request_headers
                )
            except httpx.TransportError as error:
                if can_retry:
                    self._pause(attempt, None, self._describe_transport_error(error))
                    continue
                raise ServiceError(self._describe_transport_error(error)) from None
            if can_retry and (
                response.status_code in RETRY_STATUSES
                or (response.status_code == STILL_RUNNING and idempotency_key and attempt > 1)
            ):
                wait = retry_after_seconds(response)
                if wait is None or wait <= MAX_PAUSE_SECONDS:
                    self._pause(attempt, wait, f"the service answered {response.status_code}")
                    continue
            if response.status_code >= 400:
                raise self._refusal(response, authenticated=authenticated)
            return response

    def _pause(self, attempt: int, retry_after: float | None, reason: str) -> None:
        backoff = BACKOFF_SECONDS * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)  # noqa: S311
        seconds = max(backoff, retry_after or 0.0)
        if self._debug:
            self._debug.note(f"{reason}: attempt {attempt + 1} in {seconds:.2f} s")
        time.sleep(seconds)

    def _refusal(self, response: httpx.Response, *, authenticated: bool) -> ServiceError:
        if response.status_code == 401 and authenticated:
            return NotLoggedInError(
                f"the service at {self.server} refused the saved login (expired or revoked): "
                "run `todo login` again"
            )
        if response.status_code == PRECONDITION_FAILED:
            return ServiceError(
                "the task changed on the service while it was being edited; nothing was "
                "overwritten: run the command again"
            )
        message = problem_message(response)
        wait = retry_after_seconds(response)
        if response.status_code in RETRY_STATUSES and wait is not None:
            message = f"{message} (try again in {wait:g} s)"
        return ServiceError(message)

    def _describe_transport_error(self, error: httpx.TransportError) -> str:
        if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
            return f"cannot reach the service at {self.server}: is it running?"
        if isinstance(error, httpx.TimeoutException):
            return f"the service at {self.server} did not answer in time"
        return f"the connection to {self.server} was lost before the service answered"

    def _object(self, response: httpx.Response) -> dict[str, Any]:
        try:
            value = response.json()
        except ValueError:
            value = None
        if not isinstance(value, dict):
            raise ServiceError(f"the service at {self.server} sent an answer todo cannot read")
        return value


def problem_message(response: httpx.Response) -> str:
    """The problem's `detail` in one line, with the first validation error when there is
    one; a plain description when the body is not a problem document."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict) or not isinstance(problem.get("detail"), str):
        return f"the service answered {response.status_code} {response.reason_phrase}".strip()
    message: str = problem["detail"]
    errors = problem.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        location = ".".join(str(part) for part in first.get("loc", [])[1:]) or "request"
        message = f"{message} {location}: {first.get('msg', '')}"
    return " ".join(message.split())


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    if value.strip().isdigit():
        return float(value)
    import email.utils  # only for the rare HTTP-date form

    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
