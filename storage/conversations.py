"""Open question flows: conversation states and per-person user data, as JSON text.

What the JSON says is bot/telegram/persistence.py's business; this module only keeps the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from storage.db import Conn, Database


class StoredConversation(NamedTuple):
    conversation: str  # the conversation key as JSON
    state: str  # JSON


class StoredUserData(NamedTuple):
    user_id: int
    data: str  # JSON


@dataclass(frozen=True, slots=True)
class ConversationWrite:
    handler: str
    conversation: str
    state: str | None  # None: the conversation ended, its row goes


@dataclass(frozen=True, slots=True)
class UserDataWrite:
    user_id: int
    data: str | None  # None: nothing left to keep for this person, their row goes


Write = ConversationWrite | UserDataWrite


class ConversationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def conversations(self, handler: str) -> list[StoredConversation]:
        rows = await self._db.fetchall(
            "SELECT conversation, state FROM conversations WHERE handler = ? ORDER BY conversation",
            (handler,),
        )
        return [StoredConversation(str(row[0]), str(row[1])) for row in rows]

    async def user_data(self) -> list[StoredUserData]:
        rows = await self._db.fetchall("SELECT user_id, data FROM user_data ORDER BY user_id")
        return [StoredUserData(int(row[0]), str(row[1])) for row in rows]

    async def person(
        self, user_id: int, conversations: Sequence[tuple[str, str]]
    ) -> tuple[str | None, dict[tuple[str, str], str]]:
        """One person's stored user_data (None: no row) and the states of `conversations` (handler,
        conversation key as JSON) that have a row, read together: what another replica last wrote."""

        def work(conn: Conn) -> tuple[str | None, dict[tuple[str, str], str]]:
            row = conn.execute("SELECT data FROM user_data WHERE user_id = ?", (user_id,)).fetchone()
            states = {}
            for handler, conversation in conversations:
                found = conn.execute(
                    "SELECT state FROM conversations WHERE handler = ? AND conversation = ?",
                    (handler, conversation),
                ).fetchone()
                if found is not None:
                    states[(handler, conversation)] = str(found[0])
            return (None if row is None else str(row[0])), states

        return await self._db.run_transaction(work)

    async def write(self, writes: Sequence[Write], *, now: float) -> None:
        """Apply `writes` in order in one transaction: a round of PTB's persistence is one commit."""
        if not writes:
            return

        def work(conn: Conn) -> None:
            for write in writes:
                if isinstance(write, ConversationWrite):
                    if write.state is None:
                        conn.execute(
                            "DELETE FROM conversations WHERE handler = ? AND conversation = ?",
                            (write.handler, write.conversation),
                        )
                    else:
                        conn.execute(
                            """
                            INSERT INTO conversations (handler, conversation, state, updated_at)
                            VALUES (?, ?, ?, ?)
                            ON CONFLICT (handler, conversation) DO UPDATE SET
                                state = excluded.state, updated_at = excluded.updated_at
                            """,
                            (write.handler, write.conversation, write.state, now),
                        )
                elif write.data is None:
                    conn.execute("DELETE FROM user_data WHERE user_id = ?", (write.user_id,))
                else:
                    conn.execute(
                        """
                        INSERT INTO user_data (user_id, data, updated_at) VALUES (?, ?, ?)
                        ON CONFLICT (user_id) DO UPDATE SET
                            data = excluded.data, updated_at = excluded.updated_at
                        """,
                        (write.user_id, write.data, now),
                    )

        await self._db.run_transaction(work)

    async def prune(self, *, older_than: float) -> int:
        """Forget flows nobody has touched since `older_than`: people who walked away mid-question."""

        def work(conn: Conn) -> int:
            removed = conn.execute("DELETE FROM conversations WHERE updated_at < ?", (older_than,)).rowcount
            removed += conn.execute("DELETE FROM user_data WHERE updated_at < ?", (older_than,)).rowcount
            return int(removed)

        return await self._db.run_transaction(work)
