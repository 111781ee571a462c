"""Measure the candidate storages for task tags on PostgreSQL and SQLite.

The figures behind the choice recorded next to `Task.tags` (src/todo_api/tasks/models.py):
a text[] column with a GIN index vs jsonb with a GIN index vs a join table on PostgreSQL,
a JSON text column read with json_each vs a join table on SQLite. Each shape holds the same
tasks (one heavy user with most of them, so that the tag filter has to be selective rather
than ride the owner index), and runs the same three questions: a page filtered by one rare
tag, the caller's tags with counts, and reading a page of 50 tasks with their tags.

Run: .venv/bin/python bench/tag_storage.py postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

TASKS = 100_000
HEAVY_USER = "heavy"
HEAVY_SHARE = 0.5  # half the rows belong to one user
VOCABULARY = [f"tag{n}" for n in range(40)]
RARE_TAG = "rare"
RARE_EVERY = 500  # 0.2 % of the heavy user's tasks carry it


def seed_rows() -> list[tuple[str, str, str, list[str]]]:
    generator = random.Random(7)
    rows = []
    for n in range(TASKS):
        owner = HEAVY_USER if generator.random() < HEAVY_SHARE else f"user-{n % 1000}"
        tags = generator.sample(VOCABULARY, generator.randint(0, 3))
        if owner == HEAVY_USER and n % RARE_EVERY == 0:
            tags.append(RARE_TAG)
        rows.append((str(uuid.UUID(int=generator.getrandbits(128))), owner, f"task {n}", tags))
    return rows


def timed(run: Callable[[], Any], repeats: int = 30) -> float:
    run()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


POSTGRES_SHAPES: dict[str, dict[str, str]] = {
    "text[] + GIN": {
        "create": "CREATE TABLE t (id uuid PRIMARY KEY, user_id varchar(255), title text, "
        "created_at timestamptz DEFAULT clock_timestamp(), tags text[] NOT NULL DEFAULT '{}');"
        "CREATE INDEX t_owner ON t (user_id, created_at, id);"
        "CREATE INDEX t_tags ON t USING gin (tags)",
        "filter": "SELECT id, title, tags, count(*) OVER () FROM t WHERE user_id = %(u)s "
        "AND tags @> ARRAY[%(tag)s]::text[] ORDER BY created_at DESC, id DESC LIMIT 50",
        "counts": "SELECT tag, count(*) FROM t, unnest(tags) AS tag WHERE user_id = %(u)s "
        "GROUP BY tag ORDER BY tag",
        "page": "SELECT id, title, tags FROM t WHERE user_id = %(u)s "
        "ORDER BY created_at DESC, id DESC LIMIT 50",
    },
    "jsonb + GIN": {
        "create": "CREATE TABLE t (id uuid PRIMARY KEY, user_id varchar(255), title text, "
        "created_at timestamptz DEFAULT clock_timestamp(), tags jsonb NOT NULL DEFAULT '[]');"
        "CREATE INDEX t_owner ON t (user_id, created_at, id);"
        "CREATE INDEX t_tags ON t USING gin (tags jsonb_path_ops)",
        "filter": "SELECT id, title, tags, count(*) OVER () FROM t WHERE user_id = %(u)s "
        "AND tags @> jsonb_build_array(%(tag)s::text) ORDER BY created_at DESC, id DESC LIMIT 50",
        "counts": "SELECT tag, count(*) FROM t, jsonb_array_elements_text(tags) AS tag "
        "WHERE user_id = %(u)s GROUP BY tag ORDER BY tag",
        "page": "SELECT id, title, tags FROM t WHERE user_id = %(u)s "
        "ORDER BY created_at DESC, id DESC LIMIT 50",
    },
    "join table": {
        "create": "CREATE TABLE t (id uuid PRIMARY KEY, user_id varchar(255), title text, "
        "created_at timestamptz DEFAULT clock_timestamp());"
        "CREATE INDEX t_owner ON t (user_id, created_at, id);"
        "CREATE TABLE tt (task_id uuid REFERENCES t ON DELETE CASCADE, user_id varchar(255), "
        "tag text, position smallint, PRIMARY KEY (task_id, tag));"
        "CREATE INDEX tt_owner_tag ON tt (user_id, tag, task_id)",
        "filter": "SELECT id, title, count(*) OVER () FROM t WHERE user_id = %(u)s AND id IN "
        "(SELECT task_id FROM tt WHERE user_id = %(u)s AND tag = %(tag)s) "
        "ORDER BY created_at DESC, id DESC LIMIT 50",
        "counts": "SELECT tag, count(*) FROM tt WHERE user_id = %(u)s GROUP BY tag ORDER BY tag",
        "page": "SELECT t.id, t.title, coalesce((SELECT array_agg(tag ORDER BY position) "
        "FROM tt WHERE tt.task_id = t.id), '{}') FROM t WHERE user_id = %(u)s "
        "ORDER BY created_at DESC, id DESC LIMIT 50",
    },
}


def measure_postgres(admin_url: str, rows: list[tuple[str, str, str, list[str]]]) -> None:
    name = f"tag_storage_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)
        with psycopg.connect(url, autocommit=True) as connection:
            for shape, statements in POSTGRES_SHAPES.items():
                connection.execute("DROP TABLE IF EXISTS tt; DROP TABLE IF EXISTS t")
                connection.execute(statements["create"])
                started = time.perf_counter()
                with connection.cursor() as cursor:
                    if shape == "join table":
                        with cursor.copy("COPY t (id, user_id, title) FROM STDIN") as copy:
                            for task_id, owner, title, _tags in rows:
                                copy.write_row((task_id, owner, title))
                        with cursor.copy(
                            "COPY tt (task_id, user_id, tag, position) FROM STDIN"
                        ) as copy:
                            for task_id, owner, _title, tags in rows:
                                for position, tag in enumerate(tags):
                                    copy.write_row((task_id, owner, tag, position))
                    else:
                        encode = json.dumps if shape.startswith("jsonb") else (lambda t: t)
                        with cursor.copy("COPY t (id, user_id, title, tags) FROM STDIN") as copy:
                            for task_id, owner, title, tags in rows:
                                copy.write_row((task_id, owner, title, encode(tags)))
                load_ms = (time.perf_counter() - started) * 1000
                connection.execute("VACUUM ANALYZE")
                size = connection.execute(
                    "SELECT pg_total_relation_size('t') + "
                    "coalesce(pg_total_relation_size(to_regclass('tt')), 0)"
                ).fetchone()
                params = {"u": HEAVY_USER, "tag": RARE_TAG}
                figures = {
                    query: timed(
                        lambda q=query: connection.execute(statements[q], params).fetchall()
                    )
                    for query in ("filter", "counts", "page")
                }
                plan = connection.execute("EXPLAIN " + statements["filter"], params).fetchall()
                uses = "index" if any("Index" in line[0] for line in plan) else "no index"
                print(
                    f"PostgreSQL {shape:13} load {load_ms:7.0f} ms  size "
                    f"{(size or (0,))[0] / 2**20:5.1f} MiB  rare-tag page {figures['filter']:6.2f} ms"
                    f" ({uses})  tag counts {figures['counts']:6.2f} ms  "
                    f"page of 50 {figures['page']:5.2f} ms"
                )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


SQLITE_SHAPES: dict[str, dict[str, str]] = {
    "JSON text": {
        "create": "CREATE TABLE t (id TEXT PRIMARY KEY, user_id TEXT, title TEXT, "
        "created_at INTEGER, tags JSON NOT NULL DEFAULT '[]');"
        "CREATE INDEX t_owner ON t (user_id, created_at, id)",
        "filter": "SELECT id, title, tags, count(*) OVER () FROM t WHERE user_id = :u AND "
        "EXISTS (SELECT 1 FROM json_each(t.tags) WHERE value = :tag) "
        "ORDER BY created_at DESC, id DESC LIMIT 50",
        "counts": "SELECT j.value, count(*) FROM t, json_each(t.tags) AS j WHERE user_id = :u "
        "GROUP BY j.value ORDER BY j.value",
        "page": "SELECT id, title, tags FROM t WHERE user_id = :u "
        "ORDER BY created_at DESC, id DESC LIMIT 50",
    },
    "join table": {
        "create": "CREATE TABLE t (id TEXT PRIMARY KEY, user_id TEXT, title TEXT, "
        "created_at INTEGER);"
        "CREATE INDEX t_owner ON t (user_id, created_at, id);"
        "CREATE TABLE tt (task_id TEXT, user_id TEXT, tag TEXT, position INTEGER, "
        "PRIMARY KEY (task_id, tag));"
        "CREATE INDEX tt_owner_tag ON tt (user_id, tag, task_id)",
        "filter": "SELECT id, title, count(*) OVER () FROM t WHERE user_id = :u AND id IN "
        "(SELECT task_id FROM tt WHERE user_id = :u AND tag = :tag) "
        "ORDER BY created_at DESC, id DESC LIMIT 50",
        "counts": "SELECT tag, count(*) FROM tt WHERE user_id = :u GROUP BY tag ORDER BY tag",
        "page": "SELECT t.id, t.title, (SELECT json_group_array(tag) FROM "
        "(SELECT tag FROM tt WHERE tt.task_id = t.id ORDER BY position)) FROM t "
        "WHERE user_id = :u ORDER BY created_at DESC, id DESC LIMIT 50",
    },
}


def measure_sqlite(rows: list[tuple[str, str, str, list[str]]]) -> None:
    for shape, statements in SQLITE_SHAPES.items():
        with tempfile.TemporaryDirectory() as folder:
            connection = sqlite3.connect(Path(folder) / "tags.db")
            connection.executescript(statements["create"])
            started = time.perf_counter()
            if shape == "join table":
                connection.executemany(
                    "INSERT INTO t VALUES (?, ?, ?, ?)",
                    [(r[0], r[1], r[2], n) for n, r in enumerate(rows)],
                )
                connection.executemany(
                    "INSERT INTO tt VALUES (?, ?, ?, ?)",
                    [(r[0], r[1], tag, p) for r in rows for p, tag in enumerate(r[3])],
                )
            else:
                connection.executemany(
                    "INSERT INTO t VALUES (?, ?, ?, ?, ?)",
                    [(r[0], r[1], r[2], n, json.dumps(r[3])) for n, r in enumerate(rows)],
                )
            connection.commit()
            load_ms = (time.perf_counter() - started) * 1000
            connection.execute("ANALYZE")
            params = {"u": HEAVY_USER, "tag": RARE_TAG}
            figures = {
                query: timed(lambda q=query: connection.execute(statements[q], params).fetchall())
                for query in ("filter", "counts", "page")
            }
            size = (Path(folder) / "tags.db").stat().st_size
            connection.close()
        print(
            f"SQLite     {shape:13} load {load_ms:7.0f} ms  size {size / 2**20:5.1f} MiB  "
            f"rare-tag page {figures['filter']:6.2f} ms  tag counts {figures['counts']:6.2f} ms  "
            f"page of 50 {figures['page']:5.2f} ms"
        )


def main() -> None:
    rows = seed_rows()
    heavy = sum(1 for row in rows if row[1] == HEAVY_USER)
    print(f"{TASKS} tasks, {heavy} of them one user's; the rare tag on {heavy // RARE_EVERY}")
    if len(sys.argv) > 1:
        measure_postgres(sys.argv[1], rows)
    measure_sqlite(rows)


if __name__ == "__main__":
    main()
