"""Both backends end with one schema: the same versions, tables, columns, indexes and triggers."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from emulators.postgres_server import PostgresServer
from storage.db import migrations
from storage.store import Storage

# What each SQLite declared type is in the PostgreSQL twin.
_TYPES = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text", "BLOB": "bytea"}


def test_both_backends_have_the_same_list_of_versions() -> None:
    sqlite = [(version, name) for version, name, _ in migrations("sqlite")]
    postgres = [(version, name) for version, name, _ in migrations("postgresql")]
    assert postgres == sqlite, "every storage/migrations/NNNN_x.sql needs its postgresql/NNNN_x.sql twin"


async def _sqlite_schema(path: Path) -> dict[str, object]:
    storage = Storage(path)
    await storage.open()
    try:
        db = storage.db
        tables = {
            str(row[0])
            for row in await db.fetchall(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        columns = {}
        for table in tables:
            for row in await db.fetchall(f"PRAGMA table_info({table})"):
                columns[(table, str(row["name"]))] = (
                    _TYPES[str(row["type"]).upper()],
                    bool(row["notnull"]) or bool(row["pk"]),
                )
        indexes = {
            (str(row[0]), str(row[1]))
            for row in await db.fetchall(
                "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
        triggers = {
            (str(row[0]), str(row[1]))
            for row in await db.fetchall("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
        }
        version = await db.version()
    finally:
        await storage.close()
    return {
        "tables": tables,
        "columns": columns,
        "indexes": indexes,
        "triggers": triggers,
        "version": version,
    }


async def _postgres_schema(url: str) -> dict[str, object]:
    storage = Storage(Path("unused"), url=url)
    await storage.open()
    version = await storage.db.version()
    await storage.close()
    with psycopg.connect(url) as conn:
        tables = {
            row[0]
            for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            if row[0] != "schema_version"
        }
        columns = {
            (row[0], row[1]): (row[2], row[3] == "NO")
            for row in conn.execute(
                "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name <> 'schema_version'"
            )
        }
        # Indexes the schema names itself (not those PostgreSQL makes for keys and UNIQUE constraints,
        # which SQLite makes too, as sqlite_autoindex_*).
        indexes = {
            (row[0], row[1])
            for row in conn.execute(
                "SELECT i.tablename, i.indexname FROM pg_indexes i WHERE i.schemaname = 'public' "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
            )
        }
        triggers = {
            (row[0], row[1])
            for row in conn.execute(
                "SELECT event_object_table, trigger_name FROM information_schema.triggers "
                "WHERE trigger_schema = 'public'"
            )
        }
    return {
        "tables": tables,
        "columns": columns,
        "indexes": indexes,
        "triggers": triggers,
        "version": version,
    }


async def test_both_schemas_match(tmp_path: Path, postgres_server: PostgresServer | str) -> None:
    if isinstance(postgres_server, str):
        pytest.skip(f"PostgreSQL unavailable: {postgres_server}")
    url = postgres_server.new_database()
    try:
        sqlite = await _sqlite_schema(tmp_path / "parity.sqlite3")
        postgres = await _postgres_schema(url)
    finally:
        postgres_server.drop_database(url)
    for part in ("version", "tables", "indexes", "triggers"):
        assert postgres[part] == sqlite[part], part
    sqlite_columns, postgres_columns = sqlite["columns"], postgres["columns"]
    assert isinstance(sqlite_columns, dict) and isinstance(postgres_columns, dict)
    assert set(postgres_columns) == set(sqlite_columns)
    differing = {
        c: (sqlite_columns[c], postgres_columns[c])
        for c in sqlite_columns
        if sqlite_columns[c] != postgres_columns[c]
    }
    assert not differing, differing
