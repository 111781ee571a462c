"""The two distributions of this repository: the service (todo-api) and its command-line
client (todo-api-cli), which installs without any of the service's packages."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9._-]+)==(\S+)", re.MULTILINE)


def pins(lock: Path) -> dict[str, str]:
    return {name.lower(): version for name, version in PIN.findall(lock.read_text())}


def requirement_names(distribution: str) -> set[str]:
    requirements = importlib.metadata.requires(distribution) or []
    return {
        re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0].lower()
        for requirement in requirements
        if "extra ==" not in requirement
    }


def test_the_client_requires_only_its_own_four_packages() -> None:
    assert requirement_names("todo-api-cli") == {"click", "rich", "platformdirs", "httpx"}


def test_the_service_does_not_require_the_client_packages() -> None:
    assert not requirement_names("todo-api") & {"click", "rich", "platformdirs", "httpx"}


def test_the_client_lock_pins_what_the_project_lock_pins() -> None:
    client = pins(ROOT / "client" / "requirements.lock")
    project = pins(ROOT / "requirements.lock")
    assert client == {name: project.get(name) for name in client}


def test_the_project_lock_installs_the_client_beside_the_service() -> None:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    assert "-e ./client" in lines
