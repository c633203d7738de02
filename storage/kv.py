"""Small persistent values (the generated webhook secret, the low-balance alert's episode)."""

from __future__ import annotations

from storage.db import Database


class KeyValueRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> str | None:
        row = await self._db.fetchone("SELECT value FROM settings WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def set(self, key: str, value: str) -> None:
        await self._db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    async def delete(self, key: str) -> None:
        await self._db.execute("DELETE FROM settings WHERE key = ?", (key,))

    async def get_or_create(self, key: str, make: str) -> str:
        """Store `make` unless a value exists; return the value that won (first writer wins)."""
        await self._db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT DO NOTHING", (key, make)
        )
        value = await self.get(key)
        assert value is not None
        return value
