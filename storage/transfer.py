"""Copying a SQLite database into PostgreSQL (`python -m bot migrate-to-postgres`).

The PostgreSQL schema comes from its own migrations (storage/migrations/postgresql, kept in step with
SQLite's), so only rows travel. Tables and foreign keys are read from PostgreSQL's catalog, which gives
the order parents before children; every table's rows are streamed from SQLite in batches and written
with their ids as they are, so that references, signed callback URLs and Telegram buttons that carry an
id stay valid; then each identity column's sequence is moved past the highest id copied. Everything
happens in one PostgreSQL transaction: a copy that fails half way leaves the target as it was.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storage.db import Conn
from storage.postgres import PostgresDatabase
from storage.sqlite import SqliteDatabase

BATCH_ROWS = 500
# Each backend numbers its own schema; the target's is written by its migrations, not copied.
_NOT_COPIED = frozenset({"schema_version"})


class TransferRefused(Exception):
    """The copy cannot start; the message says what to change."""


@dataclass(frozen=True)
class CopiedTable:
    name: str
    rows: int


@dataclass(frozen=True)
class Transfer:
    target: str  # the server and database, without the password
    tables: list[CopiedTable]


@dataclass(frozen=True)
class _Table:
    name: str
    columns: tuple[str, ...]
    identity: tuple[str, ...]  # columns whose values PostgreSQL's sequences hand out


async def copy_sqlite_to_postgres(source: Path, url: str, *, force: bool = False) -> Transfer:
    """Copy every row of the SQLite file at `source` into the PostgreSQL database at `url`.

    The target must hold no rows unless `force`, which empties it first. The source is brought up to
    this code's schema first, as starting the bot would; nothing else in it changes."""
    if not await asyncio.to_thread(source.is_file):
        raise TransferRefused(
            f"DATABASE_PATH={source} is not a file: point it at the SQLite database to copy"
        )
    sqlite_db = SqliteDatabase(source)
    await sqlite_db.open()
    try:
        await sqlite_db.migrate()
    finally:
        await sqlite_db.close()
    target = PostgresDatabase(url)
    await target.open()
    try:
        await target.migrate()
        tables = await target.run_transaction(lambda conn: _copy_all(conn, source, force=force))
        return Transfer(target.where, tables)
    finally:
        await target.close()


def _copy_all(conn: Conn, source: Path, *, force: bool) -> list[CopiedTable]:
    tables = _target_tables(conn)
    # Opened here, on the transaction's own thread: the transaction may be run again after a
    # conflict, and then it reads the source again from the start.
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        missing = sorted(_source_tables(reader) - {table.name for table in tables} - _NOT_COPIED)
        if missing:
            raise TransferRefused(
                f"the SQLite database has tables PostgreSQL's schema lacks ({', '.join(missing)}): "
                "run the same version of the bot for both"
            )
        occupied = [
            table.name for table in tables if conn.execute(f"SELECT 1 FROM {table.name} LIMIT 1").fetchone()
        ]
        if occupied and not force:
            raise TransferRefused(
                f"DATABASE_URL already holds data (in {', '.join(occupied)}): copy into an empty database, "
                "or pass --force to replace what is there"
            )
        if occupied:
            conn.execute(f"TRUNCATE {', '.join(table.name for table in tables)} RESTART IDENTITY CASCADE")
        copied = [CopiedTable(table.name, _copy_table(conn, reader, table)) for table in tables]
    finally:
        reader.close()
    for table in tables:
        for column in table.identity:
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence(?, ?), "
                f"(SELECT COALESCE(MAX({column}), 0) + 1 FROM {table.name}), false)",
                (table.name, column),
            )
    return copied


def _copy_table(conn: Conn, reader: sqlite3.Connection, table: _Table) -> int:
    columns = ", ".join(table.columns)
    # In id order, so that a row can only refer to rows written before it.
    order = f" ORDER BY {table.identity[0]}" if table.identity else ""
    rows = 0
    for batch in _batches(reader.execute(f"SELECT {columns} FROM {table.name}{order}")):
        one_row = "(" + ", ".join("?" * len(table.columns)) + ")"
        conn.execute(
            f"INSERT INTO {table.name} ({columns}) VALUES {', '.join([one_row] * len(batch))}",
            [value for row in batch for value in row],
        )
        rows += len(batch)
    return rows


def _batches(cursor: sqlite3.Cursor) -> Iterator[Sequence[tuple[Any, ...]]]:
    while batch := cursor.fetchmany(BATCH_ROWS):
        yield batch


def _source_tables(reader: sqlite3.Connection) -> set[str]:
    rows = reader.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
    return {row[0] for row in rows}


def _target_tables(conn: Conn) -> list[_Table]:
    """The target's tables, each after every table it references (PostgreSQL checks references at once)."""
    columns: dict[str, list[str]] = {}
    identity: dict[str, list[str]] = {}
    for row in conn.execute(
        "SELECT c.table_name, c.column_name, c.is_identity FROM information_schema.columns c "
        "JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
        "WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
        "ORDER BY c.table_name, c.ordinal_position"
    ).fetchall():
        name, column, is_identity = row[0], row[1], row[2]
        if name in _NOT_COPIED:
            continue
        columns.setdefault(name, []).append(column)
        if is_identity == "YES":
            identity.setdefault(name, []).append(column)
    parents: dict[str, set[str]] = {name: set() for name in columns}
    for row in conn.execute(
        "SELECT DISTINCT tc.table_name, ccu.table_name FROM information_schema.table_constraints tc "
        "JOIN information_schema.constraint_column_usage ccu "
        "ON ccu.constraint_schema = tc.constraint_schema AND ccu.constraint_name = tc.constraint_name "
        "WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema()"
    ).fetchall():
        child, parent = row[0], row[1]
        if child in parents and parent != child:  # a table's rows referring to its own come in id order
            parents[child].add(parent)
    ordered: list[str] = []
    while parents:
        ready = sorted(name for name, needs in parents.items() if not needs - set(ordered))
        if not ready:
            raise TransferRefused(f"the tables {', '.join(sorted(parents))} refer to one another in a cycle")
        for name in ready:
            ordered.append(name)
            del parents[name]
    return [_Table(name, tuple(columns[name]), tuple(identity.get(name, ()))) for name in ordered]
