"""The work queue's rows: pending work with attempts, due times and leases (bot/tasks/work_queue.py).

An item is leased by one process (`owner`) until `lease_until`; only the holder records its outcome.
Claiming takes items that are due and not leased by anyone alive, in due order (on PostgreSQL with
`FOR UPDATE SKIP LOCKED`): a second process or replica never gets an item the first holds.

Two kinds of items:
- *once* (a submission, a track's delivery): asked for again, nothing changes; done is done.
- *again* (a progress message, a poll, an alert): asked for again, it is pending again with a new
  `version`, even while someone is doing it. Finishing an older version leaves the newer one pending.

The sync helpers (`want`, `postpone`) run inside other repositories' transactions, so work is recorded
in the same commit as the change that causes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from storage.db import Conn, Database


class Kind(StrEnum):
    SUBMIT = "submit"
    POLL = "poll"
    PROGRESS = "progress"
    DELIVER = "deliver"
    ALERT = "alert"
    BROADCAST = "broadcast"  # one recipient of an admin's /broadcast (bot/ops/broadcast.py)

    @property
    def repeatable(self) -> bool:
        """Asked for again, it is to be done again (the newest state shown, the next poll)."""
        return self in (Kind.POLL, Kind.PROGRESS, Kind.ALERT)


CHAT_KINDS = (Kind.PROGRESS, Kind.DELIVER)


@dataclass(frozen=True, slots=True)
class WorkItem:
    id: int
    kind: Kind
    key: str
    task_id: int | None
    chat_id: int | None
    attempts: int
    due_at: float
    version: int
    lease_owner: str | None = None
    last_error: str | None = None
    state: str = "pending"

    @classmethod
    def from_row(cls, row: Any) -> WorkItem:
        return cls(
            id=int(row["id"]),
            kind=Kind(row["kind"]),
            key=row["key"],
            task_id=row["task_id"],
            chat_id=row["chat_id"],
            attempts=int(row["attempts"]),
            due_at=float(row["due_at"]),
            version=int(row["version"]),
            lease_owner=row["lease_owner"],
            last_error=row["last_error"],
            state=row["state"],
        )


@dataclass(frozen=True, slots=True)
class NewWork:
    kind: Kind
    ref: int  # the task's id (submit, poll, progress), the track's (deliver), the admin's (alert)
    task_id: int | None
    chat_id: int | None
    due_at: float
    # Which of a kind's jobs, when one kind does several (an admin's alerts: "credits_low", "broadcast").
    topic: str = ""

    @property
    def key(self) -> str:
        if self.topic:
            return f"{self.kind.value}:{self.topic}:{self.ref}"
        return f"{self.kind.value}:{self.ref}"


@dataclass(frozen=True, slots=True)
class Lease:
    """Who takes the items that are recorded, and for how long (None: nobody, the dispatcher claims them)."""

    owner: str
    until: float


_COLUMNS = "id, kind, key, task_id, chat_id, attempts, due_at, version, lease_owner, last_error, state"

# Asked again: a repeatable item is pending again (due at the earlier of the two times) with a new
# version; a lease held by someone alive stays theirs (they see the new version when they finish).
_WANT_AGAIN = f"""
    INSERT INTO work (kind, key, task_id, chat_id, due_at, lease_owner, lease_until, created_at, updated_at)
    VALUES (:kind, :key, :task_id, :chat_id, :due_at, :owner, :until, :now, :now)
    ON CONFLICT (key) DO UPDATE SET
        version = work.version + 1,
        due_at = CASE WHEN work.state = 'pending' AND work.due_at < excluded.due_at THEN work.due_at
                      ELSE excluded.due_at END,
        attempts = CASE WHEN work.state = 'pending' THEN work.attempts ELSE 0 END,
        state = 'pending',
        lease_owner = CASE WHEN work.lease_owner IS NULL OR work.lease_until < :now
                           THEN excluded.lease_owner ELSE work.lease_owner END,
        lease_until = CASE WHEN work.lease_owner IS NULL OR work.lease_until < :now
                           THEN excluded.lease_until ELSE work.lease_until END,
        updated_at = :now
    RETURNING {_COLUMNS}
"""
# Asked again, a one-shot item changes nothing: RETURNING gives no row for it.
_WANT_ONCE = f"""
    INSERT INTO work (kind, key, task_id, chat_id, due_at, lease_owner, lease_until, created_at, updated_at)
    VALUES (:kind, :key, :task_id, :chat_id, :due_at, :owner, :until, :now, :now)
    ON CONFLICT (key) DO NOTHING
    RETURNING {_COLUMNS}
"""


def want(conn: Conn, items: Iterable[NewWork], *, now: float, lease: Lease | None) -> list[WorkItem]:
    """Record work inside the caller's transaction; returns the rows written (leased ones included)."""
    written: list[WorkItem] = []
    for item in items:
        values = {
            "kind": item.kind.value,
            "key": item.key,
            "task_id": item.task_id,
            "chat_id": item.chat_id,
            "due_at": item.due_at,
            # Only what is due now is taken at once; the rest waits in its row for the dispatcher.
            "owner": lease.owner if lease and item.due_at <= now else None,
            "until": lease.until if lease and item.due_at <= now else None,
            "now": now,
        }
        sql = _WANT_AGAIN if item.kind.repeatable else _WANT_ONCE
        row = conn.execute(sql, values).fetchone()
        if row is not None:
            written.append(WorkItem.from_row(row))
    return written


def postpone(conn: Conn, kind: Kind, refs: Sequence[int], *, due_at: float) -> None:
    """Move pending, unleased items of `kind` to `due_at` (a poll is not needed while events arrive)."""
    conn.executemany(
        "UPDATE work SET due_at = ? WHERE key = ? AND state = 'pending' AND lease_owner IS NULL",
        [(due_at, f"{kind.value}:{ref}") for ref in refs],
    )


class WorkRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def want(self, items: Sequence[NewWork], *, now: float, lease: Lease | None) -> list[WorkItem]:
        if not items:
            return []
        return await self._db.run_transaction(lambda conn: want(conn, items, now=now, lease=lease))

    async def claim(
        self, *, lease: Lease, now: float, limit: int, kinds: Sequence[Kind] | None = None
    ) -> list[WorkItem]:
        """Lease up to `limit` due items nobody alive holds, earliest first."""
        kinds = kinds or list(Kind)
        marks = ",".join("?" * len(kinds))
        # Replicas claiming at once on PostgreSQL pass over the rows another is taking instead of waiting
        # for them; SQLite's single writer claims one process at a time anyway.
        skip_locked = "FOR UPDATE SKIP LOCKED" if self._db.dialect == "postgresql" else ""

        def claim(conn: Conn) -> list[WorkItem]:
            rows = conn.execute(
                f"""
                UPDATE work SET lease_owner = ?, lease_until = ?
                WHERE id IN (
                    SELECT id FROM work WHERE state = 'pending' AND due_at <= ?
                    AND (lease_owner IS NULL OR lease_until < ?) AND kind IN ({marks})
                    ORDER BY due_at, id LIMIT ? {skip_locked}
                )
                RETURNING {_COLUMNS}
                """,
                (lease.owner, lease.until, now, now, *[k.value for k in kinds], limit),
            ).fetchall()
            items = [WorkItem.from_row(row) for row in rows]
            return sorted(items, key=lambda i: (i.due_at, i.id))

        return await self._db.run_transaction(claim)

    async def finish(self, item: WorkItem, *, owner: str, now: float) -> bool:
        """Done, unless it was asked for again meanwhile (then it stays pending, released); True if done."""

        def finish(conn: Conn) -> bool:
            done = conn.execute(
                "UPDATE work SET state = 'done', lease_owner = NULL, lease_until = NULL, last_error = NULL, "
                "waiting_for = NULL, updated_at = ? WHERE id = ? AND lease_owner = ? AND version = ?",
                (now, item.id, owner, item.version),
            ).rowcount
            if not done:
                _release(conn, [item.id], owner)
            return bool(done)

        return await self._db.run_transaction(finish)

    async def retry(
        self, item: WorkItem, *, owner: str, due_at: float, error: str, waiting_for: str | None, now: float
    ) -> None:
        """One more failed attempt: due again at `due_at`, free for anyone to take then."""
        await self._db.execute(
            "UPDATE work SET attempts = attempts + 1, due_at = ?, last_error = ?, waiting_for = ?, "
            "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?",
            (due_at, error[:500], waiting_for, now, item.id, owner),
        )

    async def reschedule(self, item: WorkItem, *, owner: str, due_at: float, now: float) -> None:
        """A recurring item (a poll) done for now and due again at `due_at`; an ended one stays ended."""
        await self._db.execute(
            "UPDATE work SET due_at = ?, last_error = NULL, lease_owner = NULL, lease_until = NULL, "
            "updated_at = ? WHERE id = ? AND lease_owner = ? AND state = 'pending'",
            (due_at, now, item.id, owner),
        )

    async def fail(self, item: WorkItem, *, owner: str, error: str, now: float) -> None:
        """Given up for good (the person has been told, or nobody can be)."""
        await self._db.execute(
            "UPDATE work SET state = 'failed', attempts = attempts + 1, last_error = ?, waiting_for = NULL, "
            "lease_owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND lease_owner = ?",
            (error[:500], now, item.id, owner),
        )

    async def release(self, item_ids: Sequence[int], *, owner: str) -> None:
        """Hand items back untouched (shutting down): anyone may take them at once."""
        if item_ids:
            await self._db.run_transaction(lambda conn: _release(conn, item_ids, owner))

    async def release_all(self) -> int:
        """Free every lease: for a single process on its own database, whatever a dead one held."""
        return await self._db.execute(
            "UPDATE work SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL"
        )

    async def extend(self, *, owner: str, until: float) -> None:
        await self._db.execute(
            "UPDATE work SET lease_until = ? WHERE lease_owner = ? AND state = 'pending'", (until, owner)
        )

    async def next_due(self, *, kinds: Sequence[Kind] | None = None) -> float | None:
        """When the earliest pending item (of `kinds`, else any) can next be taken: its due time, or
        when its lease ends."""
        sql = (
            "SELECT MIN(CASE WHEN lease_until > due_at THEN lease_until ELSE due_at END) "
            "FROM work WHERE state = 'pending'"
        )
        params: list[str] = []
        if kinds is not None:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params = [k.value for k in kinds]
        row = await self._db.fetchone(sql, params)
        return float(row[0]) if row and row[0] is not None else None

    async def wake_waiting(self, waiting_for: str, *, now: float) -> int:
        """What was put off until a dependency came back is due now."""
        return await self._db.execute(
            "UPDATE work SET due_at = ?, waiting_for = NULL "
            "WHERE state = 'pending' AND waiting_for = ? AND due_at > ?",
            (now, waiting_for, now),
        )

    async def reopen_failed(self, kind: Kind, *, chat_id: int, now: float) -> int:
        """Work given up because the chat could not be reached, pending again (the person is back)."""
        return await self._db.execute(
            "UPDATE work SET state = 'pending', attempts = 0, due_at = ?, updated_at = ? "
            "WHERE state = 'failed' AND kind = ? AND chat_id = ?",
            (now, now, kind.value, chat_id),
        )

    async def items(self, *, kind: Kind | None = None, state: str | None = None) -> list[WorkItem]:
        """Rows for inspection (tests, /stats): newest last."""
        where, params = [], []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind.value)
        if state is not None:
            where.append("state = ?")
            params.append(state)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._db.fetchall(f"SELECT {_COLUMNS} FROM work {clause} ORDER BY id", params)
        return [WorkItem.from_row(row) for row in rows]

    async def counts(self) -> dict[tuple[str, str], int]:
        rows = await self._db.fetchall("SELECT kind, state, COUNT(*) FROM work GROUP BY kind, state")
        return {(row[0], row[1]): int(row[2]) for row in rows}

    async def forget_failed(self, key: str) -> bool:
        """Drop a one-shot item that failed for good, so the person asking again gets a new attempt."""
        return await self._db.execute("DELETE FROM work WHERE key = ? AND state = 'failed'", (key,)) > 0

    async def prune(self, *, older_than: float) -> int:
        """Finished rows past the retention window; pending ones are never dropped."""
        return await self._db.execute(
            "DELETE FROM work WHERE state != 'pending' AND updated_at < ?", (older_than,)
        )


def _release(conn: Conn, item_ids: Sequence[int], owner: str) -> None:
    conn.executemany(
        "UPDATE work SET lease_owner = NULL, lease_until = NULL WHERE id = ? AND lease_owner = ?",
        [(item_id, owner) for item_id in item_ids],
    )
