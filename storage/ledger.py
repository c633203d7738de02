"""The credit ledger: append-only entries, each idempotent by its key; a balance is their sum."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from storage.db import Conn, Database


class EntryKind(StrEnum):
    GRANT = "grant"  # free credits, once per person
    PURCHASE = "purchase"  # a pack paid in Telegram Stars
    HOLD = "hold"  # a task's credits, taken when it is created
    SETTLE = "settle"  # the hold became a charge (the song was made, or the person's own error)
    RELEASE = "release"  # the hold given back (the failure was not the person's)
    REFUND = "refund"  # a purchase reversed
    REFERRAL = "referral"
    ADJUSTMENT = "adjustment"  # an admin's correction


@dataclass(frozen=True)
class Entry:
    id: int
    user_id: int
    kind: EntryKind
    amount: int
    reason: str
    key: str
    task_id: int | None
    stars: int | None
    created_at: float


@dataclass(frozen=True)
class Charge:
    """What a task costs a paying person (payments on, not an admin), and the free credits they get first."""

    credits: int
    free_credits: int = 0


@dataclass(frozen=True)
class Takings:
    """Payments in Stars and what credits did, over a span (a day for /stats) or ever (for /metrics)."""

    purchases: int = 0
    purchase_stars: int = 0
    refunds: int = 0
    refund_stars: int = 0
    spent: int = 0  # credits of holds settled: songs paid for


class InsufficientCredits(Exception):
    def __init__(self, balance: int, needed: int) -> None:
        super().__init__(f"balance {balance} is below {needed}")
        self.balance = balance
        self.needed = needed


def hold_key(task_id: int) -> str:
    return f"hold:{task_id}"


def free_key(user_id: int) -> str:
    return f"grant:free:{user_id}"


# Functions on a plain connection run inside the caller's transaction, so an entry commits or rolls back
# with the change that caused it.


def append(
    conn: Conn,
    *,
    user_id: int,
    kind: EntryKind,
    amount: int,
    reason: str,
    key: str,
    now: float,
    task_id: int | None = None,
    stars: int | None = None,
) -> bool:
    """Write an entry; False (and nothing written) when one with this key exists already."""
    cursor = conn.execute(
        "INSERT INTO ledger (user_id, kind, amount, reason, key, task_id, stars, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (user_id, kind.value, amount, reason, key, task_id, stars, now),
    )
    return cursor.rowcount > 0


def balance_in(conn: Conn, user_id: int) -> int:
    row = conn.execute("SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE user_id = ?", (user_id,)).fetchone()
    return int(row[0])


def grant_free(conn: Conn, user_id: int, credits: int, now: float) -> None:
    """A person's free credits, the first time they are looked at with payments on (once, by its key)."""
    if credits > 0:
        append(
            conn,
            user_id=user_id,
            kind=EntryKind.GRANT,
            amount=credits,
            reason="free credits",
            key=free_key(user_id),
            now=now,
        )


def hold(conn: Conn, *, user_id: int, task_id: int, charge: Charge, now: float) -> None:
    """Take a task's credits, or raise InsufficientCredits (rolling back the caller's transaction).

    Checked and written in one write transaction, so simultaneous requests cannot spend a credit twice."""
    grant_free(conn, user_id, charge.free_credits, now)
    balance = balance_in(conn, user_id)
    if balance < charge.credits:
        raise InsufficientCredits(balance, charge.credits)
    append(
        conn,
        user_id=user_id,
        kind=EntryKind.HOLD,
        amount=-charge.credits,
        reason=f"task {task_id}",
        key=hold_key(task_id),
        now=now,
        task_id=task_id,
    )


class LedgerRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def balance(self, user_id: int) -> int:
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(amount), 0) FROM ledger WHERE user_id = ?", (user_id,)
        )
        return int(row[0]) if row else 0

    async def held(self, user_id: int | None = None) -> int:
        """Credits held by tasks not yet settled or released (one person's, or everyone's)."""
        row = await self._db.fetchone(
            "SELECT COALESCE(-SUM(h.amount), 0) FROM ledger h WHERE h.kind = 'hold' "
            "AND (? IS NULL OR h.user_id = ?) AND NOT EXISTS (SELECT 1 FROM ledger e "
            "WHERE e.key IN ('settle:' || h.task_id, 'release:' || h.task_id))",
            (user_id, user_id),
        )
        return int(row[0]) if row else 0

    async def takings(self, since: float = 0.0) -> Takings:
        """Purchases, refunds (count and Stars) and credits spent in entries written from `since` on."""
        row = await self._db.fetchone(
            "SELECT "
            "CAST(COALESCE(SUM(CASE WHEN kind = 'purchase' THEN 1 ELSE 0 END), 0) AS INTEGER), "
            "CAST(COALESCE(SUM(CASE WHEN kind = 'purchase' THEN stars ELSE 0 END), 0) AS INTEGER), "
            "CAST(COALESCE(SUM(CASE WHEN kind = 'refund' THEN 1 ELSE 0 END), 0) AS INTEGER), "
            "CAST(COALESCE(SUM(CASE WHEN kind = 'refund' THEN stars ELSE 0 END), 0) AS INTEGER) "
            "FROM ledger WHERE kind IN ('purchase', 'refund') AND created_at >= ?",
            (since,),
        )
        # A settle entry is worth 0 (the hold took the credits): what it spent is its hold's amount.
        spent = await self._db.fetchone(
            "SELECT CAST(COALESCE(-SUM(h.amount), 0) AS INTEGER) FROM ledger s "
            "JOIN ledger h ON h.key = 'hold:' || s.task_id "
            "WHERE s.kind = 'settle' AND s.created_at >= ?",
            (since,),
        )
        if row is None:
            return Takings()
        return Takings(
            purchases=int(row[0]),
            purchase_stars=int(row[1]),
            refunds=int(row[2]),
            refund_stars=int(row[3]),
            spent=int(spent[0]) if spent else 0,
        )

    async def entries(self, user_id: int, *, limit: int = 100) -> list[Entry]:
        """A person's entries, newest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM ledger WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit)
        )
        return [_entry(row) for row in rows]

    async def by_key(self, key: str) -> Entry | None:
        row = await self._db.fetchone("SELECT * FROM ledger WHERE key = ?", (key,))
        return _entry(row) if row else None

    async def append(
        self,
        *,
        user_id: int,
        kind: EntryKind,
        amount: int,
        reason: str,
        key: str,
        now: float,
        task_id: int | None = None,
        stars: int | None = None,
    ) -> bool:
        """An entry on its own (a purchase, a grant, an adjustment); False when its key was used before."""

        def write(conn: Conn) -> bool:
            return append(
                conn,
                user_id=user_id,
                kind=kind,
                amount=amount,
                reason=reason,
                key=key,
                now=now,
                task_id=task_id,
                stars=stars,
            )

        return await self._db.run_transaction(write)

    async def refer(self, user_id: int, referrer_id: int, credits: int, *, now: float) -> bool:
        """Note that a newcomer came through `referrer_id`'s link; False (nothing noted) for a self-referral,
        a person referred before, or one who has made a song already (not new)."""
        if user_id == referrer_id:
            return False

        def write(conn: Conn) -> bool:
            cursor = conn.execute(
                "INSERT INTO referrals (user_id, referrer_id, credits, created_at) "
                "SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE user_id = ?) "
                "ON CONFLICT DO NOTHING",
                (user_id, referrer_id, credits, now, user_id),
            )
            return cursor.rowcount > 0

        return await self._db.run_transaction(write)

    async def grant_free(self, user_id: int, credits: int, *, now: float) -> None:
        def write(conn: Conn) -> None:
            grant_free(conn, user_id, credits, now)

        await self._db.run_transaction(write)


def _entry(row: Any) -> Entry:
    data = dict(row)  # type: ignore[call-overload]
    return Entry(
        id=int(data["id"]),
        user_id=int(data["user_id"]),
        kind=EntryKind(data["kind"]),
        amount=int(data["amount"]),
        reason=str(data["reason"]),
        key=str(data["key"]),
        task_id=data["task_id"],
        stars=data["stars"],
        created_at=float(data["created_at"]),
    )
