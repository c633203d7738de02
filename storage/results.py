"""The studio's results that are not tracks (storage/migrations/0010_studio.sql), and personas.

A tool task's files are written in the same transaction as the event that brings them (storage/tasks.py
calls `store`), and its one delivery item is recorded there too (`deliveries`): all of a task's files go
out together, so that stems can be one album, and each is sent once.
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.db import Conn, Database
from storage.models import FileData, Persona, ResultFile
from storage.work import Kind, NewWork

FILES_TOPIC = "files"  # deliver:files:<task id>
COVER_TOPIC = (
    "cover"  # deliver:cover:<track id>:<image file id>, a track re-sent with a cover (bot/studio/cover.py)
)

_INSERT_FILE = """
    INSERT INTO task_files (task_id, position, name, media, url, body, title)
    VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (task_id, name) DO NOTHING
"""


def store(conn: Conn, task_id: int, files: Sequence[FileData]) -> None:
    """A task's results, once: the same result reported again (a callback, then a poll) changes nothing."""
    start = conn.execute("SELECT COUNT(*) FROM task_files WHERE task_id = ?", (task_id,)).fetchone()[0]
    conn.executemany(
        _INSERT_FILE,
        [(task_id, int(start) + i, f.name, f.media, f.url, f.text, f.title) for i, f in enumerate(files)],
    )


def deliveries(conn: Conn, task_ids: Sequence[int], now: float) -> list[NewWork]:
    """One delivery item for each of these tasks that has files not sent yet."""
    wanted: list[NewWork] = []
    for task_id in task_ids:
        row = conn.execute(
            "SELECT t.chat_id FROM tasks t WHERE t.id = ? AND EXISTS "
            "(SELECT 1 FROM task_files f WHERE f.task_id = t.id AND f.sent_at IS NULL)",
            (task_id,),
        ).fetchone()
        if row is not None:
            wanted.append(NewWork(Kind.DELIVER, task_id, task_id, row[0], now, topic=FILES_TOPIC))
    return wanted


class ResultRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def files(self, task_id: int) -> list[ResultFile]:
        rows = await self._db.fetchall(
            "SELECT id, task_id, position, name, media, url, body AS text, title, telegram_message_id, "
            "sent_at FROM task_files WHERE task_id = ? ORDER BY position",
            (task_id,),
        )
        return [ResultFile.from_row(row) for row in rows]

    async def file(self, file_id: int) -> ResultFile | None:
        row = await self._db.fetchone(
            "SELECT id, task_id, position, name, media, url, body AS text, title, telegram_message_id, "
            "sent_at FROM task_files WHERE id = ?",
            (file_id,),
        )
        return ResultFile.from_row(row) if row else None

    async def mark_sent(self, file_ids: Sequence[int], *, message_id: int, now: float) -> None:
        if not file_ids:
            return
        await self._db.run_transaction(
            lambda conn: conn.executemany(
                "UPDATE task_files SET telegram_message_id = ?, sent_at = ? WHERE id = ? AND sent_at IS NULL",
                [(message_id, now, file_id) for file_id in file_ids],
            )
        )

    # ---- personas ---------------------------------------------------------------------------------

    async def add_persona(
        self,
        *,
        user_id: int,
        persona_id: str,
        name: str,
        description: str,
        track_id: int | None,
        task_id: int | None,
        now: float,
    ) -> None:
        await self._db.execute(
            "INSERT INTO personas (user_id, persona_id, name, description, track_id, task_id, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (persona_id) DO NOTHING",
            (user_id, persona_id, name, description, track_id, task_id, now),
        )

    async def personas(self, user_id: int) -> list[Persona]:
        rows = await self._db.fetchall(
            "SELECT id, user_id, persona_id, name, description, track_id, created_at FROM personas "
            "WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
        return [Persona.from_row(row) for row in rows]

    async def persona(self, user_id: int, persona_row_id: int) -> Persona | None:
        row = await self._db.fetchone(
            "SELECT id, user_id, persona_id, name, description, track_id, created_at FROM personas "
            "WHERE user_id = ? AND id = ?",
            (user_id, persona_row_id),
        )
        return Persona.from_row(row) if row else None
