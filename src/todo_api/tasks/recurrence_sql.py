"""A task's recurrence in SQL: its storage columns as the object of a task response.

Built by the database with the row, so that pages and sync, rendered straight from rows
(tasks/responses.py, tasks/changes.py), carry it as GET does. The two dialects differ in
the JSON function and in one SQLite quirk, side by side here.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, case, literal_column, null, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from todo_api.tasks.models import tasks_table as tasks


class JsonObject(FunctionElement[Any]):
    """A JSON object from alternating keys and values: PostgreSQL's json_build_object,
    SQLite's json_object."""

    type = JSON()
    inherit_cache = True


@compiles(JsonObject, "postgresql")
def _json_build_object(element: JsonObject, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


@compiles(JsonObject)
def _json_object(element: JsonObject, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"


class NoRecurrence(FunctionElement[bool]):
    """The task has no recurrence, as a column of RETURNING. A FunctionElement with no
    arguments and `inherit_cache`, SQLAlchemy's documented form for a custom construct that
    can be cached: without a cache key every statement holding it was compiled again on each
    execution (a GET went from 886 to 1,377 us of server CPU, bench/run.py)."""

    type = Boolean()
    inherit_cache = True


@compiles(NoRecurrence)
def _no_recurrence(_element: NoRecurrence, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(tasks.c.recurrence_rule, **kw)} IS NULL"


@compiles(NoRecurrence, "sqlite")
def _no_recurrence_sqlite(_element: NoRecurrence, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite 3.40 answers `column IS NULL` wrongly (false) in the RETURNING of an INSERT
    # into this table; typeof() reads the stored value itself.
    return f"typeof({compiler.process(tasks.c.recurrence_rule, **kw)}) = 'null'"


# `{"rule", "time_zone", "from"}`, or null.
RECURRENCE_OBJECT = type_coerce(
    case(
        (NoRecurrence(), null()),
        else_=JsonObject(
            literal_column("'rule'"),
            tasks.c.recurrence_rule,
            literal_column("'time_zone'"),
            tasks.c.recurrence_time_zone,
            literal_column("'from'"),
            tasks.c.recurrence_from,
        ),
    ),
    JSON(),
).label("recurrence")
