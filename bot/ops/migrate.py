"""`python -m bot migrate-to-postgres`: copy the SQLite database at DATABASE_PATH into DATABASE_URL.

Run with every replica stopped (the SQLite bot too): what is copied is what the replicas then carry on
from, pending work included. Prints one line per table, then the total; a refusal or failure is one line
saying what to change, and the password in DATABASE_URL never shows.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys

from bot.settings import Settings
from storage.db import DatabaseUnavailable
from storage.transfer import TransferRefused, copy_sqlite_to_postgres


def run_migrate_to_postgres(settings: Settings, *, force: bool) -> int:
    if settings.database_url is None:
        print(
            "DATABASE_URL is not set: set it to the PostgreSQL database to copy into "
            "(postgresql://user:password@host:port/database)",
            file=sys.stderr,
        )
        return 2
    url = settings.database_url.get_secret_value()
    source = settings.database_path
    try:
        transfer = asyncio.run(copy_sqlite_to_postgres(source, url, force=force))
    except (TransferRefused, DatabaseUnavailable) as error:
        print(error, file=sys.stderr)
        return 2
    except sqlite3.DatabaseError as error:
        print(f"DATABASE_PATH={source} cannot be read as a SQLite database ({error})", file=sys.stderr)
        return 2
    for table in transfer.tables:
        print(f"{table.name}: {table.rows} rows copied")
    total = sum(table.rows for table in transfer.tables)
    print(
        f"done: {total} rows in {len(transfer.tables)} tables from DATABASE_PATH={source} into "
        f"{transfer.target}; "
        "start the bot (or its replicas) with this DATABASE_URL"
    )
    return 0
