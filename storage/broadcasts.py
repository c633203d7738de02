"""Admins' broadcasts: a draft until confirmed, then one recipient row and one work item per person.

Starting one records every recipient and its work item in the same transaction, so a broadcast is
either not started or wholly queued. The last recipient's outcome records the admin's final count (an
alert work item) in its own transaction, so the count is sent once, after everyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.db import Conn, Database
from storage.work import Kind, NewWork, want

OUTCOMES = ("delivered", "blocked", "failed")


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    admin_id: int
    chat_id: int
    text: str
    state: str  # draft | sending | done | cancelled

    @classmethod
    def from_row(cls, row: Any) -> Broadcast:
        return cls(
            id=int(row["id"]),
            admin_id=int(row["admin_id"]),
            chat_id=int(row["chat_id"]),
            text=row["text"],
            state=row["state"],
        )


@dataclass(frozen=True, slots=True)
class Recipient:
    id: int
    broadcast_id: int
    chat_id: int
    state: str  # pending | delivered | blocked | failed
    text: str


@dataclass(frozen=True, slots=True)
class Started:
    recipients: int  # to be sent to
    already_blocked: int  # known to have blocked the bot: counted as blocked, not sent to


def _audience(allowed: Sequence[int] | None) -> tuple[str, list[int]]:
    """Who a broadcast is for: everyone the bot knows who is not blocked by an admin and, when the operator
    lets in only some people, one of those. `bot_blocked` is not filtered here (see `start`)."""
    where = "COALESCE(access, '') != 'blocked'"
    if allowed is None:
        return where, []
    marks = ",".join("?" * len(allowed)) or "NULL"
    return f"{where} AND (access = 'allowed' OR user_id IN ({marks}))", list(allowed)


class BroadcastRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, *, admin_id: int, chat_id: int, text: str, now: float) -> int:
        return await self._db.execute(
            "INSERT INTO broadcasts (admin_id, chat_id, text, created_at) VALUES (?, ?, ?, ?)",
            (admin_id, chat_id, text, now),
        )

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = await self._db.fetchone("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
        return Broadcast.from_row(row) if row else None

    async def audience(self, *, allowed: Sequence[int] | None) -> int:
        """How many people a broadcast would be sent to now (those who blocked the bot left out)."""
        where, params = _audience(allowed)
        row = await self._db.fetchone(
            f"SELECT COUNT(*) FROM people WHERE bot_blocked = 0 AND {where}", params
        )
        return int(row[0]) if row else 0

    async def start(self, broadcast_id: int, *, allowed: Sequence[int] | None, now: float) -> Started | None:
        """Confirm a draft: its recipients and their work, in one transaction. None if it is no draft
        (a second press of the button, or a cancelled one)."""
        where, params = _audience(allowed)

        def start(conn: Conn) -> Started | None:
            changed = conn.execute(
                "UPDATE broadcasts SET state = 'sending', started_at = ? WHERE id = ? AND state = 'draft'",
                (now, broadcast_id),
            ).rowcount
            if not changed:
                return None
            # Whoever blocked the bot is counted as blocked at once: a message to them would be refused.
            conn.execute(
                f"""
                INSERT INTO broadcast_recipients (broadcast_id, chat_id, state)
                SELECT ?, chat_id, CASE WHEN bot_blocked <> 0 THEN 'blocked' ELSE 'pending' END
                FROM people WHERE {where} ORDER BY user_id
                """,
                (broadcast_id, *params),
            )
            rows = conn.execute(
                "SELECT id, chat_id, state FROM broadcast_recipients WHERE broadcast_id = ? ORDER BY id",
                (broadcast_id,),
            ).fetchall()
            pending = [(int(r[0]), int(r[1])) for r in rows if r[2] == "pending"]
            # Not leased: the dispatcher takes them as the queue has room, instead of all at once.
            want(
                conn,
                [NewWork(Kind.BROADCAST, rid, None, chat, now) for rid, chat in pending],
                now=now,
                lease=None,
            )
            if not pending:
                _finish(conn, broadcast_id, now)
            return Started(recipients=len(pending), already_blocked=len(rows) - len(pending))

        return await self._db.run_transaction(start)

    async def cancel(self, broadcast_id: int) -> bool:
        """A draft dropped; False if it was not a draft any more."""
        changed = await self._db.execute(
            "UPDATE broadcasts SET state = 'cancelled' WHERE id = ? AND state = 'draft'", (broadcast_id,)
        )
        return bool(changed)

    async def recipient(self, recipient_id: int) -> Recipient | None:
        row = await self._db.fetchone(
            """
            SELECT r.id, r.broadcast_id, r.chat_id, r.state, b.text FROM broadcast_recipients r
            JOIN broadcasts b ON b.id = r.broadcast_id WHERE r.id = ?
            """,
            (recipient_id,),
        )
        if row is None:
            return None
        return Recipient(int(row[0]), int(row[1]), int(row[2]), row[3], row[4])

    async def resolve(
        self, recipient_id: int, outcome: str, *, message_id: int | None = None, now: float
    ) -> bool:
        """Record one recipient's outcome; True when it was the last (the admin's count is then recorded)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown broadcast outcome {outcome!r}")

        def resolve(conn: Conn) -> bool:
            row = conn.execute(
                "UPDATE broadcast_recipients SET state = ?, message_id = ? "
                "WHERE id = ? AND state = 'pending' RETURNING broadcast_id",
                (outcome, message_id, recipient_id),
            ).fetchone()
            if row is None:
                return False  # recorded before (an outcome written again after a restart)
            broadcast_id = int(row[0])
            left = conn.execute(
                "SELECT 1 FROM broadcast_recipients WHERE broadcast_id = ? AND state = 'pending' LIMIT 1",
                (broadcast_id,),
            ).fetchone()
            return left is None and _finish(conn, broadcast_id, now)

        return await self._db.run_transaction(resolve)

    async def counts(self, broadcast_id: int) -> dict[str, int]:
        rows = await self._db.fetchall(
            "SELECT state, COUNT(*) FROM broadcast_recipients WHERE broadcast_id = ? GROUP BY state",
            (broadcast_id,),
        )
        found = {row[0]: int(row[1]) for row in rows}
        return {state: found.get(state, 0) for state in ("pending", *OUTCOMES)}


def _finish(conn: Conn, broadcast_id: int, now: float) -> bool:
    """Mark it done and record the admin's final count as an alert; False if it was done already."""
    row = conn.execute(
        "UPDATE broadcasts SET state = 'done', finished_at = ? WHERE id = ? AND state = 'sending' "
        "RETURNING chat_id",
        (now, broadcast_id),
    ).fetchone()
    if row is None:
        return False
    report = NewWork(Kind.ALERT, broadcast_id, None, int(row[0]), now, topic="broadcast")
    want(conn, [report], now=now, lease=None)
    return True
