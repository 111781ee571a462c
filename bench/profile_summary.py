"""Summarise py-spy profiles that `bench/run.py --profile DIR` recorded (raw, collapsed stacks).

    .venv/bin/python bench/profile_summary.py DIR/service-get.txt DIR/baseline-get.txt

For each file: where the samples end (self time by library), and how much time sits under
a few frames that matter for this service (inclusive). Samples of worker threads parked
in a wait are left out: they are idle, not work.
"""

from __future__ import annotations

import argparse
import collections
import re
from pathlib import Path

# Innermost frame's file -> library; first match wins.
LIBRARIES = (
    ("todo_api/", "todo_api (the service's own code)"),
    ("baseline.py", "baseline.py"),
    ("fastapi/", "fastapi"),
    ("starlette/", "starlette"),
    ("pydantic", "pydantic"),
    ("sqlalchemy/", "sqlalchemy"),
    ("psycopg", "psycopg"),
    ("jwt/", "pyjwt"),
    ("cryptography/", "pyjwt"),
    ("uvicorn/", "uvicorn"),
    ("anyio/", "anyio (thread pool)"),
    ("threading.py", "threading (thread pool hand-off)"),
    ("queue.py", "threading (thread pool hand-off)"),
    ("structlog/", "logging"),
    ("logging/", "logging"),
    ("prometheus_client/", "metrics"),
    ("limits/", "rate limiting"),
    ("asyncio/", "asyncio"),
    ("contextlib.py", "contextlib"),
)

# Inclusive markers: (label, regular expression on a frame).
MARKERS = (
    ("FastAPI dependency solving (solve_dependencies)", r"^solve_dependencies "),
    ("sync code run in the thread pool (run_in_threadpool)", r"^run_in_threadpool "),
    ("SQLAlchemy greenlet bridge (greenlet_spawn)", r"^greenlet_spawn "),
    ("connection checkout and return (Database.connect)", r"^Database\.connect "),
    ("SQLAlchemy pool pre-ping (_do_ping_w_event)", r"^DefaultDialect\._do_ping_w_event "),
    ("new database connections (psycopg connect)", r"^AsyncConnection\.connect "),
    ("SQL statement compilation (Compiled/compile)", r"^(ClauseElement\._compile_w_cache) "),
    (
        "token verification (TokenVerifier.verify / _authenticate)",
        r"(TokenVerifier\.verify|Baseline\._authenticate) ",
    ),
    ("response validation + serialisation (serialize_response)", r"^serialize_response "),
    ("request body validation (request_body_to_args)", r"^request_body_to_args "),
    ("pydantic model_validate (_to_read)", r"^_to_read "),
    ("psycopg waiting on the server (wait_async)", r"^wait_async "),
)

IDLE_LEAVES = re.compile(r"^(Condition\.wait|Queue\.get|Event\.wait|_worker) \(")


def summarise(path: Path, top: int) -> str:
    by_library: collections.Counter[str] = collections.Counter()
    by_marker: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        # py-spy raw lines: process;[thread;]frame;frame... (threads with --threads).
        frames = [
            re.sub(r":\d+\)$", ")", frame)
            for frame in stack.split(";")[1:]
            if not frame.startswith("thread (")
        ]
        if not frames:
            continue
        if IDLE_LEAVES.match(frames[-1]):
            idle += count
            continue
        total += count
        leaf = frames[-1]
        leaves[leaf] += count
        file = leaf[leaf.rfind("(") + 1 :]
        library = next((name for pattern, name in LIBRARIES if pattern in file), "other")
        by_library[library] += count
        for label, pattern in MARKERS:
            if any(re.search(pattern, frame) for frame in frames):
                by_marker[label] += count
    if not total:
        return f"{path}: no samples"
    lines = [f"{path}: {total} busy samples ({idle} idle thread-pool samples left out)"]
    lines.append("  self time by library:")
    lines += [
        f"    {100 * count / total:5.1f}%  {name}" for name, count in by_library.most_common()
    ]
    lines.append("  inclusive time under:")
    lines += [
        f"    {100 * by_marker[label] / total:5.1f}%  {label}"
        for label, _pattern in MARKERS
        if by_marker[label]
    ]
    lines.append(f"  top {top} leaf frames:")
    lines += [f"    {100 * count / total:5.1f}%  {leaf}" for leaf, count in leaves.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    for path in args.files:
        print(summarise(path, args.top))
        print()


if __name__ == "__main__":
    main()
