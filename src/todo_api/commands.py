"""The `todo-api` command: serve, migrate, token."""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from todo_api.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

# The young-generation threshold of served processes (Python's default is 700). Requests
# make no reference cycles worth chasing, yet at 700 the objects of a few dozen concurrent
# requests trigger collections often: with this and gc.freeze(), 32 concurrent pages of 50
# tasks cost about 40 us (7%) less CPU each, 455 against 495 us (bench/micro.py).
GC_YOUNG_THRESHOLD = 10_000


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        print("todo-api: invalid configuration:", file=sys.stderr)
        for line in error.lines:
            print(f"  {line}", file=sys.stderr)
        raise SystemExit(2) from None


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from todo_api import migrations
    from todo_api.observability import configure_logging

    settings = _settings_or_exit()
    # A new user on the SQLite default should just be able to start; deployed environments
    # migrate as a separate, deliberate step.
    if settings.environment == "development" and not args.no_migrate:
        # Configured first, so that waiting for a cold database is logged like the app logs.
        configure_logging(settings)
        migrations.upgrade()
    with _metrics_directory(args.workers):
        uvicorn.run(
            "todo_api.commands:serving_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=False,
            server_header=False,
            # The request context middleware writes one log line per request.
            access_log=False,
            log_config=None,
            timeout_graceful_shutdown=args.graceful_timeout,
        )


def serving_app() -> FastAPI:
    """The app as `serve` runs it in each worker process, with the garbage collector tuned.

    Process tuning, not the app's: apps built by tests and other hosts keep Python's defaults.
    """
    from todo_api.app import create_app

    app = create_app()
    # What is built by now (modules, routes, models) lives as long as the process: keep it
    # out of the collector's scans.
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)
    return app


_METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
_METRICS_FILE_PATTERNS = ("counter_*.db", "gauge_*.db", "histogram_*.db", "summary_*.db")


@contextmanager
def _metrics_directory(workers: int) -> Iterator[None]:
    """With several workers, give prometheus-client a shared folder before they start.

    Each worker writes its metrics there and a scrape of any one of them sums them all.
    Values left by an earlier run would be summed too, so the folder starts empty.
    """
    if workers <= 1:
        yield
        return
    given = os.environ.get(_METRICS_DIR_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for pattern in _METRICS_FILE_PATTERNS:
            for stale in folder.glob(pattern):
                stale.unlink()
        yield
        return
    created = tempfile.mkdtemp(prefix="todo-api-metrics-")
    os.environ[_METRICS_DIR_ENV] = created
    try:
        yield
    finally:
        shutil.rmtree(created, ignore_errors=True)


def _migrate(args: argparse.Namespace) -> None:
    from todo_api import migrations
    from todo_api.observability import configure_logging

    configure_logging(_settings_or_exit())
    if args.check:
        found = migrations.differences()
        for difference in found:
            print(f"  {difference}")
        if found:
            raise SystemExit("todo-api: the database and the models differ (see above)")
        print("the database matches the models")
        return
    if args.downgrade:
        migrations.downgrade(revision=args.revision)
    else:
        migrations.upgrade(revision=args.revision)
    print(f"migrations applied up to {args.revision}")


def _token(args: argparse.Namespace) -> None:
    from todo_api.auth.tokens import issue_token

    settings = _settings_or_exit()
    token, _lifetime = issue_token(settings, args.sub, minutes=args.minutes)
    print(token)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="todo-api", description="A multi-user task service.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--graceful-timeout",
        type=int,
        default=20,
        help="seconds to let in-flight requests finish on SIGTERM",
    )
    serve.add_argument(
        "--no-migrate",
        action="store_true",
        help="in development, do not apply pending migrations at start",
    )
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.add_argument("--downgrade", action="store_true", help="downgrade to REVISION")
    migrate.add_argument(
        "--check",
        action="store_true",
        help="exit non-zero when the database schema and the models differ",
    )
    migrate.set_defaults(handler=_migrate)

    token = commands.add_parser("token", help="mint a token signed with JWT_SECRET")
    token.add_argument("--sub", required=True, help="the user id the token speaks for")
    token.add_argument("--minutes", type=int, default=None)
    token.set_defaults(handler=_token)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
