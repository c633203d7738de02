"""Recovering the audio of a finished task's tracks (bot/studio/recovery.py): the child task and its end.

A track may come back with no audio (an empty audio_url), or with a link that keeps failing to
download. Before the person is told it failed, the provider is asked to recover the task's audio: one
recovery task per music task (kind 'recovery', its params the request `{"sunoTaskId": ...}`), holding
no credits and showing no progress message of its own. It is created in the transaction that finds the
need (the music task completing, or a delivery giving up), and ends in the transaction that applies its
result (storage/tasks.py calls `ended`): the recovered tracks get their new audio_url and a delivery
item each (`deliver:recovered:<track>`), and what could not be recovered is told by one more item
(`deliver:files:<recovery task>`, bot/chat/deliveries.py). A track waiting for recovery has no
audio_url; a link that would not download is kept in `lost_url`, given as the link if recovery fails.
When no track of a paid song reached the person, its credits are given back, once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from storage import ledger, work
from storage.db import Conn, Database
from storage.models import Stage, Task, TaskKind, Track
from storage.results import FILES_TOPIC
from storage.work import Kind, NewWork, WorkItem

RECOVERED_TOPIC = "recovered"  # deliver:recovered:<track id>
FAILED_REASON = "failed"  # what the notice says of every track when the recovery itself failed

AfterDownload = Literal["recovering", "redeliver", "give_up", "sent"]


def params_for(provider_task_id: str) -> str:
    """The recovery task's params: its request, as TaskService would store it (one way to write it, so
    a music task's recovery is found by it)."""
    return json.dumps({"sunoTaskId": provider_task_id})


def lost_key(parent_id: int) -> str:
    return f"release:lost:{parent_id}"


@dataclass
class Started:
    """What starting recoveries recorded: their submissions, and how many tasks are new."""

    work: list[NewWork]
    created: int = 0


def start(conn: Conn, parent_ids: Sequence[int], now: float) -> Started:
    """A recovery for each of these complete tasks that has an unsent track with no audio.

    One statement finds them for a whole batch (few ever need one); SQLite caps an IN list's size."""
    started = Started([])
    ids = list(parent_ids)
    for offset in range(0, len(ids), 500):
        chunk = ids[offset : offset + 500]
        rows = conn.execute(
            "SELECT t.id, t.user_id, t.chat_id, t.provider_task_id FROM tasks t "
            f"WHERE t.id IN ({','.join('?' * len(chunk))}) "
            "AND t.kind <> 'recovery' AND t.provider_task_id IS NOT NULL AND EXISTS (SELECT 1 FROM "
            "tracks k WHERE k.task_id = t.id AND k.sent_at IS NULL AND k.audio_url IS NULL)",
            chunk,
        ).fetchall()
        for row in rows:
            _ensure(conn, row, now, started)
    return started


def _find(conn: Conn, user_id: int, provider_task_id: str) -> Any:
    return conn.execute(
        "SELECT id, stage FROM tasks WHERE user_id = ? AND kind = 'recovery' AND params = ? "
        "ORDER BY id LIMIT 1",
        (user_id, params_for(provider_task_id)),
    ).fetchone()


def _ensure(conn: Conn, parent: Any, now: float, started: Started) -> Any:
    """The parent's one recovery (id, stage), made now when it has none (its submission into `started`)."""
    # A write to the parent's row first: on PostgreSQL it holds the row until this transaction ends, so
    # two triggers at once (two deliveries giving up) cannot both create one; SQLite has one writer.
    conn.execute("UPDATE tasks SET last_event_at = last_event_at WHERE id = ?", (parent[0],))
    found = _find(conn, parent[1], parent[3])
    if found is not None:
        return found
    recovery_id = conn.execute(
        "INSERT INTO tasks (user_id, chat_id, kind, params, model, stage, created_at, last_event_at) "
        "VALUES (?, ?, ?, ?, NULL, 'queued', ?, ?) RETURNING id",
        (parent[1], parent[2], TaskKind.RECOVERY.value, params_for(parent[3]), now, now),
    ).fetchone()[0]
    started.work.append(NewWork(Kind.SUBMIT, recovery_id, recovery_id, parent[2], now))
    started.created += 1
    return (recovery_id, Stage.QUEUED.value)


def after_download_failure(conn: Conn, track_id: int, now: float, started: Started) -> AfterDownload:
    """A track's audio kept failing to download: recover it (or use its recovery's URL), else give up.

    The parent's one recovery is started, or joined while it runs (the track waits for it, its link kept
    in lost_url); one that ended with a fresh URL for the track gives that URL (delivered again, in
    `started.work`); otherwise (recovery failed, or the fresh URL is the one failing) it is "give_up".
    """
    track = conn.execute(
        "SELECT k.id, k.audio_id, k.audio_url, k.sent_at, t.id, t.user_id, t.chat_id, t.provider_task_id, "
        "t.kind FROM tracks k JOIN tasks t ON t.id = k.task_id WHERE k.id = ?",
        (track_id,),
    ).fetchone()
    if track is None or track[3] is not None:
        return "sent"
    if track[8] == TaskKind.RECOVERY.value or track[7] is None:
        return "give_up"
    recovery = _ensure(conn, (track[4], track[5], track[6], track[7]), now, started)
    if not Stage(recovery[1]).terminal:
        conn.execute(
            "UPDATE tracks SET lost_url = COALESCE(lost_url, audio_url), audio_url = NULL "
            "WHERE id = ? AND sent_at IS NULL",
            (track_id,),
        )
        return "recovering"
    if recovery[1] != Stage.COMPLETE.value:
        return "give_up"
    fresh = conn.execute(
        "SELECT url FROM task_files WHERE task_id = ? AND name = ? AND url IS NOT NULL",
        (recovery[0], track[1]),
    ).fetchone()
    if fresh is None or fresh[0] == track[2]:
        return "give_up"
    conn.execute(
        "UPDATE tracks SET lost_url = COALESCE(lost_url, audio_url), audio_url = ? WHERE id = ?",
        (fresh[0], track_id),
    )
    started.work.append(NewWork(Kind.DELIVER, track_id, track[4], track[6], now, topic=RECOVERED_TOPIC))
    return "redeliver"


def ended(conn: Conn, task_ids: Sequence[int], now: float) -> list[NewWork]:
    """Recoveries among these tasks that have ended: their results applied to the music task's tracks.

    The tracks waiting for recovery (unsent, no audio) that came back get their URL and a delivery item;
    if any are left, the notice item tells the person (a complete recovery's own files item, recorded by
    storage/results.py, is the same item). A song none of whose tracks reached the person gets its
    credits back.
    """
    wanted: list[NewWork] = []
    for task_id in task_ids:
        recovery = conn.execute(
            "SELECT id, user_id, chat_id, stage, params FROM tasks WHERE id = ? AND kind = 'recovery' "
            "AND stage IN ('complete', 'failed')",
            (task_id,),
        ).fetchone()
        if recovery is None:
            continue
        parent = _parent(conn, recovery[1], recovery[4])
        if parent is None:
            continue
        if recovery[3] == Stage.COMPLETE.value:
            found = conn.execute(
                "SELECT k.id, f.url FROM tracks k JOIN task_files f ON f.task_id = ? AND f.name = k.audio_id "
                "WHERE k.task_id = ? AND k.sent_at IS NULL AND k.audio_url IS NULL AND f.url IS NOT NULL "
                "ORDER BY k.position",
                (recovery[0], parent),
            ).fetchall()
            conn.executemany(
                "UPDATE tracks SET audio_url = ? WHERE id = ? AND sent_at IS NULL AND audio_url IS NULL",
                [(row[1], row[0]) for row in found],
            )
            chat_id = recovery[2]
            wanted += [
                NewWork(Kind.DELIVER, r[0], parent, chat_id, now, topic=RECOVERED_TOPIC) for r in found
            ]
        left = conn.execute(
            "SELECT COUNT(*) FROM tracks WHERE task_id = ? AND sent_at IS NULL AND audio_url IS NULL",
            (parent,),
        ).fetchone()[0]
        if left:
            notice = NewWork(Kind.DELIVER, recovery[0], recovery[0], recovery[2], now, topic=FILES_TOPIC)
            wanted.append(notice)
            _give_back_if_all_lost(conn, parent, now)
    return wanted


def _parent(conn: Conn, user_id: int, params: str) -> int | None:
    provider_task_id = json.loads(params).get("sunoTaskId")
    row = conn.execute(
        "SELECT id FROM tasks WHERE provider_task_id = ? AND user_id = ?", (provider_task_id, user_id)
    ).fetchone()
    return int(row[0]) if row else None


def _give_back_if_all_lost(conn: Conn, parent_id: int, now: float) -> None:
    """No track reached the person (none sent, none with audio, none with a link to give): the song's
    credits come back, as for a failed task (its key makes it once)."""
    reached = conn.execute(
        "SELECT COUNT(*) FROM tracks WHERE task_id = ? AND (sent_at IS NOT NULL OR audio_url IS NOT NULL "
        "OR lost_url IS NOT NULL)",
        (parent_id,),
    ).fetchone()[0]
    hold = conn.execute(
        "SELECT user_id, amount FROM ledger WHERE key = ?", (ledger.hold_key(parent_id),)
    ).fetchone()
    if reached or hold is None:
        return
    ledger.append(
        conn,
        user_id=int(hold[0]),
        kind=ledger.EntryKind.RELEASE,
        amount=-int(hold[1]),
        reason="given back: the song's audio was lost",
        key=lost_key(parent_id),
        now=now,
        task_id=parent_id,
    )


@dataclass(frozen=True)
class Outcome:
    """What a recovery left to tell: the music task, its tracks still without audio (each with the
    provider's error for it, or FAILED_REASON), and the credits given back (0: none)."""

    parent: Task
    lost: list[tuple[Track, str]]
    given_back: int


class RecoveryRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def after_download_failure(
        self, track_id: int, *, now: float
    ) -> tuple[AfterDownload, list[WorkItem], int]:
        """`after_download_failure` in its own transaction, with the work it calls for recorded unleased
        (the dispatcher takes it once woken); also how many recovery tasks it created."""
        started = Started([])

        def run(conn: Conn) -> tuple[AfterDownload, list[WorkItem]]:
            started.work.clear()
            started.created = 0
            outcome = after_download_failure(conn, track_id, now, started)
            return outcome, work.want(conn, started.work, now=now, lease=None)

        outcome, items = await self._db.run_transaction(run)
        return outcome, items, started.created

    async def parent(self, recovery: Task) -> Task | None:
        row = await self._db.fetchone(
            "SELECT * FROM tasks WHERE provider_task_id = ? AND user_id = ?",
            (recovery.params.get("sunoTaskId"), recovery.user_id),
        )
        return Task.from_row(row) if row else None

    async def running_for(self, parent: Task) -> bool:
        """Whether the task's recovery is under way (its progress message says so)."""
        if parent.provider_task_id is None:
            return False
        row = await self._db.fetchone(
            "SELECT 1 FROM tasks WHERE user_id = ? AND kind = 'recovery' AND params = ? "
            "AND stage NOT IN ('complete', 'failed')",
            (parent.user_id, params_for(parent.provider_task_id)),
        )
        return row is not None

    async def outcome(self, recovery: Task) -> Outcome | None:
        parent = await self.parent(recovery)
        if parent is None:
            return None
        rows = await self._db.fetchall(
            "SELECT k.*, f.body AS reason FROM tracks k LEFT JOIN task_files f ON f.task_id = ? "
            "AND f.name = k.audio_id WHERE k.task_id = ? AND k.sent_at IS NULL AND k.audio_url IS NULL "
            "ORDER BY k.position",
            (recovery.id, parent.id),
        )
        lost = []
        for row in rows:
            data = dict(row)
            reason = data.pop("reason", None)
            lost.append((Track.from_row(data), reason or FAILED_REASON))
        entry = await self._db.fetchone("SELECT amount FROM ledger WHERE key = ?", (lost_key(parent.id),))
        return Outcome(parent, lost, int(entry[0]) if entry else 0)

    async def told(self, recovery_id: int, track_ids: Sequence[int], *, message_id: int, now: float) -> None:
        """The person was told these tracks are lost (they count as sent, with no file: never in the
        library), and the recovery's results are done with."""

        def write(conn: Conn) -> None:
            conn.executemany(
                "UPDATE tracks SET telegram_message_id = ?, sent_at = ? WHERE id = ? AND sent_at IS NULL",
                [(message_id, now, track_id) for track_id in track_ids],
            )
            conn.execute(
                "UPDATE task_files SET sent_at = ? WHERE task_id = ? AND sent_at IS NULL", (now, recovery_id)
            )

        await self._db.run_transaction(write)
