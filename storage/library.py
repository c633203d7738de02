"""A person's library: their delivered tracks (those with a Telegram file id), newest first."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from storage.db import Database
from storage.models import Track


class LibraryEntry(BaseModel):
    track: Track
    created_at: float  # when the song was asked for
    params: dict[str, Any]  # what the task asked for, to name a track the provider left untitled


class LibraryPage(BaseModel):
    entries: list[LibraryEntry]
    total: int
    offset: int


# Delivered, not removed from the library, and the person's own.
_THEIRS = """
    FROM tracks tr JOIN tasks t ON t.id = tr.task_id
    WHERE t.user_id = ? AND tr.telegram_file_id IS NOT NULL AND tr.library_hidden_at IS NULL
"""
# LOWER on both sides: SQLite's LIKE ignores case (ASCII only) and PostgreSQL's does not.
_MATCHES = (
    " AND (LOWER(tr.title) LIKE LOWER(?) ESCAPE '\\' OR LOWER(tr.tags) LIKE LOWER(?) ESCAPE '\\'"
    " OR LOWER(tr.prompt) LIKE LOWER(?) ESCAPE '\\')"
)


def _like(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class LibraryRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def page(self, user_id: int, *, query: str = "", offset: int = 0, limit: int = 5) -> LibraryPage:
        """One page of the person's songs; `query`: every word must appear in the title, style or lyrics."""
        where = _THEIRS
        params: list[object] = [user_id]
        for word in query.split():
            where += _MATCHES
            params += [_like(word)] * 3
        count = await self._db.fetchone(f"SELECT COUNT(*) AS n {where}", params)
        rows = await self._db.fetchall(
            f"""
            SELECT tr.*, t.created_at AS task_created_at, t.params AS task_params {where}
            ORDER BY tr.sent_at DESC, tr.id DESC LIMIT ? OFFSET ?
            """,
            [*params, limit, max(offset, 0)],
        )
        return LibraryPage(
            entries=[entry_of(row) for row in rows], total=int(count["n"]) if count else 0, offset=offset
        )

    async def entry(self, user_id: int, track_id: int) -> LibraryEntry | None:
        """The person's own delivered track, unless they removed it from the library."""
        row = await self._db.fetchone(
            f"SELECT tr.*, t.created_at AS task_created_at, t.params AS task_params {_THEIRS} AND tr.id = ?",
            (user_id, track_id),
        )
        return entry_of(row) if row else None

    async def hide(self, user_id: int, track_id: int, *, now: float) -> bool:
        """Remove a track from its owner's library; False when it is not theirs or already gone."""
        changed = await self._db.execute(
            """
            UPDATE tracks SET library_hidden_at = ?
            WHERE id = ? AND library_hidden_at IS NULL
              AND task_id IN (SELECT id FROM tasks WHERE user_id = ?)
            """,
            (now, track_id, user_id),
        )
        return changed > 0

    async def titles(self, task_ids: list[int]) -> dict[int, list[str]]:
        """The non-empty titles of each task's tracks, in track order (for /status)."""
        if not task_ids:
            return {}
        marks = ",".join("?" * len(task_ids))
        rows = await self._db.fetchall(
            f"SELECT task_id, title FROM tracks WHERE task_id IN ({marks}) AND title != '' "
            "ORDER BY task_id, position",
            task_ids,
        )
        found: dict[int, list[str]] = {}
        for row in rows:
            found.setdefault(int(row["task_id"]), []).append(str(row["title"]))
        return found


def entry_of(row: Any) -> LibraryEntry:
    """A library entry from a row of tracks.* with the task's created_at and params beside it."""
    data = dict(row)
    params = json.loads(data.pop("task_params") or "{}")
    created_at = float(data.pop("task_created_at"))
    return LibraryEntry(track=Track.model_validate(data), created_at=created_at, params=params)
