"""A browser's EventSource, as a front end at another origin uses it: a ticket from
`POST /events/tickets`, then `GET /events?ticket=`, seeing a change another client made.

Headless Chromium (Debian's `chromium` and `chromium-driver`) against a real server process;
skipped, saying so, on a machine without the browser (CI installs it and refuses to skip).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import bearer, make_token
from tests.event_streams import events_server_environment
from tests.servers import Server, running_server
from tests.test_docs_browser import _browser_or_skip, console

pytestmark = pytest.mark.server

WAIT_SECONDS = 20
PAGE = """<!doctype html>
<meta charset="utf-8">
<title>live</title>
<ul id="events"></ul>
<script>
(async () => {
  const params = new URLSearchParams(location.hash.slice(1));
  const api = params.get("api");
  // The access token stays in the page; only the short-lived ticket goes in a URL.
  const answer = await fetch(`${api}/events/tickets`, {
    method: "POST",
    headers: {Authorization: `Bearer ${params.get("token")}`},
  });
  const {ticket} = await answer.json();
  const source = new EventSource(`${api}/events?ticket=${encodeURIComponent(ticket)}`);
  source.onopen = () => { document.body.dataset.open = "yes"; };
  source.addEventListener("task", (event) => {
    const item = document.createElement("li");
    item.textContent = JSON.parse(event.data).title;
    item.dataset.id = event.lastEventId;
    document.getElementById("events").append(item);
  });
})();
</script>
"""


@pytest.fixture(scope="module")
def page_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A front end on an origin of its own, serving the page above."""
    _browser_or_skip()
    folder: Path = tmp_path_factory.mktemp("front-end")
    (folder / "live.html").write_text(PAGE)
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def server(
    page_origin: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("events-browser")
    env = events_server_environment(database_url, CORS_ORIGINS=page_origin)
    with running_server(folder, env, "--no-migrate") as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    chromium, chromedriver = _browser_or_skip()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-events')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        yield driver
    finally:
        driver.quit()


def test_an_event_source_with_a_ticket_sees_another_clients_change(
    browser: webdriver.Chrome, server: Server, page_origin: str
) -> None:
    headers = bearer(make_token(f"browser-{uuid.uuid4().hex}"))
    browser.get(f"{page_origin}/live.html#api={server.url}&token={headers['Authorization'][7:]}")
    wait = WebDriverWait(browser, WAIT_SECONDS)
    try:
        wait.until(
            lambda driver: driver.find_element(By.TAG_NAME, "body").get_attribute("data-open")
        )
    except Exception:
        raise AssertionError(f"the EventSource never opened; console: {console(browser)}") from None
    made = httpx.post(f"{server.url}/tasks", json={"title": "seen live"}, headers=headers)
    assert made.status_code == 201
    item = wait.until(lambda driver: driver.find_element(By.CSS_SELECTOR, "#events li"))
    assert item.text == "seen live"
    # The id a browser would send back as Last-Event-ID is a sync token.
    since = httpx.get(
        f"{server.url}/tasks/changes",
        params={"since": item.get_attribute("data-id") or ""},
        headers=headers,
    )
    assert since.status_code == 200
    assert since.json()["tasks"] == []
