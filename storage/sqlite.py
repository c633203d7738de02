"""The SQLite backend: one file in WAL mode through aiosqlite, transactions, and versioned migrations."""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from storage.db import Conn, Params, UnsupportedDatabaseVersion, answers, migrations, returns_rows

log = logging.getLogger(__name__)

T = TypeVar("T")

CHECKPOINT_SECONDS = 1.0


class PriorityLock:
    """A lock that hands over to urgent waiters first, then to the others in arrival order."""

    def __init__(self) -> None:
        self._locked = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def hold(self, *, urgent: bool = False) -> AsyncIterator[None]:
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool) -> None:
        if not self._locked:
            self._locked = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._normal).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release()  # handed over just as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the lock passes straight to it, never unlocked in between
                    return
        self._locked = False


class SqliteDatabase:
    """The bot's SQLite file in WAL mode, through three connections, each with its own thread.

    - the writer: every write and transaction, one at a time behind a lock (as mautrix's async_db);
      writes marked urgent (storing a callback before its 200) go before any other queued write;
    - the reader: plain reads, which WAL lets run while a write is under way, so the callback path never
      queues behind a progress message looking up its task;
    - the checkpointer: copies the WAL into the database file in the background (see _checkpoint_forever).
    """

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._write_lock = PriorityLock()
        self._read_lock = asyncio.Lock()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        for pragma in (
            "PRAGMA busy_timeout=5000",  # first: the others may have to wait for another connection
            # NORMAL in WAL mode survives a process crash (the case we design for); FULL would add an
            # fsync per commit to survive power loss too.
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            # Checkpoints copy the WAL into the database file and fsync it: done by the committing
            # connection, every thousandth page's commit would stall for milliseconds, and callbacks wait
            # on those commits. The checkpointer connection does it in the background instead.
            "PRAGMA wal_autocheckpoint=0",
        ):
            await conn.execute_fetchall(pragma)  # fetched: a pragma's unread row would keep a lock
        return conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._writer.execute_fetchall("PRAGMA journal_mode=WAL")
        self._reader = await self._connect()
        self._checkpointer = await self._connect()
        self._checkpoints = asyncio.create_task(self._checkpoint_forever(), name="wal-checkpoints")

    async def _checkpoint_forever(self) -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_SECONDS)
            try:
                # PASSIVE never blocks the writer: it copies what it can while commits go on.
                assert self._checkpointer is not None
                await self._checkpointer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
            except asyncio.CancelledError:
                raise
            except Exception:  # a failed round is retried at the next one; the WAL just grows meanwhile
                log.exception("WAL checkpoint failed")

    async def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            await asyncio.gather(self._checkpoints, return_exceptions=True)
            self._checkpoints = None
        for conn in (self._checkpointer, self._reader):
            if conn is not None:
                await conn.close()
        self._checkpointer = self._reader = None
        if self._writer is not None:
            await self._writer.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")  # leave a compact file
            await self._writer.close()
            self._writer = None

    @property
    def conn(self) -> aiosqlite.Connection:
        """The writer connection (inside `transaction()` use the connection it yields)."""
        if self._writer is None:
            raise RuntimeError("database is not open")
        return self._writer

    async def run_transaction(self, work: Callable[[Conn], T], *, urgent: bool = False) -> T:
        """Run `work` on the writer's thread inside BEGIN IMMEDIATE ... COMMIT, as one trip there.

        `transaction()` awaits each statement: under load every await waits a turn of the busy event loop,
        and the write lock (which the callbacks' commits queue for) is held through all those turns. Here
        the whole transaction runs in one go on the thread. `work` gets the plain sqlite3 connection and
        must not touch the event loop. aiosqlite has no public call for running a function on its thread;
        `_execute` is the one its own methods use (its version range is pinned in pyproject.toml, and
        the storage tests run through this path).
        """
        async with self._write_lock.hold(urgent=urgent):
            conn = self.conn
            return cast(T, await conn._execute(_in_transaction, conn._conn, work))

    # Each aiosqlite call is a round trip to its thread, and a cursor's execute, fetch and close are three:
    # these helpers use the one-trip forms, which matters on the callback path.

    async def fetchall(self, sql: str, params: Params = ()) -> list[aiosqlite.Row]:
        if self._reader is None:
            raise RuntimeError("database is not open")
        async with self._read_lock:
            return list(await self._reader.execute_fetchall(sql, _bind(params)))

    async def fetchone(self, sql: str, params: Params = ()) -> aiosqlite.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def insert_rows(self, sql: str, params: Params = (), *, urgent: bool = False) -> range:
        """One multi-row INSERT (its own atomic commit); the ids it gave its rows, in VALUES order.

        One statement numbers its rows one after another from the largest id before it (SQLite's rowid
        rule, and AUTOINCREMENT's), so the ids are the `rowcount` ones ending at `lastrowid`. Cheaper than
        RETURNING: the statement runs as one step, where RETURNING steps (and hands the thread back and
        forth) once per row.
        """
        async with self._write_lock.hold(urgent=urgent):
            cursor = await self.conn.execute(sql, _bind(params))
            last, count = int(cursor.lastrowid or 0), int(cursor.rowcount)
        return range(last - count + 1, last + 1)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement in its own implicit transaction: the first value it returns, else rows changed."""
        async with self._write_lock.hold():
            if returns_rows(sql):
                rows = await self.conn.execute_fetchall(sql, _bind(params))
                return int(rows[0][0]) if rows and rows[0][0] is not None else 0
            cursor = await self.conn.execute(sql, _bind(params))
            return int(cursor.rowcount or 0)  # not closed: that is one more trip, and it closes when freed

    async def version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self) -> int:
        """Apply pending migrations in order, each in a transaction that also records its version."""
        found = migrations(self.dialect)
        current = await self.version()
        latest = found[-1][0] if found else 0
        if current > latest:
            raise UnsupportedDatabaseVersion(
                f"DATABASE_PATH {self.path} is at schema version {current}, newer than this bot's {latest}"
            )
        for version, name, sql in found:
            if version <= current:
                continue
            log.info("applying migration %s", name)
            await self.run_transaction(functools.partial(_apply, sql=sql, version=version))
        return latest

    async def ping(self) -> bool:
        return await answers(self)


def _in_transaction(conn: Conn, work: Callable[[Conn], T]) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work(conn)  # type: ignore[arg-type]  # sqlite3.Connection is a Conn
    except BaseException:
        if conn.in_transaction:  # some errors (a full disk, say) have rolled it back already
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


def _bind(params: Params) -> Any:
    return params if isinstance(params, dict) else tuple(params)


def _apply(conn: Conn, sql: str, version: int) -> None:
    for statement in _split_sql(sql):
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version:d}")


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements; our migrations keep one statement per `;`-terminated block."""
    statements, buffer = [], []
    for line in script.splitlines():
        stripped = line.strip()
        if stripped.startswith("--") or not stripped:
            continue
        buffer.append(line)
        if stripped.endswith(";") and sqlite3.complete_statement("\n".join(buffer)):
            statements.append("\n".join(buffer))
            buffer = []
    if buffer:
        statements.append("\n".join(buffer))
    return statements
