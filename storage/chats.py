"""Groups the bot was added to or removed from, as Telegram's my_chat_member updates tell."""

from __future__ import annotations

from storage.db import Database


class ChatRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_removed(self, chat_id: int, chat_type: str, *, removed: bool, now: float) -> None:
        await self._db.execute(
            """
            INSERT INTO chats (chat_id, type, removed, updated_at) VALUES (?, ?, ?, ?)
            ON CONFLICT (chat_id) DO UPDATE SET
                type = excluded.type, removed = excluded.removed, updated_at = excluded.updated_at
            """,
            (chat_id, chat_type, int(removed), now),
        )

    async def removed(self, chat_id: int) -> bool | None:
        """Whether the bot was removed from the chat; None for a chat it never heard about."""
        row = await self._db.fetchone("SELECT removed FROM chats WHERE chat_id = ?", (chat_id,))
        return bool(row[0]) if row else None
