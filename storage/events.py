"""The event log: every provider callback and poll result, stored before it is acknowledged."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from storage.db import Database
from storage.models import Event, Stage


class EventRejected(Exception):
    """The event names no task of ours (`unknown`) or another provider task than the task's (`mismatch`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_NO_CHECK = object()
_KNOWN_TASKS = 10_000


@dataclass(frozen=True, slots=True)
class NewEvent:
    task_id: int
    source: str
    stage: Stage
    payload: str
    received_at: float
    # Set when the event is known, as it is stored, to change nothing (a repeat of a payload already
    # applied): it is stored as applied, so nobody has to read it back and mark it later.
    applied_at: float | None = None


class EventRepository:
    """Writes events with group commit.

    Callbacks arrive in bursts and each must be durable before its 200. Committing every one in its own
    transaction makes the disk the bottleneck; instead, callers queue their event and await a future, and
    one writer commits everything queued so far in a single transaction. Nobody is acknowledged before
    the commit that holds their event.

    A callback must also name a task of ours with the right provider task id. That check reads the tasks
    table once per batch for tasks not seen before and is answered from memory afterwards, so in the
    steady state a batch of callbacks costs one trip to the database: a single INSERT.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: list[tuple[NewEvent, object, asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None
        self._known: dict[int, str] = {}  # task id -> provider task id, for tasks that have one

    async def add(self, event: NewEvent, *, provider_task_id: object = _NO_CHECK) -> int:
        """Store one event durably; returns its id once committed.

        With `provider_task_id`, the event is stored only if its task exists and has no provider task id
        yet or exactly this one; otherwise EventRejected("unknown" or "mismatch") and nothing is stored.
        """
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((event, provider_task_id, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending(), name="event-writer")
        return await future

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self._insert(batch)
            except Exception as error:  # every waiter learns its event was not stored
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, _, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, EventRejected):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _insert(
        self, batch: list[tuple[NewEvent, object, asyncio.Future[int]]]
    ) -> list[int | EventRejected]:
        results: list[int | EventRejected | None] = [None] * len(batch)
        checked = sorted(
            {e.task_id for e, expected, _ in batch if expected is not _NO_CHECK} - self._known.keys()
        )
        if checked:
            # A task's provider id is set once and never changes, so it is cached once seen.
            marks = ",".join("?" * len(checked))
            found = await self._db.fetchall(
                f"SELECT id, provider_task_id FROM tasks WHERE id IN ({marks})", checked
            )
            unknown = set(checked)
            for task_id, provider_task_id in found:
                unknown.discard(task_id)
                if provider_task_id is not None:
                    self._remember(task_id, provider_task_id)
        else:
            unknown = set()
        rows = []
        for index, (e, expected, _) in enumerate(batch):
            if expected is not _NO_CHECK:
                if e.task_id in unknown:
                    results[index] = EventRejected("unknown")
                    continue
                stored = self._known.get(e.task_id)
                if stored is not None and stored != expected:
                    results[index] = EventRejected("mismatch")
                    continue
            rows.append((e.task_id, e.source, e.stage.value, e.payload, e.received_at, e.applied_at))
        ids: list[int] = []
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            # One statement is one atomic, durable commit in autocommit mode: a single trip to the
            # database thread stores the whole batch.
            values = ",".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
            ids += await self._db.insert_rows(
                "INSERT INTO events (task_id, source, stage, payload, received_at, applied_at) "
                f"VALUES {values}",
                [value for row in chunk for value in row],
                urgent=True,  # somebody waits for this commit to answer 200: it goes before other writes
            )
        fresh = iter(ids)
        return [next(fresh) if r is None else r for r in results]  # type: ignore[misc]

    def _remember(self, task_id: int, provider_task_id: str) -> None:
        self._known[task_id] = provider_task_id
        if len(self._known) > _KNOWN_TASKS:
            self._known.pop(next(iter(self._known)))  # the oldest: tasks end, new ones arrive

    async def unapplied(self, *, limit: int = 500) -> list[Event]:
        rows = await self._db.fetchall(
            "SELECT * FROM events WHERE applied_at IS NULL ORDER BY id LIMIT ?", (limit,)
        )
        return [Event.from_row(row) for row in rows]

    async def unapplied_for_task(self, task_id: int) -> list[Event]:
        rows = await self._db.fetchall(
            "SELECT * FROM events WHERE applied_at IS NULL AND task_id = ? ORDER BY id", (task_id,)
        )
        return [Event.from_row(row) for row in rows]

    async def mark_applied(self, event_id: int, *, now: float) -> None:
        await self._db.execute("UPDATE events SET applied_at = ? WHERE id = ?", (now, event_id))

    async def for_task(self, task_id: int) -> list[Event]:
        rows = await self._db.fetchall("SELECT * FROM events WHERE task_id = ? ORDER BY id", (task_id,))
        return [Event.from_row(row) for row in rows]

    async def last_received_at(self) -> float | None:
        row = await self._db.fetchone("SELECT MAX(received_at) FROM events")
        return float(row[0]) if row and row[0] is not None else None

    async def prune(self, *, older_than: float) -> int:
        """Drop applied events older than the retention window; unapplied ones are never dropped."""
        return await self._db.execute(
            "DELETE FROM events WHERE received_at < ? AND applied_at IS NOT NULL", (older_than,)
        )
