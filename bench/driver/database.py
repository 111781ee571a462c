"""The benchmark database: created fresh, seeded with COPY, reset after writes, grown."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import psycopg
from baseline import default_list_id
from psycopg.conninfo import conninfo_to_dict

from . import log

TOKEN_LIFETIME = dt.timedelta(hours=6)


@dataclass
class Database:
    admin_url: str
    name: str

    @property
    def url(self) -> str:
        base = conninfo_to_dict(self.admin_url)
        base["dbname"] = self.name
        host = base.get("host", "127.0.0.1")
        port = base.get("port", "5432")
        user = base.get("user", "postgres")
        password = f":{base['password']}" if base.get("password") else ""
        return f"postgresql://{user}{password}@{host}:{port}/{self.name}"

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.url, autocommit=True)


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[Database]:
    name = f"todo_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    log(f"created database {name}")
    try:
        yield Database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"dropped database {name}")


@dataclass
class Seed:
    readers: list[dict[str, Any]]  # {"id", "token", "tasks": [uuid str]}
    writers: list[dict[str, Any]]  # {"id", "token"}
    secret: str


def mint_token(secret: str, subject: str) -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": subject, "iat": now, "exp": now + TOKEN_LIFETIME}
    return jwt.encode(claims, secret, algorithm="HS256")


def seed(db: Database, users: int, tasks_per_user: int, secret: str) -> Seed:
    """Readers own the seeded tasks; writers own what create makes (cleared after each run).
    Every user has its default list already, as after its first request, so the service and
    the references do the same work for a create: one statement."""
    now = dt.datetime.now(dt.UTC)
    readers: list[dict[str, Any]] = [{"id": str(uuid.uuid4()), "tasks": []} for _ in range(users)]
    writers: list[dict[str, Any]] = []
    for _ in range(users):
        user_id = str(uuid.uuid4())
        writers.append({"id": user_id, "token": mint_token(secret, user_id)})
    with db.connect() as conn, conn.cursor() as cursor:
        with cursor.copy(
            "COPY task_lists (id, user_id, name, name_key, is_default, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            for user in [*readers, *writers]:
                list_id = default_list_id(user["id"])
                copy.write_row((list_id, user["id"], "Tasks", "tasks", True, now, now))
        with cursor.copy(
            "COPY tasks (id, user_id, list_id, title, description, completed, created_at,"
            " updated_at, completed_at) FROM STDIN"
        ) as copy:
            for user_number, reader in enumerate(readers):
                user_id = reader["id"]
                task_ids = reader["tasks"]
                for task_number in range(tasks_per_user):
                    task_id = uuid.uuid4()
                    task_ids.append(str(task_id))
                    created = now - dt.timedelta(
                        days=tasks_per_user - task_number, seconds=user_number
                    )
                    completed = task_number % 3 == 0
                    description = (
                        f"Notes for task {task_number} of user {user_number}: "
                        "call back, compare offers, decide by Friday."
                        if task_number % 2 == 0
                        else None
                    )
                    copy.write_row(
                        (
                            task_id,
                            user_id,
                            default_list_id(user_id),
                            f"Task {task_number:03d} of user {user_number:03d}",
                            description,
                            completed,
                            created,
                            created,
                            created if completed else None,
                        )
                    )
                reader["token"] = mint_token(secret, user_id)
    settle(db)
    return Seed(readers=readers, writers=writers, secret=secret)


def reset_writes(db: Database, seeded: Seed) -> None:
    """Remove what create made and vacuum, so every run starts from the same table."""
    with db.connect() as conn:
        conn.execute(
            "DELETE FROM tasks WHERE user_id = ANY(%s)", ([w["id"] for w in seeded.writers],)
        )
    settle(db)


def settle(db: Database) -> None:
    with db.connect() as conn:
        conn.execute("VACUUM (ANALYZE) tasks")
        # Start each run right after a checkpoint, so none falls inside it by the clock.
        conn.execute("CHECKPOINT")


def count_tasks(db: Database) -> int:
    with db.connect() as conn:
        row = conn.execute("SELECT count(*) FROM tasks").fetchone()
    return int(row[0]) if row else 0


def grow_table(db: Database, total_rows: int, tasks_per_user: int) -> float:
    """Fill the table up to `total_rows` with other users' tasks, in SQL; returns seconds."""
    started = time.monotonic()
    missing = total_rows - count_tasks(db)
    if missing <= 0:
        return 0.0
    filler_users = max(1, missing // tasks_per_user)
    with db.connect() as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute(
            """
            INSERT INTO task_lists
                (id, user_id, name, name_key, is_default, created_at, updated_at)
            SELECT md5('filler-list-' || k)::uuid, md5('filler-' || k)::uuid::text,
                   'Tasks', 'tasks', true, now(), now()
            FROM generate_series(0, %(users)s - 1) AS k
            ON CONFLICT DO NOTHING
            """,
            {"users": filler_users},
        )
        conn.execute(
            """
            INSERT INTO tasks
                (id, user_id, list_id, title, description, completed, created_at, updated_at,
                 completed_at)
            SELECT gen_random_uuid(),
                   md5('filler-' || (n %% %(users)s))::uuid::text,
                   md5('filler-list-' || (n %% %(users)s))::uuid,
                   'Filler task ' || n,
                   CASE WHEN n %% 2 = 0 THEN 'Filler notes for task ' || n END,
                   n %% 3 = 0,
                   at, at,
                   CASE WHEN n %% 3 = 0 THEN at END
            FROM generate_series(1, %(rows)s) AS n,
                 LATERAL (SELECT now() - make_interval(secs => n * 7) AS at) AS t
            """,
            {"users": filler_users, "rows": missing},
        )
    settle(db)
    return time.monotonic() - started
