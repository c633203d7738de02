"""One aiosqlite connection in WAL mode, transactions, and versioned migrations."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


class UnsupportedDatabaseVersion(Exception):
    """The database was written by a newer version of the bot; running older code on it would corrupt it."""


def _migrations() -> list[tuple[int, str, str]]:
    found = []
    for entry in resources.files("storage.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise RuntimeError(f"migration {name} is out of sequence (expected {expected:04d})")
    return found


def latest_version() -> int:
    """The schema version this code writes: the number of its newest migration."""
    migrations = _migrations()
    return migrations[-1][0] if migrations else 0


class Database:
    """A single connection shared by the process.

    SQLite allows one writer at a time anyway; one connection behind a lock keeps transactions from
    interleaving on the shared connection, as mautrix's async_db does.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        self._conn.row_factory = aiosqlite.Row
        for pragma in (
            "PRAGMA journal_mode=WAL",
            # NORMAL in WAL mode survives a process crash (the case we design for); FULL would add an
            # fsync per commit to survive power loss too.
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=5000",
        ):
            await self._conn.execute(pragma)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("database is not open")
        return self._conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                await self.conn.execute("ROLLBACK")
                raise
            else:
                await self.conn.execute("COMMIT")

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock:
            cursor = await self.conn.execute(sql, tuple(params))
            rows = await cursor.fetchall()
            await cursor.close()
            return list(rows)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock:
            cursor = await self.conn.execute(sql, tuple(params))
            row = await cursor.fetchone()
            await cursor.close()
            return row

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one statement in its own implicit transaction; returns lastrowid (or rowcount for updates)."""
        async with self._lock:
            cursor = await self.conn.execute(sql, tuple(params))
            result = cursor.lastrowid if sql.lstrip().upper().startswith("INSERT") else cursor.rowcount
            await cursor.close()
            return int(result or 0)

    async def version(self) -> int:
        row = await self.fetchone("PRAGMA user_version")
        return int(row[0]) if row else 0

    async def migrate(self) -> int:
        """Apply pending migrations in order, each in a transaction that also records its version."""
        migrations = _migrations()
        current = await self.version()
        latest = migrations[-1][0] if migrations else 0
        if current > latest:
            raise UnsupportedDatabaseVersion(
                f"DATABASE_PATH {self.path} is at schema version {current}, newer than this bot's {latest}"
            )
        for version, name, sql in migrations:
            if version <= current:
                continue
            log.info("applying migration %s", name)
            async with self.transaction() as conn:
                for statement in _split_sql(sql):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {version:d}")
        return latest

    async def ping(self) -> bool:
        try:
            await self.fetchone("SELECT 1")
        except Exception:  # health checks report, never raise
            log.exception("storage ping failed")
            return False
        return True


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
