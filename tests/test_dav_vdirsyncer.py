"""vdirsyncer (0.21.0) syncing a task list to a local folder and back, edits on both sides,
against a real server process. vdirsyncer signs in with HTTP Basic only: an app password
(`POST /auth/app-passwords`). vdirsyncer runs from the clients' own environment
(tests/client_tools.py)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tests.cli_support import SERVER_SETTINGS
from tests.client_tools import client_tools
from tests.conftest import bearer, make_token
from tests.servers import Server, clean_environment, running_server

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("vdirsyncer-server")
    env = clean_environment(DATABASE_URL=database_url, **SERVER_SETTINGS)
    with running_server(folder, env) as running:
        yield running


class Account:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.sub = f"user-{uuid.uuid4().hex}"
        self.headers = bearer(make_token(self.sub, lifetime=timedelta(minutes=10)))

    def rest(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: object
    ) -> httpx.Response:
        sent = {**self.headers, **(headers or {})}
        return httpx.request(method, self.server.url + path, headers=sent, **kwargs)  # type: ignore[arg-type]

    def app_password(self) -> tuple[str, str]:
        made = self.rest("POST", "/auth/app-passwords", json={"name": "vdirsyncer"})
        assert made.status_code == 201, made.text
        body = made.json()
        return body["username"], body["password"]

    def titles(self) -> list[str]:
        return sorted(task["title"] for task in self.rest("GET", "/tasks").json()["items"])


def _uid(path: Path) -> str:
    return next(line[4:] for line in path.read_text().splitlines() if line.startswith("UID:"))


def sync(config: Path) -> None:
    for command in (["discover"], ["sync"]):
        done = subprocess.run(
            [str(client_tools() / "vdirsyncer"), "-c", str(config), *command],
            input="y\n" * 5,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


def test_a_list_syncs_to_a_folder_and_back(server: Server, tmp_path: Path) -> None:
    account = Account(server)
    username, password = account.app_password()
    kept = account.rest("POST", "/tasks", json={"title": "Water the plants"}).json()
    gone = account.rest("POST", "/tasks", json={"title": "Call the bank"}).json()
    lists = account.rest("GET", "/lists").json()["items"]
    local = tmp_path / "local"
    local.mkdir()
    config = tmp_path / "config"
    config.write_text(
        f"""[general]
status_path = "{tmp_path}/status/"

[pair tasks]
a = "tasks_server"
b = "tasks_local"
collections = null
conflict_resolution = "a wins"

[storage tasks_server]
type = "caldav"
url = "{server.url}/dav/calendars/{account.sub}/{lists[0]["id"]}/"
username = "{username}"
password = "{password}"
item_types = ["VTODO"]

[storage tasks_local]
type = "filesystem"
path = "{local}"
fileext = ".ics"
"""
    )
    sync(config)
    files = {_uid(path): path for path in local.iterdir()}
    assert set(files) == {kept["id"], gone["id"]}
    # Local edits: one task renamed, one deleted, one new (with an alarm the service keeps).
    edited = files[kept["id"]]
    edited.write_text(edited.read_text().replace("Water the plants", "Water the roses"))
    files[gone["id"]].unlink()
    (local / "new.ics").write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\nBEGIN:VTODO\r\n"
        "UID:made-in-a-folder\r\nDTSTAMP:20261201T000000Z\r\nSUMMARY:Buy stamps\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Stamps\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\n"
        "END:VTODO\r\nEND:VCALENDAR\r\n"
    )
    # A server-side edit at the same time.
    other = account.rest("POST", "/tasks", json={"title": "Made on the web"})
    assert other.status_code == 201
    sync(config)
    assert account.titles() == ["Buy stamps", "Made on the web", "Water the roses"]
    texts = [path.read_text() for path in local.iterdir()]
    assert any("SUMMARY:Made on the web" in text for text in texts)
    assert len(texts) == 3
    # The folder's task reached the server with its alarm, which the service keeps as sent.
    collection = f"/dav/calendars/{account.sub}/{lists[0]['id']}/"
    query = (
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data/></D:prop>'
        '<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>'
    )
    found = account.rest("REPORT", collection, content=query, headers={"Depth": "1"})
    assert found.status_code == 207
    assert "TRIGGER:-PT10M" in found.text
