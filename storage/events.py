"""The event log: every provider callback and poll result, stored before it is acknowledged."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from storage.db import Database
from storage.models import Event, Stage


@dataclass(frozen=True)
class NewEvent:
    task_id: int
    source: str
    stage: Stage
    payload: str
    received_at: float


class EventRepository:
    """Writes events with group commit.

    Callbacks arrive in bursts and each must be durable before its 200. Committing every one in its own
    transaction makes the disk the bottleneck; instead, callers queue their event and await a future, and
    one writer commits everything queued so far in a single transaction. Nobody is acknowledged before
    the commit that holds their event.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: list[tuple[NewEvent, asyncio.Future[int]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def add(self, event: NewEvent) -> int:
        """Store one event durably; returns its id once committed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((event, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending(), name="event-writer")
        return await future

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                ids = await self._insert(batch)
            except Exception as error:  # every waiter learns its event was not stored
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future), event_id in zip(batch, ids, strict=True):
                if not future.done():
                    future.set_result(event_id)

    async def _insert(self, batch: list[tuple[NewEvent, asyncio.Future[int]]]) -> list[int]:
        rows = [(e.task_id, e.source, e.stage.value, e.payload, e.received_at) for e, _ in batch]
        async with self._db.transaction() as conn:
            await conn.executemany(
                "INSERT INTO events (task_id, source, stage, payload, received_at) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            cursor = await conn.execute("SELECT last_insert_rowid()")
            last = int((await cursor.fetchone())[0])
        # The transaction held the only writer, so the batch's ids are consecutive.
        return list(range(last - len(rows) + 1, last + 1))

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
