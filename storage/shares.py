"""Share links: which track a link gives, whose it is, and whether its owner revoked it."""

from __future__ import annotations

from pydantic import BaseModel

from storage.db import Database
from storage.library import LibraryEntry, entry_of


class Share(BaseModel):
    id: int
    track_id: int
    user_id: int
    created_at: float
    revoked_at: float | None = None
    opened: int = 0


class ShareRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def link_for(self, user_id: int, track_id: int, *, now: float) -> Share | None:
        """The owner's live link to their delivered track (made on first asking); None if not theirs."""
        owned = await self._db.fetchone(
            """
            SELECT 1 FROM tracks tr JOIN tasks t ON t.id = tr.task_id
            WHERE tr.id = ? AND t.user_id = ? AND tr.telegram_file_id IS NOT NULL
            """,
            (track_id, user_id),
        )
        if owned is None:
            return None
        # One live link per track: pressing Share twice gives the same link, and revoking kills it.
        row = await self._db.fetchone(
            "SELECT * FROM shares WHERE track_id = ? AND user_id = ? AND revoked_at IS NULL",
            (track_id, user_id),
        )
        if row is None:
            share_id = await self._db.execute(
                "INSERT INTO shares (track_id, user_id, created_at) VALUES (?, ?, ?) RETURNING id",
                (track_id, user_id, now),
            )
            row = await self._db.fetchone("SELECT * FROM shares WHERE id = ?", (share_id,))
        return Share.model_validate(dict(row)) if row else None

    async def revoke(self, user_id: int, share_id: int, *, now: float) -> bool:
        """Revoke the owner's link; False when it is not theirs or was already revoked."""
        changed = await self._db.execute(
            "UPDATE shares SET revoked_at = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
            (now, share_id, user_id),
        )
        return changed > 0

    async def open(self, share_id: int) -> tuple[Share, LibraryEntry] | None:
        """What a live link gives (counting the opening); None once revoked or its track is gone."""
        row = await self._db.fetchone(
            """
            SELECT tr.*, t.created_at AS task_created_at, t.params AS task_params,
                   s.id AS share_id, s.user_id AS share_user_id, s.created_at AS share_created_at
            FROM shares s JOIN tracks tr ON tr.id = s.track_id JOIN tasks t ON t.id = tr.task_id
            WHERE s.id = ? AND s.revoked_at IS NULL AND tr.telegram_file_id IS NOT NULL
            """,
            (share_id,),
        )
        if row is None:
            return None
        await self._db.execute("UPDATE shares SET opened = opened + 1 WHERE id = ?", (share_id,))
        data = dict(row)
        share = Share(
            id=data.pop("share_id"),
            track_id=data["id"],
            user_id=data.pop("share_user_id"),
            created_at=data.pop("share_created_at"),
        )
        return share, entry_of(data)
