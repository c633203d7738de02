"""People who wrote to the bot."""

from __future__ import annotations

from typing import Any

from storage.db import Conn, Database
from storage.models import Person


class PeopleRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def seen(
        self,
        user_id: int,
        private_chat_id: int | None,
        *,
        first_name: str,
        username: str | None,
        language: str | None,
        now: float,
    ) -> Person:
        """Record that a person wrote to the bot; returns their row.

        `private_chat_id` is their private chat with the bot when they wrote there, None when they wrote
        in a group: a group never replaces the private chat already kept.
        """

        def work(conn: Conn) -> Any:
            conn.execute(
                """
                INSERT INTO people
                    (user_id, chat_id, first_name, username, language, created_at, last_seen_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (user_id) DO UPDATE SET
                    chat_id = COALESCE(excluded.chat_id, people.chat_id), first_name = excluded.first_name,
                    username = excluded.username, language = excluded.language,
                    last_seen_at = excluded.last_seen_at,
                    -- writing in a group says nothing about their private chat being unblocked
                    bot_blocked = CASE WHEN excluded.chat_id IS NULL THEN people.bot_blocked ELSE 0 END
                """,
                (user_id, private_chat_id, first_name, username, language, now, now),
            )
            return conn.execute("SELECT * FROM people WHERE user_id = ?", (user_id,)).fetchone()

        row = await self._db.run_transaction(work)
        return Person.from_row(row)

    async def get(self, user_id: int) -> Person | None:
        row = await self._db.fetchone("SELECT * FROM people WHERE user_id = ?", (user_id,))
        return Person.from_row(row) if row else None

    async def set_access(self, user_id: int, access: str | None, *, now: float) -> None:
        """Persist an admin's /allow or /block, creating the row for someone who never wrote yet."""
        await self._db.execute(
            """
            INSERT INTO people (user_id, access, created_at, last_seen_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (user_id) DO UPDATE SET access = excluded.access
            """,
            (user_id, access, now, now),
        )

    async def set_language(self, user_id: int, language: str | None) -> None:
        await self._db.execute(
            "UPDATE people SET language_override = ? WHERE user_id = ?", (language, user_id)
        )

    async def mark_bot_blocked(self, chat_id: int) -> None:
        """Telegram refuses the chat: the person blocked the bot, or a group removed it."""

        def work(conn: Conn) -> None:
            conn.execute("UPDATE people SET bot_blocked = 1 WHERE chat_id = ?", (chat_id,))
            conn.execute("UPDATE chats SET removed = 1 WHERE chat_id = ?", (chat_id,))

        await self._db.run_transaction(work)

    async def mark_bot_unblocked(self, chat_id: int) -> None:
        await self._db.execute("UPDATE people SET bot_blocked = 0 WHERE chat_id = ?", (chat_id,))

    async def count_seen_since(self, since: float) -> int:
        row = await self._db.fetchone("SELECT COUNT(*) FROM people WHERE last_seen_at >= ?", (since,))
        return int(row[0]) if row else 0
