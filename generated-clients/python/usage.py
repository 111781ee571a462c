"""What a Python program writes against the client openapi-python-client generates: mypy
(strict) must accept it as is (generated-clients/check runs it)."""

from __future__ import annotations

from todo_api_client import AuthenticatedClient
from todo_api_client.api.tasks import (
    create_task,
    list_changes,
    list_tasks,
    patch_task,
    replace_task,
)
from todo_api_client.models import (
    TaskChanges,
    TaskCreate,
    TaskPage,
    TaskPatch,
    TaskRead,
    TaskReplace,
)
from todo_api_client.types import UNSET, Unset


def todo_client(base_url: str, token: str) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=base_url, token=token, raise_on_unexpected_status=True)


def create_with_only_a_title(client: AuthenticatedClient) -> TaskRead:
    created = create_task.sync(client=client, body=TaskCreate(title="Buy milk"))
    assert isinstance(created, TaskRead), created
    return created


def replace_with_only_a_title(client: AuthenticatedClient, task: TaskRead) -> TaskRead:
    replaced = replace_task.sync(task.id, client=client, body=TaskReplace(title="Buy oat milk"))
    assert isinstance(replaced, TaskRead), replaced
    return replaced


def open_errands(client: AuthenticatedClient) -> list[TaskRead]:
    tasks: list[TaskRead] = []
    cursor: str | Unset = UNSET
    while True:
        page = list_tasks.sync(
            client=client, completed=False, tag=["errands", "home"], cursor=cursor
        )
        assert isinstance(page, TaskPage), page
        tasks.extend(page.items)
        if page.next_cursor is None:
            return tasks
        cursor = page.next_cursor


def complete_unless_changed(client: AuthenticatedClient, task: TaskRead) -> TaskRead | None:
    response = patch_task.sync_detailed(
        task.id, client=client, body=TaskPatch(completed=True), if_match=task.etag
    )
    if response.status_code == 412:
        return None  # changed elsewhere: read it again
    assert isinstance(response.parsed, TaskRead), response.parsed
    return response.parsed


def catch_up(client: AuthenticatedClient, replica: dict[str, TaskRead], since: str | None) -> str:
    token: str | Unset = UNSET if since is None else since
    while True:
        changes = list_changes.sync(client=client, since=token)
        assert isinstance(changes, TaskChanges), changes
        for task in changes.tasks:
            replica[str(task.id)] = task
        for deleted in changes.deleted:
            replica.pop(str(deleted), None)
        token = changes.next_since
        if not changes.has_more:
            return token
