"""The layers route -> service -> repository -> database, with no import running back up.

Read from the source with `ast`, so the rule holds for every module as it is added: a
repository never imports a service, routes or FastAPI; a service never imports routes or
FastAPI (errors are values, rendered by one handler); statements and queries import neither.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src" / "todo_api"
# Module name endings by layer, lowest first.
LOWER_LAYERS = {
    "statements": ("statements", "queries"),
    "repository": ("repository",),
    "service": ("service",),
}
UPPER = {"routes", "dependencies", "responses"}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def layer_of(module: str) -> str | None:
    last = module.rsplit(".", 1)[-1]
    for layer, endings in LOWER_LAYERS.items():
        if last in endings:
            return layer
    return "upper" if last in UPPER else None


def modules_of(layer: str) -> list[Path]:
    endings = LOWER_LAYERS[layer]
    return sorted(path for path in SOURCE.rglob("*.py") if path.stem in endings)


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("statements", {"repository", "service", "upper"}),
        ("repository", {"service", "upper"}),
        ("service", {"upper"}),
    ],
)
def test_no_import_runs_back_up(layer: str, forbidden: set[str]) -> None:
    modules = modules_of(layer)
    assert modules
    for path in modules:
        for module in imports_of(path):
            if module.startswith("todo_api."):
                assert layer_of(module) not in forbidden, f"{path.name} imports {module}"
            assert module.split(".")[0] != "fastapi", f"{path.name} imports {module}"
