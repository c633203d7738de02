"""The PostgreSQL backend: pooled psycopg connections, serializable transactions, versioned migrations.

The repositories' transactions are plain functions of a connection (storage/db.py); here each runs on a
worker thread with a connection from the pool, in one trip as on SQLite, so a transaction never holds a
turn of the event loop and the code of every repository is the same on both backends. psycopg (not
asyncpg) for that reason: its synchronous connections run those functions unchanged.

Every transaction is SERIALIZABLE. On SQLite one writer at a time made every check-then-write safe (a
hold checks the balance, a quota counts today's tasks); on PostgreSQL several replicas write at once, and
serializable isolation keeps those same checks exact. A transaction PostgreSQL cancels for a conflict
(SQLSTATE 40001, or a deadlock 40P01) is run again from the start, which is why transaction functions
touch nothing but the connection.

Parameters are bound on the client (psycopg's ClientCursor) from the `?` / `:name` placeholders both
backends share: the values are quoted into the statement as SQLite's loose typing expects (`? IS NULL`
needs no declared type), and each statement is one round trip.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
from psycopg import errors as pg_errors
from psycopg.adapt import Loader
from psycopg.rows import RowMaker
from psycopg_pool import ConnectionPool, PoolTimeout

from storage.db import (
    Conn,
    DatabaseUnavailable,
    Params,
    UnsupportedDatabaseVersion,
    answers,
    migrations,
    postgres_url_problem,
    returns_rows,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

POOL_SIZE = 8
CONNECT_TIMEOUT = 5.0
MAX_CONFLICT_RETRIES = 20
# Migrations of replicas starting together run one at a time under this advisory lock.
_MIGRATION_LOCK = 7_310_001


class PgRow(tuple[Any, ...]):
    """A row read by position or by column name, as sqlite3.Row is (and `dict(row)` works)."""

    _names: dict[str, int]

    def __new__(cls, values: Sequence[Any], names: dict[str, int]) -> PgRow:
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return super().__getitem__(self._names[key])
        return super().__getitem__(key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: psycopg.Cursor[Any]) -> RowMaker[PgRow]:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: PgRow(values, names)


class _IntegralNumeric(Loader):
    """NUMERIC results (what SUM of a BIGINT column gives) as int when whole, as SQLite returns them."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)


_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|::|\?|:[A-Za-z_]\w*|%")


@functools.lru_cache(maxsize=1024)
def to_psycopg(sql: str) -> str:
    """`?` → `%s`, `:name` → `%(name)s`, a literal `%` → `%%`; quoted text and `::` casts left alone."""

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if token.startswith(":") and token != "::":
            return f"%({token[1:]})s"
        return token

    return _PLACEHOLDER.sub(replace, sql)


def _bind(params: Params) -> Any:
    return params if isinstance(params, dict) else tuple(params)


class _Cursor:
    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class _Conn:
    """A pooled connection inside a transaction, speaking the repositories' placeholders."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Params = ()) -> _Cursor:
        cursor = self._conn.cursor()
        if params:
            cursor.execute(to_psycopg(sql), _bind(params))
        else:
            cursor.execute(sql)  # no parameters: psycopg reads no placeholders (a migration's `%` stays)
        return _Cursor(cursor)

    def executemany(self, sql: str, params: Iterable[Params]) -> None:
        rows = [_bind(p) for p in params]
        if rows:
            self._conn.cursor().executemany(to_psycopg(sql), rows)


def is_busy(error: BaseException) -> bool:
    """The server is out of reach or overloaded for a moment: what was being written may be retried."""
    return isinstance(
        error,
        (psycopg.OperationalError, PoolTimeout, pg_errors.SerializationFailure, pg_errors.DeadlockDetected),
    )


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        problem = postgres_url_problem(url)
        if problem:
            raise DatabaseUnavailable(f"DATABASE_URL {problem}")
        self.url = url
        self._pool_size = pool_size
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        # One thread per pooled connection: a transaction waiting for a connection waits on its thread,
        # never on the default executor that DNS lookups and file work share.
        self._threads = ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="postgres")
        self.conflicts = 0  # transactions run again after a serialization conflict (a metric)

    @property
    def where(self) -> str:
        """The server and database, without the password, for messages."""
        parts = urlsplit(self.url)
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}/{parts.path.strip('/')}"

    # ---- connecting ---------------------------------------------------------------------------------

    @staticmethod
    def _configure(conn: psycopg.Connection[Any]) -> None:
        conn.cursor_factory = psycopg.ClientCursor
        conn.row_factory = _row_factory  # type: ignore[assignment]
        conn.adapters.register_loader("numeric", _IntegralNumeric)
        conn.execute("SET default_transaction_isolation = 'serializable'")
        # As SQLite's busy_timeout: a statement kept waiting for a lock this long fails as busy (and its
        # work is retried by the caller's rules) rather than holding a connection indefinitely.
        conn.execute("SET lock_timeout = '5s'")
        conn.execute("SET TIME ZONE 'UTC'")

    def _open_pool(self) -> None:
        try:
            # Tried once, directly: a bad password or a missing database should say so, not time out.
            psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT).close()
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable(f"DATABASE_URL ({self.where}): {_reason(error)}") from None
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self.url,
            min_size=1,
            max_size=self._pool_size,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            configure=self._configure,
            # A connection the server dropped (a restart, a failover) is noticed before use, not by a query.
            check=ConnectionPool.check_connection,
            open=False,
            name="bot",
        )
        pool.open(wait=True, timeout=CONNECT_TIMEOUT * 2)
        self._pool = pool

    async def open(self) -> None:
        try:
            await self._run(self._open_pool)
        except BaseException:
            self._threads.shutdown(wait=False)
            raise

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await self._run(pool.close)
        self._threads.shutdown(wait=False)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn, *args)

    # ---- statements and transactions ----------------------------------------------------------------

    def _transaction(self, work: Callable[[Conn], T]) -> T:
        if self._pool is None:
            raise RuntimeError("database is not open")
        for attempt in range(MAX_CONFLICT_RETRIES + 1):
            try:
                with self._pool.connection() as conn, conn.transaction():
                    return work(_Conn(conn))  # type: ignore[arg-type]  # _Conn is a Conn
            except (pg_errors.SerializationFailure, pg_errors.DeadlockDetected):
                if attempt == MAX_CONFLICT_RETRIES:
                    raise
                self.conflicts += 1
                # Jittered, growing pause: the transactions that collided should not collide again.
                time.sleep(random.uniform(0, 0.002 * 2 ** min(attempt, 6)))
        raise AssertionError("unreachable")

    async def run_transaction(self, work: Callable[[Conn], T], *, urgent: bool = False) -> T:
        del urgent  # SQLite's single writer queues writes; PostgreSQL runs them side by side
        return await self._run(self._transaction, work)

    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]:
        return await self.run_transaction(lambda conn: conn.execute(sql, params).fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> Any | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Params = ()) -> int:
        def one(conn: Conn) -> int:
            cursor = conn.execute(sql, params)
            if returns_rows(sql):
                row = cursor.fetchone()
                return int(row[0]) if row and row[0] is not None else 0
            return int(cursor.rowcount or 0)

        return await self.run_transaction(one)

    async def insert_rows(self, sql: str, params: Params = (), *, urgent: bool = False) -> list[int]:
        """One multi-row INSERT; its ids in VALUES order (PostgreSQL's RETURNING keeps that order for a
        VALUES list, and the identity column numbers the rows in it one after another)."""
        del urgent
        returning = sql if returns_rows(sql) else f"{sql.rstrip().rstrip(';')} RETURNING id"
        rows = await self.run_transaction(lambda conn: conn.execute(returning, params).fetchall())
        return sorted(int(row[0]) for row in rows)

    async def ping(self) -> bool:
        return await answers(self)

    # ---- schema -------------------------------------------------------------------------------------

    async def stored_version(self) -> int:
        """The schema version, read without creating anything (0 for an empty database)."""

        def read(conn: Conn) -> int:
            exists = conn.execute("SELECT to_regclass('public.schema_version')").fetchone()
            if not exists or exists[0] is None:
                return 0
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return await self.run_transaction(read)

    async def version(self) -> int:
        def read(conn: Conn) -> int:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            return int(row[0]) if row and row[0] is not None else 0

        return await self.run_transaction(read)

    async def migrate(self) -> int:
        """Apply pending migrations in order, all in one transaction that also records the version.

        Replicas starting together take an advisory lock first, so the second finds the work done."""
        found = migrations(self.dialect)
        latest = found[-1][0] if found else 0

        def apply(conn: Conn) -> int:
            # Read committed, not serializable: a serializable snapshot is taken at the first statement,
            # the lock's, so the replica that waited would not see the versions the first one committed
            # and would apply them again (DuplicateTable on two replicas' first start).
            conn.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            conn.execute(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            current = int(row[0]) if row and row[0] is not None else 0
            if current > latest:
                raise UnsupportedDatabaseVersion(
                    f"DATABASE_URL {self.where} is at schema version {current}, "
                    f"newer than this bot's {latest}"
                )
            for version, name, sql in found:
                if version > current:
                    log.info("applying migration postgresql/%s", name)
                    conn.execute(sql)
                    conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            return latest

        return await self.run_transaction(apply)


def _reason(error: psycopg.OperationalError) -> str:
    """What failed, in the operator's words: DNS, refused, authentication, database missing, or the
    server's own first line."""
    text = str(error).strip()
    lowered = text.lower()
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return "the host name does not resolve (DNS)"
    if "connection refused" in lowered:
        return "connection refused (is PostgreSQL running and listening there?)"
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return "authentication failed (user or password)"
    if "does not exist" in lowered and "database" in lowered:
        return "the database does not exist (create it, or fix the name)"
    if "timeout" in lowered or "timed out" in lowered:
        return "no answer in time (firewall, or wrong host/port?)"
    first = text.splitlines()[0] if text else type(error).__name__
    return first[:200]
