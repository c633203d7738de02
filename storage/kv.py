"""Small persistent values (the generated webhook secret)."""

from __future__ import annotations

from storage.db import Database


class KeyValueRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> str | None:
        row = await self._db.fetchone("SELECT value FROM settings WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def get_or_create(self, key: str, make: str) -> str:
        """Store `make` unless a value exists; return the value that won (first writer wins)."""
        await self._db.execute("INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)", (key, make))
        value = await self.get(key)
        assert value is not None
        return value
