"""Files people sent to the bot."""

from __future__ import annotations

from storage.db import Database
from storage.models import Upload


class UploadRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(
        self,
        *,
        user_id: int,
        chat_id: int,
        path: str,
        file_name: str,
        mime_type: str,
        size: int,
        duration: float,
        sha256: str,
        telegram_file_id: str | None,
        now: float,
    ) -> Upload:
        upload_id = await self._db.execute(
            """
            INSERT INTO uploads (user_id, chat_id, path, file_name, mime_type, size, duration, sha256,
                                 telegram_file_id, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            RETURNING id
            """,
            (user_id, chat_id, path, file_name, mime_type, size, duration, sha256, telegram_file_id, now),
        )
        upload = await self.get(upload_id)
        assert upload is not None
        return upload

    async def count_since(self, user_id: int, since: float) -> int:
        """Files a person sent that were kept, from `since` on (deleted ones count too)."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM uploads WHERE user_id = ? AND created_at >= ?", (user_id, since)
        )
        return int(row["n"]) if row else 0

    async def get(self, upload_id: int) -> Upload | None:
        row = await self._db.fetchone("SELECT * FROM uploads WHERE id = ?", (upload_id,))
        return Upload.from_row(row) if row else None

    async def removable(self, *, created_before: float) -> list[Upload]:
        """Uploads whose file may go: every task using them ended, or they are older than retention."""
        rows = await self._db.fetchall(
            """
            SELECT u.* FROM uploads u
            WHERE u.deleted_at IS NULL AND (
                u.created_at < ?
                OR (EXISTS (SELECT 1 FROM tasks t WHERE t.upload_id = u.id)
                    AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.upload_id = u.id
                                    AND t.stage NOT IN ('complete', 'failed')))
            )
            """,
            (created_before,),
        )
        return [Upload.from_row(row) for row in rows]

    async def add_chunk(self, upload_id: int, seq: int, data: bytes) -> None:
        """One piece of an upload's bytes (for uploads kept in the database), its own commit."""
        await self._db.execute(
            "INSERT INTO upload_chunks (upload_id, seq, data) VALUES (?, ?, ?)", (upload_id, seq, data)
        )

    async def chunk(self, upload_id: int, seq: int) -> bytes | None:
        """Piece `seq` of an upload's bytes, None past the last: read one at a time, never the whole file."""
        row = await self._db.fetchone(
            "SELECT data FROM upload_chunks WHERE upload_id = ? AND seq = ?", (upload_id, seq)
        )
        return None if row is None else bytes(row[0])

    async def delete_chunks(self, upload_id: int) -> int:
        return await self._db.execute("DELETE FROM upload_chunks WHERE upload_id = ?", (upload_id,))

    async def mark_deleted(self, upload_id: int, *, now: float) -> None:
        await self._db.execute("UPDATE uploads SET deleted_at = ? WHERE id = ?", (now, upload_id))
