"""Forgetting a person on request and pruning old prompts and lyrics: the SQL of the privacy rules.

What stays after either is what accounting needs: each task's row with its owner, kind, stage, times
and failure code (the per-day counts behind quotas and /stats), with none of the person's words.
Tasks still running are never touched: their request is needed until they end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from storage.db import Conn, Database

_ENDED = "stage IN ('complete', 'failed')"
# The columns of a task that hold what the person wrote or what was made from it.
_SCRUB_TASK = (
    "params = '{}', progress_text = NULL, stream_url = NULL, error_text = NULL, progress_message_id = NULL"
)


@dataclass
class Forgotten:
    tasks: int = 0
    tracks: int = 0
    uploads: int = 0
    upload_paths: list[str] = field(default_factory=list)  # files for the caller to delete
    running: int = 0  # tasks not ended: nothing was deleted


class PrivacyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def forget(self, user_id: int) -> Forgotten:
        """Delete everything the bot keeps about the person, unless one of their tasks still runs.

        Their prompts, tracks' metadata, events, uploads' rows, open questions and profile go; an
        admin's access decision about them stays, on a row with no name, username or language.
        """

        def work(conn: Conn) -> Forgotten:
            forgotten = Forgotten()
            forgotten.running = conn.execute(
                f"SELECT COUNT(*) FROM tasks WHERE user_id = ? AND NOT {_ENDED}", (user_id,)
            ).fetchone()[0]
            if forgotten.running:
                return forgotten
            theirs = "SELECT id FROM tasks WHERE user_id = ?"
            forgotten.tracks = conn.execute(
                f"DELETE FROM tracks WHERE task_id IN ({theirs})", (user_id,)
            ).rowcount
            conn.execute(f"DELETE FROM events WHERE task_id IN ({theirs})", (user_id,))
            conn.execute(f"DELETE FROM work WHERE task_id IN ({theirs})", (user_id,))
            conn.execute(
                "DELETE FROM shares WHERE user_id = ?", (user_id,)
            )  # their links die with the tracks
            forgotten.tasks = conn.execute(
                f"UPDATE tasks SET {_SCRUB_TASK}, upload_id = NULL WHERE user_id = ?", (user_id,)
            ).rowcount
            rows = conn.execute(
                "SELECT path FROM uploads WHERE user_id = ? AND deleted_at IS NULL", (user_id,)
            ).fetchall()
            forgotten.upload_paths = [str(row[0]) for row in rows if row[0]]  # '': bytes in the database
            conn.execute(
                "DELETE FROM upload_chunks WHERE upload_id IN (SELECT id FROM uploads WHERE user_id = ?)",
                (user_id,),
            )
            forgotten.uploads = conn.execute("DELETE FROM uploads WHERE user_id = ?", (user_id,)).rowcount
            # A conversation's key is [chat id, user id] (PTB's per_chat and per_user): theirs in any chat.
            keys = conn.execute("SELECT handler, conversation FROM conversations").fetchall()
            conn.executemany(
                "DELETE FROM conversations WHERE handler = ? AND conversation = ?",
                [(row[0], row[1]) for row in keys if _conversation_user(str(row[1])) == user_id],
            )
            conn.execute("DELETE FROM user_data WHERE user_id = ?", (user_id,))
            conn.execute("DELETE FROM people WHERE user_id = ? AND access IS NULL", (user_id,))
            conn.execute(
                "UPDATE people SET first_name = '', username = NULL, language = NULL, "
                "language_override = NULL WHERE user_id = ?",
                (user_id,),
            )
            return forgotten

        return await self._db.run_transaction(work)

    async def prune_words(self, *, ended_before: float) -> int:
        """Prompts and lyrics of tasks that ended before `ended_before`; returns how many tasks lost them."""

        def work(conn: Conn) -> int:
            old = f"SELECT id FROM tasks WHERE {_ENDED} AND finished_at < ?"
            conn.execute(
                f"UPDATE tracks SET prompt = '' WHERE prompt != '' AND task_id IN ({old})", (ended_before,)
            )
            # Events keep the provider's answers, which repeat the prompt and the lyrics.
            conn.execute(
                f"DELETE FROM events WHERE applied_at IS NOT NULL AND task_id IN ({old})", (ended_before,)
            )
            return int(
                conn.execute(
                    f"UPDATE tasks SET {_SCRUB_TASK} WHERE {_ENDED} AND finished_at < ? AND params != '{{}}'",
                    (ended_before,),
                ).rowcount
            )

        return await self._db.run_transaction(work)


def _conversation_user(key: str) -> int | None:
    """The person a stored conversation key names (its last element), or None for a key we cannot read."""
    try:
        parts = json.loads(key)
    except ValueError:
        return None
    return parts[-1] if isinstance(parts, list) and parts and isinstance(parts[-1], int) else None
