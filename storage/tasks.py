"""Tasks and their tracks: creation, submission, and applying provider events."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from storage import ledger, recovery, results, work
from storage.db import Conn, Database
from storage.models import FileData, Stage, Task, TaskKind, Track, TrackData
from storage.work import Kind, Lease, NewWork, WorkItem

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


@dataclass
class FollowUp:
    """The work a task's change calls for, recorded in the same transaction as the change.

    A new task is to be submitted and shown; a changed one shown again; a submitted one polled when it
    stays quiet for `poll_interval`; a complete one's tracks delivered. What was recorded (leased to
    `lease` where nobody alive holds it) is appended to `recorded` for the caller to start on at once.
    """

    lease: Lease | None
    poll_interval: float
    recorded: list[WorkItem] = field(default_factory=list)
    recoveries: int = 0  # recovery tasks created (storage/recovery.py), for the metrics


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
        follow_up: FollowUp | None = None,
        charge: ledger.Charge | None = None,
    ) -> Task:
        """A queued task; with `follow_up`, its submission and first progress message as work, in one go.

        With `charge`, its credits are held in the same transaction (ledger.InsufficientCredits: no task)."""

        def create(conn: Conn) -> int:
            task_id = conn.execute(
                """
                INSERT INTO tasks
                    (user_id, chat_id, kind, params, model, upload_id, stage, created_at, last_event_at)
                VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)
                RETURNING id
                """,
                (user_id, chat_id, kind.value, json.dumps(params), model, upload_id, now, now),
            ).fetchone()[0]
            if charge is not None:
                ledger.hold(conn, user_id=user_id, task_id=task_id, charge=charge, now=now)
            if follow_up is not None:
                follow_up.recorded += work.want(
                    conn,
                    [
                        NewWork(Kind.SUBMIT, task_id, task_id, chat_id, now),
                        NewWork(Kind.PROGRESS, task_id, task_id, chat_id, now),
                    ],
                    now=now,
                    lease=follow_up.lease,
                )
            return task_id

        return await self.require(await self._db.run_transaction(create))

    async def get(self, task_id: int) -> Task | None:
        row = await self._db.fetchone("SELECT * FROM tasks WHERE id = ?", (task_id,))
        return Task.from_row(row) if row else None

    async def many(self, task_ids: Iterable[int]) -> list[Task]:
        tasks: list[Task] = []
        for chunk in _chunks(sorted(set(task_ids))):
            marks = ",".join("?" * len(chunk))
            tasks += [
                Task.from_row(r)
                for r in await self._db.fetchall(f"SELECT * FROM tasks WHERE id IN ({marks})", chunk)
            ]
        return tasks

    async def with_provider_id(self, provider_task_id: str) -> Task | None:
        row = await self._db.fetchone("SELECT * FROM tasks WHERE provider_task_id = ?", (provider_task_id,))
        return Task.from_row(row) if row else None

    async def not_failed_of_kind(self, user_id: int, kind: TaskKind) -> list[Task]:
        """A person's tasks of one kind that have not failed, oldest first (a tool's earlier results)."""
        rows = await self._db.fetchall(
            "SELECT * FROM tasks WHERE user_id = ? AND kind = ? AND stage <> 'failed' ORDER BY id",
            (user_id, kind.value),
        )
        return [Task.from_row(row) for row in rows]

    async def require(self, task_id: int) -> Task:
        task = await self.get(task_id)
        if task is None:
            raise LookupError(f"task {task_id} does not exist")
        return task

    async def with_asker(self, task_id: int) -> tuple[Task, str | None, str]:
        """A task, its person's locale and first name, in one read (a group's progress message names who
        asked)."""
        row = await self._db.fetchone(
            "SELECT tasks.*, COALESCE(people.language_override, people.language) AS person_locale, "
            "COALESCE(people.first_name, '') AS person_name "
            "FROM tasks LEFT JOIN people ON people.user_id = tasks.user_id WHERE tasks.id = ?",
            (task_id,),
        )
        if row is None:
            raise LookupError(f"task {task_id} does not exist")
        data = dict(row)
        locale, name = data.pop("person_locale"), data.pop("person_name")
        return Task.from_row(data), locale, name

    async def with_locale(self, task_id: int) -> tuple[Task, str | None]:
        """A task and the locale of the person it belongs to, in one read (a delivery needs both)."""
        task, locale, _ = await self.with_asker(task_id)
        return task, locale

    async def set_progress(self, task_id: int, *, message_id: int, text: str) -> None:
        """The task's progress message, once it is sent (a new one replaces one the person deleted)."""
        await self._db.execute(
            "UPDATE tasks SET progress_message_id = ?, progress_text = ? WHERE id = ?",
            (message_id, text, task_id),
        )

    async def mark_submit_started(self, task_id: int, *, now: float) -> None:
        """The submission is about to leave: from now on its outcome is uncertain until its answer lands."""
        await self._db.execute("UPDATE tasks SET submit_started_at = ? WHERE id = ?", (now, task_id))

    async def clear_submit_started(self, task_id: int) -> None:
        """The provider answered that it made nothing (busy, maintenance): sending again is safe."""
        await self._db.execute(
            "UPDATE tasks SET submit_started_at = NULL WHERE id = ? AND provider_task_id IS NULL", (task_id,)
        )

    async def mark_submitted(
        self,
        task_id: int,
        provider_task_id: str,
        *,
        now: float,
        follow_up: FollowUp | None = None,
        model: str | None = None,
    ) -> Task:
        """The provider accepted the task. A provider id adopted from a callback first is kept.

        `model`: the one the accepted request named, when a tool's retry sent another than the task's
        (bot/studio/mashup.py); the tracks are that model's, and the tools under them send it."""

        def submitted(conn: Conn) -> None:
            conn.execute(
                """
                UPDATE tasks SET provider_task_id = COALESCE(provider_task_id, ?),
                    submitted_at = COALESCE(submitted_at, ?), last_event_at = ?,
                    stage = CASE WHEN stage = 'queued' THEN 'submitted' ELSE stage END,
                    model = COALESCE(?, model)
                WHERE id = ?
                """,
                (provider_task_id, now, now, model, task_id),
            )
            if follow_up is not None:
                chat_id = conn.execute("SELECT chat_id FROM tasks WHERE id = ?", (task_id,)).fetchone()[0]
                follow_up.recorded += work.want(
                    conn,
                    [
                        NewWork(Kind.PROGRESS, task_id, task_id, chat_id, now),
                        NewWork(Kind.POLL, task_id, task_id, chat_id, now + follow_up.poll_interval),
                    ],
                    now=now,
                    lease=follow_up.lease,
                )

        await self._db.run_transaction(submitted)
        return await self.require(task_id)

    async def mark_failed(
        self, task_id: int, *, code: int | None, text: str, now: float, follow_up: FollowUp | None = None
    ) -> bool:
        """Fail a task that has not ended yet; False when it had already ended."""

        def failed(conn: Conn) -> bool:
            changed = conn.execute(
                """
                UPDATE tasks SET stage = 'failed', error_code = ?, error_text = ?,
                    finished_at = ?, last_event_at = ?
                WHERE id = ? AND stage NOT IN ('complete', 'failed')
                """,
                (code, text, now, now, task_id),
            ).rowcount
            if changed and follow_up is not None:
                chat_id = conn.execute("SELECT chat_id FROM tasks WHERE id = ?", (task_id,)).fetchone()[0]
                follow_up.recorded += work.want(
                    conn,
                    [NewWork(Kind.PROGRESS, task_id, task_id, chat_id, now)],
                    now=now,
                    lease=follow_up.lease,
                )
                # A recovery that failed still owes the person word of the tracks it was for.
                follow_up.recorded += work.want(
                    conn, recovery.ended(conn, [task_id], now), now=now, lease=follow_up.lease
                )
                _end_polls(conn, [task_id], now)
            return changed > 0

        return await self._db.run_transaction(failed)

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
        """Apply one event: `apply_batch` with a batch of one."""
        change = Change(event_id, task_id, reported, tracks, error_code, error_text)
        [applied] = await self.apply_batch([change], now=now)
        return applied

    async def apply_batch(
        self,
        changes: list[Change],
        *,
        now: float,
        ignored: Sequence[int] = (),
        follow_up: FollowUp | None = None,
    ) -> list[Applied]:
        """Apply events in one transaction: stages forward-only, tracks merged, events marked applied.

        Changes are taken in order, so several events of one task fold into its final state. The work is
        a handful of statements for the whole batch (not per event), which keeps the transaction, and with
        it the wait of a callback queued behind it, short. `ignored` events are only marked applied.
        Returns one Applied per task touched, in order of first appearance.
        """
        task_ids = list(dict.fromkeys(c.task_id for c in changes))
        if not task_ids and not ignored:
            return []

        def apply(conn: Conn) -> list[Applied]:
            tasks = {t.id: t for t in _select_tasks(conn, task_ids)}
            missing = set(task_ids) - set(tasks)
            if missing:
                raise LookupError(f"tasks {sorted(missing)} do not exist")
            with_tracks = list(dict.fromkeys(c.task_id for c in changes if c.tracks))
            known = _known_tracks(conn, with_tracks) if with_tracks else {}
            folds = {task_id: _Fold(tasks[task_id], known.get(task_id, {})) for task_id in task_ids}
            for change in changes:
                folds[change.task_id].add(change, now)
            upserts = [row for fold in folds.values() for row in fold.track_rows]
            if upserts:
                conn.executemany(_UPSERT_TRACK, upserts)
            if folds:
                conn.executemany(_UPDATE_TASK, [fold.task_row(now) for fold in folds.values()])
            for change in changes:  # a studio tool's files, kept once the task is complete
                if change.files and folds[change.task_id].stage is Stage.COMPLETE:
                    results.store(conn, change.task_id, change.files)
            event_ids = [c.event_id for c in changes if c.event_id is not None] + list(ignored)
            for chunk in _chunks(event_ids):
                marks = ",".join("?" * len(chunk))
                conn.execute(f"UPDATE events SET applied_at = ? WHERE id IN ({marks})", (now, *chunk))
            # What was written is known here: reading it back would only lengthen the transaction.
            applied = [folds[task_id].applied(now) for task_id in task_ids]
            if follow_up is not None:
                _follow_up(conn, applied, follow_up, now)
            return applied

        # One trip to the database thread: the callbacks' commits wait for this transaction to end.
        return await self._db.run_transaction(apply)

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
            # A recovery is the bot's own doing, not the person's: it takes no place in their quotas.
            "SELECT COUNT(*) FROM tasks WHERE user_id = ? AND stage NOT IN ('complete', 'failed') "
            "AND kind <> 'recovery'",
            (user_id,),
        )
        return int(row[0]) if row else 0

    async def count_created_since(self, user_id: int, since: float) -> int:
        row = await self._db.fetchone(
            "SELECT COUNT(*) FROM tasks WHERE user_id = ? AND created_at >= ? AND kind <> 'recovery'",
            (user_id, since),
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


@dataclass(frozen=True)
class Change:
    """One event, parsed, for `TaskRepository.apply_batch`."""

    event_id: int | None
    task_id: int
    reported: Stage
    tracks: list[TrackData]
    error_code: int | None = None
    error_text: str | None = None
    # The provider's id for the task as the event names it: adopted when the task has none yet (its
    # submission's answer was lost or not recorded yet; the callback URL is signed for this task).
    provider_task_id: str | None = None
    files: list[FileData] = field(default_factory=list)  # a studio tool's results (storage/results.py)


class _Fold:
    """A task's events folded, in order, into the writes that bring the task to its newest state."""

    def __init__(self, task: Task, known: dict[str, tuple[int, bool]]) -> None:
        self.task = task
        self.stage = task.stage
        self.known = dict(known)  # audio id -> (position, sent)
        self.next_position = max((p for p, _ in known.values()), default=-1) + 1
        self.track_rows: list[tuple[Any, ...]] = []
        self.times: dict[str, float] = {}
        self.stream_url: str | None = None
        self.error: tuple[int | None, str | None] = (None, None)
        self.adopted: str | None = None  # the provider's id, learnt from its callback before its answer

    def add(self, change: Change, now: float) -> None:
        # A stale report (lower than where the task is) must not overwrite what a later stage set.
        if change.tracks and change.reported.rank >= self.stage.rank and self.stage is not Stage.FAILED:
            for data in change.tracks:
                self._track(data)
        if change.provider_task_id and self.task.provider_task_id is None and self.adopted is None:
            self.adopted = change.provider_task_id
        new_stage = self.stage.advanced_by(change.reported)
        if new_stage is None:
            return
        self.stage = new_stage
        column = _STAGE_TIME_COLUMN.get(new_stage)
        if column:
            self.times.setdefault(column, now)
        self.stream_url = self.stream_url or next((t.stream_url for t in change.tracks if t.stream_url), None)
        if new_stage is Stage.FAILED:
            self.error = (change.error_code, change.error_text)

    def _track(self, data: TrackData) -> None:
        position, sent = self.known.get(data.audio_id, (self.next_position, False))
        if sent:
            return  # a delivered track is history: nothing about it changes any more
        if data.audio_id not in self.known:
            self.known[data.audio_id] = (position, False)
            self.next_position += 1
        self.track_rows.append(
            (
                self.task.id,
                position,
                data.audio_id,
                data.title,
                data.tags,
                data.prompt,
                data.model_name,
                data.duration,
                data.audio_url,
                data.stream_url,
                data.image_url,
            )
        )

    def applied(self, now: float) -> Applied:
        task = self.task
        update: dict[str, Any] = {"stage": self.stage, "last_event_at": now}
        if self.stream_url and not task.stream_url:
            update["stream_url"] = self.stream_url
        for column, value in self.times.items():
            if getattr(task, column) is None:
                update[column] = value
        if self.error != (None, None):
            update["error_code"] = self.error[0] if self.error[0] is not None else task.error_code
            update["error_text"] = self.error[1] if self.error[1] is not None else task.error_text
        if self.adopted is not None:
            update["provider_task_id"] = self.adopted
            update["submitted_at"] = task.submitted_at or now
        return Applied(
            task=task.model_copy(update=update), previous=task.stage, changed=self.stage is not task.stage
        )

    def task_row(self, now: float) -> tuple[Any, ...]:
        return (
            self.stage.value,
            now,
            self.stream_url,
            self.times.get("text_at"),
            self.times.get("first_at"),
            self.times.get("finished_at"),
            *self.error,
            self.adopted,
            now if self.adopted else None,
            self.task.id,
        )


_UPSERT_TRACK = """
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
"""
# NULL leaves a column as it is; the first time a stage is reached stays its time.
_UPDATE_TASK = """
    UPDATE tasks SET stage = ?, last_event_at = ?, stream_url = COALESCE(stream_url, ?),
        text_at = COALESCE(text_at, ?), first_at = COALESCE(first_at, ?),
        finished_at = COALESCE(finished_at, ?),
        error_code = COALESCE(?, error_code), error_text = COALESCE(?, error_text),
        provider_task_id = COALESCE(provider_task_id, ?), submitted_at = COALESCE(submitted_at, ?)
    WHERE id = ?
"""


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    """SQLite caps the number of parameters in one statement; long IN lists go in pieces."""
    return [values[i : i + size] for i in range(0, len(values), size)]


def _select_tasks(conn: Conn, task_ids: list[int]) -> list[Task]:
    return [Task.from_row(row) for row in _select_in(conn, "SELECT * FROM tasks WHERE id IN ({})", task_ids)]


def _known_tracks(conn: Conn, task_ids: list[int]) -> dict[int, dict[str, tuple[int, bool]]]:
    known: dict[int, dict[str, tuple[int, bool]]] = {}
    sql = "SELECT task_id, audio_id, position, sent_at FROM tracks WHERE task_id IN ({})"
    for row in _select_in(conn, sql, task_ids):
        known.setdefault(row[0], {})[row[1]] = (int(row[2]), row[3] is not None)
    return known


def _select_in(conn: Conn, sql: str, values: list[Any]) -> list[Any]:
    """Rows of `sql` with its `{}` filled by an IN list of `values`, in pieces of SQLite's size."""
    rows: list[Any] = []
    for chunk in _chunks(values):
        rows += conn.execute(sql.format(",".join("?" * len(chunk))), chunk).fetchall()
    return rows


def _follow_up(conn: Conn, applied: list[Applied], follow_up: FollowUp, now: float) -> None:
    """Record what applied events call for: progress shown, tracks delivered, polls put off or ended."""
    wanted = [NewWork(Kind.PROGRESS, a.task.id, a.task.id, a.task.chat_id, now) for a in applied if a.changed]
    # A task adopted from its callback (its submission's answer was lost) is polled like a submitted one.
    wanted += [
        NewWork(Kind.POLL, a.task.id, a.task.id, a.task.chat_id, now + follow_up.poll_interval)
        for a in applied
        if a.previous is Stage.QUEUED and a.task.provider_task_id and not a.task.stage.terminal
    ]
    complete = [a.task.id for a in applied if a.task.stage is Stage.COMPLETE]
    if complete:
        sql = (
            "SELECT k.id, k.task_id, t.chat_id FROM tracks k JOIN tasks t ON t.id = k.task_id "
            "WHERE k.task_id IN ({}) AND k.sent_at IS NULL AND k.audio_url IS NOT NULL ORDER BY k.id"
        )
        wanted += [
            NewWork(Kind.DELIVER, row[0], row[1], row[2], now) for row in _select_in(conn, sql, complete)
        ]
        wanted += results.deliveries(conn, complete, now)
    # A song that came back with a track missing its audio asks the provider to recover it (once); a
    # recovery that ended gives the song's tracks their audio, or their notice.
    changed = [a.task for a in applied if a.changed]
    done = [t.id for t in changed if t.stage is Stage.COMPLETE and t.kind is not TaskKind.RECOVERY]
    if done:
        started = recovery.start(conn, done, now)
        wanted += started.work
        follow_up.recoveries += started.created
    ended_now = [t.id for t in changed if t.stage.terminal and t.kind is TaskKind.RECOVERY]
    if ended_now:
        wanted = recovery.ended(conn, ended_now, now) + wanted
    follow_up.recorded += work.want(conn, wanted, now=now, lease=follow_up.lease)
    ended = [a.task.id for a in applied if a.task.stage.terminal]
    going = [a.task.id for a in applied if not a.task.stage.terminal]
    if going:
        work.postpone(conn, Kind.POLL, going, due_at=now + follow_up.poll_interval)
    if ended:
        _end_polls(conn, ended, now)


def _end_polls(conn: Conn, task_ids: list[int], now: float) -> None:
    conn.executemany(
        "UPDATE work SET state = 'done', updated_at = ? WHERE key = ? AND state = 'pending'",
        [(now, f"poll:{task_id}") for task_id in task_ids],
    )
