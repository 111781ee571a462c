"""The one way to the database: `Database.connect()` and `Database.transaction()`.

How a route reaches the database: the lifespan builds one `Database` and keeps it in the
app's `Resources`. A `/tasks` route depends on `TaskServiceDep` (tasks/dependencies.py):
on top of `CurrentUser` (the caller, authenticated and rate-limited) it yields a
`TaskService` for the caller whose repositories share the request's `RequestConnection`
(todo_api/connections.py), which enters `database.connect()` when its first statement runs
and keeps that connection until the route is done; each repository method sends one
statement, scoped by the owner. A new table gets a repository of its own, built the same
way; code outside a route opens `database.connect()`.

Autocommit is the default: every connection of the app's engine runs in autocommit, so a
single statement is its own transaction and costs one round trip, with no BEGIN or COMMIT.
Work that needs several statements to be atomic opens a transaction instead:

    async with database.transaction() as connection:
        ...  # BEGIN before the first statement; COMMIT at the end, ROLLBACK on error

(on SQLite it begins with BEGIN IMMEDIATE, so a read then a write holds the write lock
throughout). Prefer folding several steps into one statement (a CTE on PostgreSQL).

Both bound the request's database work by `db_request_timeout_seconds`, through two
pool-event hooks installed on PostgreSQL engines: on checkout a watchdog is armed that shuts
the connection's socket at the deadline, and a connection that idled longer than
`db_ping_after_idle_seconds` is pinged first, a dead one replaced by a fresh connection.
A database that cannot serve (refused, cut, timed out, pool exhausted; on PostgreSQL by
SQLSTATE: too many connections, shutting down, statement timeout...) leaves both as one
error, `DatabaseUnavailableError` (503 with Retry-After); a transaction that lost to a
concurrent one twice (deadlock 40P01, serialization failure 40001) as its subclass
`DatabaseContentionError` (503, Retry-After: 1); any other database error is a bug and
propagates as itself (500). The log keeps the SQLSTATE, never the SQL. Before that,
`execute` runs a statement once more after a deadlock or serialization failure (rolled
back, so always safe in autocommit), and, with `safe_to_repeat=True`, on a fresh connection
after its connection was lost: reads, and writes that a second run cannot apply twice;
`run_in_transaction` does the same for a whole transaction. `fetch_all` returns the rows;
every statement goes through SQLAlchemy's `connection.execute`, so its events, disconnect
handling and type processing see them all.

Every statement runs in UTC and under `db_statement_timeout_seconds`: set at session start
(the startup `options`) on direct connections, and in front of each statement, for its
transaction only, through a transaction pooler: declared (DB_POOLED, a Neon `-pooler` host)
or found on connect (engine.py).

The modules:
- `handle.py`: `Database`, the app's connections (`connect()`, `transaction()`).
- `statements.py`: `execute`, `fetch_all`, `in_transaction`, `run_in_transaction`.
- `engine.py`: `create_engine`, connection parameters, transaction poolers, SQLite set-up.
- `resilience.py`: the request deadline's watchdog, the idle ping, which errors mean 503.
- `types.py`: `UTCDateTime`, `utc_now`, the constraint naming convention, `built_only_on`.
"""

from todo_api.database.engine import (
    create_engine,
    is_pooled_host,
    postgres_connect_args,
    session_settings,
    uses_transaction_pooler,
)
from todo_api.database.handle import Database
from todo_api.database.statements import execute, fetch_all, in_transaction, run_in_transaction
from todo_api.database.types import (
    NAMING_CONVENTION,
    ONLY_ON_DIALECT,
    UTCDateTime,
    built_only_on,
    utc_now,
)

__all__ = [
    "NAMING_CONVENTION",
    "ONLY_ON_DIALECT",
    "Database",
    "UTCDateTime",
    "built_only_on",
    "create_engine",
    "execute",
    "fetch_all",
    "in_transaction",
    "is_pooled_host",
    "postgres_connect_args",
    "run_in_transaction",
    "session_settings",
    "uses_transaction_pooler",
    "utc_now",
]
