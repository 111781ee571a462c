"""/docs and /redoc as a new user meets them: in headless Chromium (Debian's `chromium` and
`chromium-driver`), against a real server process, with every address but the service's
unreachable, as on a machine that cannot reach public CDNs.

The only test of the suite that may be skipped: on a machine without the browser it says
so. CI installs the browser and refuses to skip.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.wait import WebDriverWait

from tests.conftest import TEST_SECRET
from tests.servers import Server, clean_environment, running_server

pytestmark = pytest.mark.server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
PASSWORD = "correct horse battery"
WAIT_SECONDS = 30
# ReDoc's sidebar credits Redocly with a logo from Redocly's CDN. The page's policy blocks it
# (so nothing leaves the machine) and ReDoc then hides the image: the one refusal expected.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
# What the browser showed, for a person to look at after a run (and after a failure).
SCREENSHOTS = Path(tempfile.gettempdir())


def _browser_or_skip() -> tuple[str, str]:
    if CHROMIUM and CHROMEDRIVER:
        return CHROMIUM, CHROMEDRIVER
    message = (
        "no headless browser on this machine: the docs browser test needs Debian's chromium "
        "and chromium-driver (apt-get install chromium chromium-driver)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser test: {message}")
    pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _browser_or_skip()
    folder = tmp_path_factory.mktemp("docs-browser")
    env = clean_environment(JWT_SECRET=TEST_SECRET, LOG_FORMAT="json")
    with running_server(folder, env) as running:
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
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
        "--window-size=1280,1600",
        # No name resolves but the service's address, and anything that is not loopback
        # goes to a proxy that is not there: a CDN cannot be reached by name or address.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=127.0.0.1:9",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def account(server: Server) -> str:
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    body = {"email": email, "password": PASSWORD}
    assert httpx.post(f"{server.url}/auth/register", json=body).status_code == 201
    return email


def wait_for(browser: webdriver.Chrome, css: str) -> WebElement:
    try:
        element: WebElement = WebDriverWait(browser, WAIT_SECONDS).until(
            shown.visibility_of_element_located((By.CSS_SELECTOR, css))
        )
    except TimeoutException:
        screenshot = SCREENSHOTS / "docs-browser-failure.png"
        browser.save_screenshot(str(screenshot))
        raise AssertionError(
            f"{css!r} never showed on {browser.current_url}; screenshot: {screenshot}; "
            f"console: {console(browser)}"
        ) from None
    return element


def wait_for_text(browser: webdriver.Chrome, css: str, text: str) -> WebElement:
    element = wait_for(browser, css)
    try:
        WebDriverWait(browser, WAIT_SECONDS).until(
            shown.text_to_be_present_in_element((By.CSS_SELECTOR, css), text)
        )
    except TimeoutException:
        raise AssertionError(f"{css!r} shows {element.text!r}, not {text!r}") from None
    return element


def console(browser: webdriver.Chrome) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = browser.get_log("browser")
    return entries


def loaded_resources(browser: webdriver.Chrome) -> list[str]:
    names: list[str] = browser.execute_script(
        "return performance.getEntriesByType('resource').map(entry => entry.name)"
    )
    return names


def assert_everything_came_from_the_service(
    browser: webdriver.Chrome, server: Server, *, blocked: tuple[str, ...] = ()
) -> None:
    resources = loaded_resources(browser)
    assert resources, "the page loaded nothing"
    foreign = [name for name in resources if not name.startswith(server.url)]
    assert set(foreign) <= set(blocked), foreign
    problems = [entry["message"] for entry in console(browser) if entry["level"] == "SEVERE"]
    for message in problems:
        # A refused sign-in is logged by the browser as a failed request; so is the refused
        # logo, which the policy also reports.
        expected = "/auth/token - Failed to load resource" in message or any(
            address in message for address in blocked
        )
        assert expected, f"unexpected error in the console: {message}"


def test_swagger_ui_signs_in_and_creates_a_task_offline(
    browser: webdriver.Chrome, server: Server, account: str
) -> None:
    # 1. /docs renders from the service's own assets.
    browser.get(f"{server.url}/docs")
    wait_for_text(browser, ".swagger-ui .info .title", "todo-api")
    wait_for(browser, "#operations-tasks-create_task")

    # 2. Authorize: the dialog says what to type, and asks for no client credentials.
    wait_for(browser, ".swagger-ui .auth-wrapper .btn.authorize").click()
    dialog = wait_for(browser, ".swagger-ui .dialog-ux .modal-ux")
    assert "email address in username" in dialog.text
    assert "paste the token" in dialog.text
    assert not browser.find_element(By.ID, "client_id_password").is_displayed()
    assert not browser.find_element(By.ID, "client_secret_password").is_displayed()
    username = browser.find_element(By.ID, "oauth_username")
    password = browser.find_element(By.ID, "oauth_password")

    # 3. A wrong password: the dialog shows the service's own words.
    username.send_keys(account)
    password.send_keys("not the password")
    authorize = ".swagger-ui .dialog-ux .auth-btn-wrapper .btn.modal-btn.authorize"
    browser.find_element(By.CSS_SELECTOR, authorize).click()
    error = wait_for_text(
        browser, ".swagger-ui .dialog-ux .errors", "The email or password is wrong."
    )
    assert "invalid_grant" in error.text

    # 4. The right password: signed in.
    password.clear()
    password.send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, authorize).click()
    dialog = wait_for_text(browser, ".swagger-ui .dialog-ux", "Logout")
    assert "Authorized" in dialog.text
    assert "The email or password is wrong." not in dialog.text
    browser.find_element(By.CSS_SELECTOR, ".swagger-ui .dialog-ux .btn-done").click()

    # 5. Try it out on POST /tasks with the example body: 201.
    operation = "#operations-tasks-create_task"
    browser.find_element(By.CSS_SELECTOR, f"{operation} .opblock-summary").click()
    wait_for(browser, f"{operation} .try-out__btn").click()
    body = wait_for(browser, f"{operation} textarea.body-param__text")
    assert '"title": "Buy milk"' in (body.get_attribute("value") or "")
    wait_for(browser, f"{operation} .btn.execute").click()
    status = wait_for(browser, f"{operation} .live-responses-table .response .response-col_status")
    assert status.text.startswith("201"), status.text
    response = browser.find_element(By.CSS_SELECTOR, f"{operation} .live-responses-table")
    assert "Buy milk" in response.text
    browser.save_screenshot(str(SCREENSHOTS / "docs-swagger-ui.png"))

    assert_everything_came_from_the_service(browser, server)


def test_redoc_renders_offline_with_the_examples(browser: webdriver.Chrome, server: Server) -> None:
    browser.get(f"{server.url}/redoc")
    wait_for_text(browser, "h1", "todo-api")
    create_task = "[data-section-id='tag/tasks/operation/create_task']"
    wait_for_text(browser, f"{create_task} h2", "Create a task")
    # The request sample beside the operation is built from the examples.
    wait_for_text(browser, create_task, '"title": "Buy milk"')
    browser.save_screenshot(str(SCREENSHOTS / "docs-redoc.png"))

    assert_everything_came_from_the_service(browser, server, blocked=(REDOCLY_LOGO,))


@pytest.mark.parametrize("url", ["https://cdn.jsdelivr.net/npm/redoc@2/", "http://1.1.1.1/"])
def test_the_browser_reaches_nothing_but_the_service(browser: webdriver.Chrome, url: str) -> None:
    # What makes the tests above prove "works offline": a CDN is out of reach, by name or
    # by address, so a page that needed one would have failed.
    with pytest.raises(WebDriverException, match=r"net::ERR_"):
        browser.get(url)
