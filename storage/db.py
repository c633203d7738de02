"""What every storage backend offers the repositories, and how the bot picks one.

Two backends hold the same schema behind the same calls: SQLite (storage/sqlite.py, the embedded default,
one process) and PostgreSQL (storage/postgres.py, any number of replicas). Repositories write SQL in the
subset both understand: `?` (or `:name`) placeholders, `INSERT ... ON CONFLICT`, `RETURNING`, no
backend's own functions. A transaction is a plain function of a `Conn`, run in one trip on the backend's
thread, so it holds no turn of the event loop while its statements run; it must touch nothing but the
connection, because PostgreSQL may run it again after a serialization conflict.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

T = TypeVar("T")

Params = Sequence[Any] | dict[str, Any]

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
DIALECTS = ("sqlite", "postgresql")


class UnsupportedDatabaseVersion(Exception):
    """The database was written by a newer version of the bot; running older code on it would corrupt it."""


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used; the message names the variable and what failed."""


class Row(Protocol):
    def __getitem__(self, key: int | str) -> Any: ...
    def keys(self) -> list[str]: ...
    def __iter__(self) -> Iterator[Any]: ...
    def __len__(self) -> int: ...


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A connection inside a transaction, as the repositories' transaction functions see it."""

    def execute(self, sql: str, params: Params = ()) -> Cursor: ...
    def executemany(self, sql: str, params: Iterable[Params]) -> Any: ...


class Database(Protocol):
    dialect: str  # "sqlite" | "postgresql"

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def migrate(self) -> int: ...
    async def version(self) -> int: ...
    async def ping(self) -> bool: ...
    async def fetchall(self, sql: str, params: Params = ()) -> list[Any]: ...
    async def fetchone(self, sql: str, params: Params = ()) -> Any | None: ...
    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement in its own transaction: the first value it returns (`RETURNING id`), else the rows it
        changed."""
        ...

    async def insert_rows(self, sql: str, params: Params = (), *, urgent: bool = False) -> Sequence[int]:
        """One multi-row INSERT (its own commit); the ids it gave its rows, in VALUES order."""
        ...

    async def run_transaction(self, work: Callable[[Conn], T], *, urgent: bool = False) -> T: ...


def is_busy(error: BaseException) -> bool:
    """The database is busy or out of reach for a moment (whichever backend): the write may be retried."""
    if isinstance(error, sqlite3.OperationalError):
        # Another connection holds the file's lock longer than busy_timeout (a backup, a second process).
        return "locked" in str(error).lower() or "busy" in str(error).lower()
    if "psycopg" in sys.modules:  # loaded only when PostgreSQL is in use
        from storage.postgres import is_busy as postgres_busy

        return postgres_busy(error)
    return False


_RETURNING = re.compile(r"\bRETURNING\b", re.IGNORECASE)


def returns_rows(sql: str) -> bool:
    """The statement hands back rows (`INSERT ... RETURNING id`): `execute` reads them."""
    return bool(_RETURNING.search(sql))


async def answers(db: Database) -> bool:
    """The health check's question: does the database answer a query? (Reports, never raises.)"""
    try:
        await db.fetchone("SELECT 1")
    except Exception:
        log.exception("storage ping failed")
        return False
    return True


def migrations(dialect: str) -> list[tuple[int, str, str]]:
    """(version, file name, SQL) of one backend's migrations, checked to be numbered 1, 2, 3, ..."""
    package = "storage.migrations" if dialect == "sqlite" else f"storage.migrations.{dialect}"
    found = []
    for entry in resources.files(package).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    for expected, (version, name, _) in enumerate(found, start=1):
        if version != expected:
            raise RuntimeError(f"migration {name} is out of sequence (expected {expected:04d})")
    return found


def latest_version(dialect: str = "sqlite") -> int:
    """The schema version this code writes: the number of its newest migration."""
    found = migrations(dialect)
    return found[-1][0] if found else 0


def postgres_url_problem(url: str) -> str | None:
    """Why DATABASE_URL is not a PostgreSQL URL the bot can use, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        return f"is malformed ({error})"
    if parts.scheme not in ("postgresql", "postgres"):
        return f"must start with postgresql:// (got {parts.scheme or 'no scheme'}://)"
    if not parts.hostname and "host=" not in parts.query:
        return "names no host (postgresql://user:password@host:port/database)"
    if not parts.path.strip("/"):
        return "names no database (postgresql://user:password@host:port/database)"
    del port
    return None


def open_database(*, path: Path, url: str | None) -> Database:
    """The backend the settings ask for: PostgreSQL when DATABASE_URL is set, else SQLite at DATABASE_PATH."""
    if url:
        from storage.postgres import PostgresDatabase  # imported only when used: psycopg loads libpq

        return PostgresDatabase(url)
    from storage.sqlite import SqliteDatabase

    return SqliteDatabase(path)
