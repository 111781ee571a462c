"""What completing a recurring task costs against a plain toggle, in process (no HTTP server).

    .venv/bin/python bench/recurrence.py --database-url postgresql://postgres@127.0.0.1/postgres

On a scratch database (created, migrated and dropped), one user's plain task and recurring
task (FREQ=WEEKLY;BYDAY=MO,TH in Europe/Berlin, so every toggle moves it on) are toggled in
turn through the whole app, `--calls` times per round. Printed per kind: the wall time and the
CPU time of one toggle, the median and best of rounds. The plain toggle is one statement; the
recurring one three (tasks/recurring.py), plus the rule's next occurrence in Python.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import orjson
from in_process import asgi_caller, scratch_database

ROUNDS = 9

Toggle = Callable[[], Awaitable[object]]


async def _timed(toggle: Toggle, calls: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        await toggle()
    return (
        (time.perf_counter() - wall) / calls * 1e6,
        (time.process_time() - cpu) / calls * 1e6,
    )


async def measure(url: str, calls: int) -> dict[str, list[tuple[float, float]]]:
    from asgi_lifespan import LifespanManager
    from tests.conftest import make_settings, make_token

    from todo_api.app import create_app

    app = create_app(make_settings(url, log_level="WARNING"))
    call = asgi_caller(app, make_token("user-recurrence-bench"))
    bodies = {
        "plain": {"title": "plain", "due_at": "2026-01-05T09:00:00+01:00"},
        "recurring": {
            "title": "recurring",
            "due_at": "2026-01-05T09:00:00+01:00",
            "recurrence": {"rule": "FREQ=WEEKLY;BYDAY=MO,TH", "time_zone": "Europe/Berlin"},
        },
    }
    found: dict[str, list[tuple[float, float]]] = {kind: [] for kind in bodies}
    async with LifespanManager(app):
        toggles: dict[str, Toggle] = {}
        for kind, body in bodies.items():
            sent = await call("POST", "/tasks", orjson.dumps(body))
            task = orjson.loads(sent[-1]["body"])
            path = f"/tasks/{task['id']}/toggle"

            async def toggle(path: str = path) -> object:
                sent = await call("PATCH", path)
                assert sent[0]["status"] == 200, sent
                return sent

            toggles[kind] = toggle
        for _round in range(ROUNDS):
            for kind, toggle in toggles.items():
                found[kind].append(await _timed(toggle, calls))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1/postgres")
    parser.add_argument("--calls", type=int, default=100)
    options = parser.parse_args()
    with scratch_database(options.database_url) as url:
        found = asyncio.run(measure(url, options.calls))
    print("| toggle | wall us, median | wall us, best | CPU us, median | CPU us, best |")
    print("|---|---|---|---|---|")
    for kind, figures in found.items():
        walls = [wall for wall, _cpu in figures]
        cpus = [cpu for _wall, cpu in figures]
        print(
            f"| {kind} | {statistics.median(walls):.0f} | {min(walls):.0f} | "
            f"{statistics.median(cpus):.0f} | {min(cpus):.0f} |"
        )


if __name__ == "__main__":
    main()
