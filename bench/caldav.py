"""CalDAV workload: the service against Radicale, in the same run, over real HTTP.

    .venv/bin/python bench/caldav.py                      # 5,000 tasks, 5 rounds
    .venv/bin/python bench/caldav.py --tasks 1000 --rounds 3 --nice 10

For each server: one calendar of `--tasks` VTODOs, created by PUT (the same text on both);
then, `--rounds` times,
- a first sync as DAVx5 or vdirsyncer does it: PROPFIND depth 1 (getetag) of the
  collection, then calendar-multiget of every href in batches of `--batch`;
- an incremental sync: `--changes` tasks edited by PUT, then sync-collection from the last
  token and a multiget of what it names;
and the server's resident memory after each round (it should stay flat). Medians are
printed. The service runs on a fresh PostgreSQL database (`--admin-url`), Radicale (pinned
3.9.0, a bench-only tool) on its own file storage, from its own venv, made on first use at
`--radicale-venv`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import httpx
import jwt
import psycopg

RADICALE = "radicale==3.9.0"
HERE = Path(__file__).resolve().parent
D = "{DAV:}"
PROPFIND = '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/></prop></propfind>'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.request("OPTIONS", url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer")


@dataclass
class Target:
    name: str
    process: subprocess.Popen[bytes]
    collection: str
    headers: dict[str, str]
    base: str
    first_sync: list[float] = field(default_factory=list)
    incremental: list[float] = field(default_factory=list)
    memory: list[int] = field(default_factory=list)


def vtodo(uid: str, summary: str) -> str:
    return (
        f"BEGIN:VTODO\r\nUID:{uid}\r\nDTSTAMP:20261201T000000Z\r\nSUMMARY:{summary}\r\n"
        "DESCRIPTION:A task of the CalDAV benchmark\r\nPRIORITY:5\r\n"
        "DUE:20261224T170000Z\r\nCATEGORIES:bench,home\r\nX-APPLE-SORT-ORDER:1\r\n"
        "END:VTODO\r\n"
    )


CALENDAR = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{}END:VCALENDAR\r\n"


def todo(uid: str, summary: str) -> str:
    return CALENDAR.format(vtodo(uid, summary))


@contextmanager
def service(admin_url: str, nice: int) -> Iterator[Target]:
    name = f"todo_bench_dav_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    secret = secrets.token_hex(32)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "JWT_SECRET": secret,
        "ENVIRONMENT": "development",
        "LOG_LEVEL": "WARNING",
        "RATE_LIMIT_TASKS": "1000000000/minute",
    }
    command = ["nice", "-n", str(nice), str(Path(sys.executable).parent / "todo-api")]
    process = subprocess.Popen([*command, "serve", "--port", str(port)], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(base + "/dav/")
        sub = f"bench-{uuid.uuid4().hex[:8]}"
        now = datetime.now(UTC)
        token = jwt.encode({"sub": sub, "iat": now, "exp": now + timedelta(hours=6)}, secret)
        headers = {"Authorization": f"Bearer {token}"}
        found = httpx.request(
            "PROPFIND",
            f"{base}/dav/calendars/{sub}/",
            headers={**headers, "Depth": "1"},
            content=PROPFIND,
        )
        hrefs = [h.text for h in ElementTree.fromstring(found.content).iter(f"{D}href")]
        collection = next(h for h in hrefs if h and h != f"/dav/calendars/{sub}/")
        yield Target("service", process, collection, headers, base)
    finally:
        process.terminate()
        process.wait(timeout=20)
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def radicale(venv: Path, nice: int) -> Iterator[Target]:
    if not (venv / "bin" / "radicale").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", RADICALE], check=True)
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        config = Path(folder) / "config"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = none\n"
            f"[storage]\nfilesystem_folder = {folder}/collections\n[logging]\nlevel = warning\n"
        )
        command = ["nice", "-n", str(nice), str(venv / "bin" / "radicale"), "--config", str(config)]
        process = subprocess.Popen(command)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_for(base + "/")
            headers = {"Authorization": "Basic YmVuY2g6YmVuY2g="}  # bench:bench
            collection = "/bench/tasks/"
            body = (
                '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" '
                'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
                '<C:supported-calendar-component-set><C:comp name="VTODO"/>'
                "</C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"
            )
            made = httpx.request("MKCALENDAR", base + collection, headers=headers, content=body)
            made.raise_for_status()
            yield Target("radicale", process, collection, headers, base)
        finally:
            process.terminate()
            process.wait(timeout=20)


def seed_collection(target: Target, count: int) -> None:
    """Radicale takes a whole calendar PUT to the collection and stores one item per UID
    (`<uid>.ics`), the names the service's resources get by PUT: seeding Radicale with one
    PUT per task grew slower with every task (over ten minutes for 5,000)."""
    body = "".join(vtodo(f"bench-{number}", f"Task {number}") for number in range(count))
    calendar = CALENDAR.format(body)
    response = httpx.put(
        target.base + target.collection,
        content=calendar,
        headers={**target.headers, "Content-Type": "text/calendar"},
        timeout=600,
    )
    response.raise_for_status()


async def seed(target: Target, count: int) -> None:
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=target.base, headers=target.headers, timeout=60) as http:

        async def put(number: int) -> None:
            async with limit:
                text = todo(f"bench-{number}", f"Task {number}")
                response = await http.put(
                    f"{target.collection}bench-{number}.ics",
                    content=text,
                    headers={"Content-Type": "text/calendar"},
                )
                response.raise_for_status()

        await asyncio.gather(*(put(number) for number in range(count)))


def multiget(hrefs: list[str]) -> str:
    links = "".join(f"<D:href>{href}</D:href>" for href in hrefs)
    return (
        '<?xml version="1.0"?><C:calendar-multiget xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
        f"</D:prop>{links}</C:calendar-multiget>"
    )


def sync_body(token: str) -> str:
    return (
        '<?xml version="1.0"?><D:sync-collection xmlns:D="DAV:">'
        f"<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>"
        "<D:prop><D:getetag/></D:prop></D:sync-collection>"
    )


def member_hrefs(content: bytes, collection: str) -> list[str]:
    root = ElementTree.fromstring(content)
    found = []
    for response in root.findall(f"{D}response"):
        href = response.findtext(f"{D}href") or ""
        if (
            href.rstrip("/") != collection.rstrip("/")
            and response.find(f".//{D}getetag") is not None
        ):
            found.append(href)
    return found


def first_sync(http: httpx.Client, target: Target, batch: int, expected: int) -> float:
    started = time.perf_counter()
    listing = http.request("PROPFIND", target.collection, content=PROPFIND, headers={"Depth": "1"})
    hrefs = member_hrefs(listing.content, target.collection)
    received = 0
    for start in range(0, len(hrefs), batch):
        answer = http.request(
            "REPORT",
            target.collection,
            content=multiget(hrefs[start : start + batch]),
            headers={"Depth": "1"},
        )
        received += answer.content.count(b"BEGIN:VTODO")
    elapsed = time.perf_counter() - started
    assert received == expected, (target.name, received, expected)
    return elapsed


def incremental(http: httpx.Client, target: Target, token: str, changes: int, round_: int) -> str:
    for number in range(changes):
        text = todo(f"bench-{number}", f"Task {number} round {round_}")
        http.put(f"{target.collection}bench-{number}.ics", content=text).raise_for_status()
    started = time.perf_counter()
    answer = http.request(
        "REPORT", target.collection, content=sync_body(token), headers={"Depth": "1"}
    )
    hrefs = member_hrefs(answer.content, target.collection)
    fetched = http.request(
        "REPORT", target.collection, content=multiget(hrefs), headers={"Depth": "1"}
    )
    target.incremental.append(time.perf_counter() - started)
    assert fetched.content.count(b"BEGIN:VTODO") == changes, (target.name, len(hrefs))
    return ElementTree.fromstring(answer.content).findtext(f"{D}sync-token") or ""


def run(target: Target, args: argparse.Namespace) -> None:
    if target.name == "radicale":
        seed_collection(target, args.tasks)
    else:
        asyncio.run(seed(target, args.tasks))
    with httpx.Client(base_url=target.base, headers=target.headers, timeout=300) as http:
        first = http.request(
            "REPORT", target.collection, content=sync_body(""), headers={"Depth": "1"}
        )
        token = ElementTree.fromstring(first.content).findtext(f"{D}sync-token") or ""
        for round_ in range(args.rounds):
            target.first_sync.append(first_sync(http, target, args.batch, args.tasks))
            token = incremental(http, target, token, args.changes, round_)
            target.memory.append(rss_kib(target.process.pid))


def report(targets: list[Target], args: argparse.Namespace) -> None:
    print(f"\n{args.tasks} tasks, multiget batches of {args.batch}, {args.rounds} rounds (medians)")
    changed = f"sync of {args.changes}"
    print(f"{'target':<10} {'first sync':>12} {changed:>12}  memory KiB by round")
    for target in targets:
        print(
            f"{target.name:<10} {statistics.median(target.first_sync) * 1000:>10.0f}ms"
            f" {statistics.median(target.incremental) * 1000:>10.1f}ms  {target.memory}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--nice", type=int, default=0)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--radicale-venv", type=Path, default=HERE / ".radicale-venv")
    args = parser.parse_args()
    targets = []
    with service(args.admin_url, args.nice) as ours:
        run(ours, args)
        targets.append(ours)
    report(targets, args)
    with radicale(args.radicale_venv, args.nice) as reference:
        run(reference, args)
        targets.append(reference)
    report(targets, args)


if __name__ == "__main__":
    main()
