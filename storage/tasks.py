"""Tasks and their tracks: creation, submission, and applying provider events."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from storage.db import Database
from storage.models import Stage, Task, TaskKind, Track, TrackData

_STAGE_TIME_COLUMN = {
    Stage.TEXT: "text_at",
    Stage.FIRST: "first_at",
    Stage.COMPLETE: "finished_at",
    Stage.FAILED: "finished_at",
}


@dataclass
class Applied:
    """What applying one event did."""

    task: Task
    previous: Stage
    changed: bool
    new_tracks: list[Track] = field(default_factory=list)


@dataclass
class TaskStats:
    total: int
    complete: int
    failed: int
    active: int
    failures_by_code: dict[str, int]
    by_kind: dict[str, int]


class TaskRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        *,
        user_id: int,
        chat_id: int,
        kind: TaskKind,
        params: dict[str, Any],
        model: str | None,
        upload_id: int | None = None,
        now: float,
    ) -> Task:
        task_id = await self._db.execute(
            """
            INSERT INTO tasks
                (user_id, chat_id, kind, params, model, upload_id, stage, created_at, last_event_at)
            VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)
            """,
            (user_id, chat_id, kind.value, json.dumps(params), model, upload_id, now, now),
        )
        return await self.require(task_id)

    async def get(self, task_id: int) -> Task | None:
        row = await self._db.fetchone("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return Task.from_row(row) if row else None

    async def require(self, task_id: int) -> Task:
        task = await self.get(task_id)
        if task is None:
            raise LookupError(f"task {task_id} does not exist")
        return task

    async def set_progress(self, task_id: int, *, message_id: int | None, text: str) -> None:
        await self._db.execute(
            "UPDATE tasks SET progress_message_id = COALESCE(?, progress_message_id), progress_text = ? "
            "WHERE id = ?",
            (message_id, text, task_id),
        )

    async def mark_submit_started(self, task_id: int, *, now: float) -> None:
        await self._db.execute("UPDATE tasks SET submit_started_at = ? WHERE id = ?", (now, task_id))

    async def mark_submitted(self, task_id: int, provider_task_id: str, *, now: float) -> Task:
        await self._db.execute(
            """
            UPDATE tasks SET provider_task_id = ?, submitted_at = ?, last_event_at = ?,
                stage = CASE WHEN stage = 'queued' THEN 'submitted' ELSE stage END
            WHERE id = ?
            """,
            (provider_task_id, now, now, task_id),
        )
        return await self.require(task_id)

    async def mark_failed(self, task_id: int, *, code: int | None, text: str, now: float) -> bool:
        """Fail a task that has not ended yet; False when it had already ended."""
        changed = await self._db.execute(
            """
            UPDATE tasks SET stage = 'failed', error_code = ?, error_text = ?,
                finished_at = ?, last_event_at = ?
            WHERE id = ? AND stage NOT IN ('complete', 'failed')
            """,
            (code, text, now, now, task_id),
        )
        return changed > 0

    async def touch(self, task_id: int, *, now: float) -> None:
        """Note that the provider was asked about a task, so it is not polled again before the interval."""
        await self._db.execute("UPDATE tasks SET last_event_at = ? WHERE id = ?", (now, task_id))

    async def apply(
        self,
        *,
        event_id: int | None,
        task_id: int,
        reported: Stage,
        tracks: list[TrackData],
        error_code: int | None,
        error_text: str | None,
        now: float,
    ) -> Applied:
        """Apply one event in one transaction: stage forward-only, tracks merged, event marked applied."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,))
            row = await cursor.fetchone()
            if row is None:
                raise LookupError(f"task {task_id} does not exist")
            task = Task.from_row(row)
            previous = task.stage
            new_stage = previous.advanced_by(reported)
            new_tracks: list[Track] = []
            # A stale report (lower than where the task is) must not overwrite what a later stage set.
            if tracks and reported.rank >= previous.rank and previous is not Stage.FAILED:
                new_tracks = await self._merge_tracks(conn, task_id, tracks)
            if new_stage is not None:
                column = _STAGE_TIME_COLUMN.get(new_stage)
                stream_url = next((t.stream_url for t in tracks if t.stream_url), None)
                sets = ["stage = ?", "last_event_at = ?", "stream_url = COALESCE(stream_url, ?)"]
                values: list[Any] = [new_stage.value, now, stream_url]
                if column:
                    sets.append(f"{column} = COALESCE({column}, ?)")
                    values.append(now)
                if new_stage is Stage.FAILED:
                    sets += ["error_code = ?", "error_text = ?"]
                    values += [error_code, error_text]
                await conn.execute(f"UPDATE tasks SET {', '.join(sets)} WHERE id = ?", (*values, task_id))
            else:
                await conn.execute("UPDATE tasks SET last_event_at = ? WHERE id = ?", (now, task_id))
            if event_id is not None:
                await conn.execute("UPDATE events SET applied_at = ? WHERE id = ?", (now, event_id))
            cursor = await conn.execute("SELECT * FROM tasks WHERE id = ?", (task_id,))
            task = Task.from_row(await cursor.fetchone())
        return Applied(task=task, previous=previous, changed=new_stage is not None, new_tracks=new_tracks)

    @staticmethod
    async def _merge_tracks(conn: Any, task_id: int, tracks: list[TrackData]) -> list[Track]:
        inserted: list[Track] = []
        cursor = await conn.execute(
            "SELECT COALESCE(MAX(position), -1) FROM tracks WHERE task_id = ?", (task_id,)
        )
        next_position = int((await cursor.fetchone())[0]) + 1
        for data in tracks:
            cursor = await conn.execute(
                """
                INSERT INTO tracks (task_id, position, audio_id, title, tags, prompt, model_name, duration,
                                    audio_url, stream_url, image_url)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (task_id, audio_id) DO UPDATE SET
                    title = COALESCE(NULLIF(excluded.title, ''), tracks.title),
                    tags = COALESCE(NULLIF(excluded.tags, ''), tracks.tags),
                    prompt = COALESCE(NULLIF(excluded.prompt, ''), tracks.prompt),
                    model_name = COALESCE(NULLIF(excluded.model_name, ''), tracks.model_name),
                    duration = COALESCE(excluded.duration, tracks.duration),
                    audio_url = COALESCE(NULLIF(excluded.audio_url, ''), tracks.audio_url),
                    stream_url = COALESCE(NULLIF(excluded.stream_url, ''), tracks.stream_url),
                    image_url = COALESCE(NULLIF(excluded.image_url, ''), tracks.image_url)
                WHERE tracks.sent_at IS NULL
                RETURNING *, (position = ?) AS is_new
                """,
                (
                    task_id,
                    next_position,
                    data.audio_id,
                    data.title,
                    data.tags,
                    data.prompt,
                    data.model_name,
                    data.duration,
                    data.audio_url,
                    data.stream_url,
                    data.image_url,
                    next_position,
                ),
            )
            row = await cursor.fetchone()
            if row is not None and row["is_new"]:
                next_position += 1
                inserted.append(Track.from_row({k: row[k] for k in row.keys() if k != "is_new"}))  # noqa: SIM118 - Row iterates values
        return inserted

    async def unfinished(self) -> list[Task]:
        rows = await self._db.fetchall(
            "SELECT * FROM tasks WHERE stage NOT IN ('complete', 'failed') ORDER BY id"
        )
        return [Task.from_row(row) for row in rows]

    async def due_for_poll(self, *, quiet_since: float) -> list[Task]:
        """Submitted, unfinished tasks with no event since `quiet_since`."""
        rows = await self._db.fetchall(
            """
            SELECT * FROM tasks WHERE stage IN ('submitted', 'text', 'first')
            AND provider_task_id IS NOT NULL AND last_event_at < ? ORDER BY last_event_at
            """,
            (quiet_since,),
        )
        return [Task.from_row(row) for row in rows]

    async def with_undelivered_tracks(self) -> list[Task]:
        rows = await self._db.fetchall(
            """
            SELECT * FROM tasks t WHERE t.stage = 'complete'
            AND EXISTS (SELECT 1 FROM tracks k WHERE k.task_id = t.id AND k.sent_at IS NULL
                        AND k.audio_url IS NOT NULL)
            ORDER BY t.id
            """
        )
        return [Task.from_row(row) for row in rows]

    async def recent_for_user(self, user_id: int, *, limit: int = 5) -> list[Task]:
        rows = await self._db.fetchall(
            "SELECT * FROM tasks WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit)
        )
        return [Task.from_row(row) for row in rows]

    async def count_active(self, user_id: int) -> int:
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM tasks WHERE user_id = ? AND stage NOT IN ('complete', 'failed')", (user_id,)
        )
        return int(row[0]) if row else 0

    async def count_created_since(self, user_id: int, since: float) -> int:
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM tasks WHERE user_id = ? AND created_at >= ?", (user_id, since)
        )
        return int(row[0]) if row else 0

    async def stats_since(self, since: float) -> TaskStats:
        rows = await self._db.fetchall(
            "SELECT kind, stage, error_code FROM tasks WHERE created_at >= ?", (since,)
        )
        failures: dict[str, int] = {}
        by_kind: dict[str, int] = {}
        complete = failed = active = 0
        for row in rows:
            by_kind[row["kind"]] = by_kind.get(row["kind"], 0) + 1
            if row["stage"] == Stage.COMPLETE:
                complete += 1
            elif row["stage"] == Stage.FAILED:
                failed += 1
                code = str(row["error_code"]) if row["error_code"] is not None else "none"
                failures[code] = failures.get(code, 0) + 1
            else:
                active += 1
        return TaskStats(len(rows), complete, failed, active, failures, by_kind)

    # Tracks

    async def tracks(self, task_id: int) -> list[Track]:
        rows = await self._db.fetchall("SELECT * FROM tracks WHERE task_id = ? ORDER BY position", (task_id,))
        return [Track.from_row(row) for row in rows]

    async def track(self, track_id: int) -> Track | None:
        row = await self._db.fetchone("SELECT * FROM tracks WHERE id = ?", (track_id,))
        return Track.from_row(row) if row else None

    async def track_by_audio_id(self, audio_id: str) -> Track | None:
        row = await self._db.fetchone(
            "SELECT * FROM tracks WHERE audio_id = ? ORDER BY id DESC LIMIT 1", (audio_id,)
        )
        return Track.from_row(row) if row else None

    async def mark_track_sent(self, track_id: int, *, file_id: str, message_id: int, now: float) -> bool:
        """Record a delivery; False when the track was already recorded as sent."""
        changed = await self._db.execute(
            "UPDATE tracks SET telegram_file_id = ?, telegram_message_id = ?, sent_at = ? "
            "WHERE id = ? AND sent_at IS NULL",
            (file_id, message_id, now, track_id),
        )
        return changed > 0
