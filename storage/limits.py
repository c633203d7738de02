"""Slots of the external limits, shared by every replica on one PostgreSQL database (0011_limits.sql).

PostgreSQL only: SQLite serves one process, which holds its limits in memory (bot/provider/budget.py), so
nothing calls this there. Two things here are PostgreSQL's own and cannot be written portably: the
database's clock (`clock_timestamp()`, so that replicas on different hosts agree on when a slot frees)
and an advisory lock per scope (so that counting the live slots and taking one is a single step).

Taking a slot is one short transaction: lock the scope, read the clock, the scope's 429 block and its live
slots, then either insert a slot or answer how long until the earliest one could free. It runs READ
COMMITTED: under the advisory lock every statement must see the slots the previous holder of the lock
committed, which a serializable snapshot (taken before the lock was granted) would not, and would then
fail and be retried for nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Conn, Database

# The key space of these advisory locks (the two-integer form does not overlap the migrations' lock).
_LOCK_SPACE = 7_310_002
_NOW = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"
_READ_COMMITTED = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"


@dataclass(frozen=True)
class Grant:
    """A slot (`slot` set), or how many seconds until one could be free (`wait`)."""

    slot: int | None
    wait: float = 0.0


class LimitRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(self, scope: str, *, limit: int, window: float, lease: float) -> Grant:
        """A slot of `scope` if fewer than `limit` are live, held until released or `lease` seconds pass.

        `lease` bounds how long the slot of a replica that died mid-request blocks the others. When the
        scope is full the wait is exact, never a guess to poll on: a released slot frees at its `free_at`,
        and one still in flight frees no sooner than `window` seconds from now (its answer is still to come).
        """

        def work(conn: Conn) -> Grant:
            conn.execute(_READ_COMMITTED)
            conn.execute("SELECT pg_advisory_xact_lock(?, hashtext(?))", (_LOCK_SPACE, scope))
            row = conn.execute(
                f"WITH clock AS (SELECT {_NOW} AS now) "
                "SELECT clock.now, "
                "(SELECT b.blocked_until FROM limit_blocks b "
                " WHERE b.scope = ? AND b.blocked_until > clock.now), "
                "(SELECT COUNT(*) FROM limit_slots s WHERE s.scope = ? AND s.free_at > clock.now), "
                "(SELECT MIN(CASE WHEN s.in_flight = 1 THEN clock.now + ? ELSE s.free_at END) "
                " FROM limit_slots s WHERE s.scope = ? AND s.free_at > clock.now) "
                "FROM clock",
                (scope, scope, window, scope),
            ).fetchone()
            now, blocked_until, live, first_free = float(row[0]), row[1], int(row[2]), row[3]
            if blocked_until is not None:
                return Grant(None, float(blocked_until) - now)
            if live >= limit:
                return Grant(None, max(0.0, float(first_free) - now))
            inserted = conn.execute(
                "INSERT INTO limit_slots (scope, free_at, in_flight) VALUES (?, ?, 1) RETURNING id",
                (scope, now + lease),
            ).fetchone()
            return Grant(int(inserted[0]))

        return await self._db.run_transaction(work)

    async def release(self, slot: int, scope: str, *, hold: float) -> None:
        """The answer arrived: the slot frees `hold` seconds from now (0: nothing was sent, free at once).

        A slot whose lease ran out (a long 429 pause) may be gone: it is written again, since the request it
        stood for was sent all the same and must count until `hold` passes.
        """

        def work(conn: Conn) -> None:
            conn.execute(_READ_COMMITTED)
            if hold <= 0:
                conn.execute("DELETE FROM limit_slots WHERE id = ?", (slot,))
                return
            changed = conn.execute(
                f"UPDATE limit_slots SET free_at = {_NOW} + ?, in_flight = 0 WHERE id = ?", (hold, slot)
            ).rowcount
            if not changed:
                conn.execute(
                    f"INSERT INTO limit_slots (scope, free_at, in_flight) VALUES (?, {_NOW} + ?, 0)",
                    (scope, hold),
                )

        await self._db.run_transaction(work)

    async def block(self, scope: str, seconds: float) -> None:
        """Nothing of `scope` is granted for `seconds` (a 429's retry_after), whichever replica asks."""
        await self._db.execute(
            "INSERT INTO limit_blocks (scope, blocked_until) VALUES (?, "
            f"{_NOW} + ?) ON CONFLICT (scope) DO UPDATE SET blocked_until = CASE "
            "WHEN excluded.blocked_until > limit_blocks.blocked_until THEN excluded.blocked_until "
            "ELSE limit_blocks.blocked_until END",
            (scope, seconds),
        )

    async def sweep(self) -> int:
        """Forget slots and blocks that no longer hold anything back; how many slots went."""

        def work(conn: Conn) -> int:
            conn.execute(_READ_COMMITTED)
            gone = conn.execute(f"DELETE FROM limit_slots WHERE free_at <= {_NOW}").rowcount
            conn.execute(f"DELETE FROM limit_blocks WHERE blocked_until <= {_NOW}")
            return int(gone or 0)

        return await self._db.run_transaction(work)

    async def live(self, scope: str) -> int:
        """How many slots of `scope` hold back a new request now (for checks and tests)."""
        row = await self._db.fetchone(
            f"SELECT COUNT(*) FROM limit_slots WHERE scope = ? AND free_at > {_NOW}", (scope,)
        )
        return int(row[0]) if row else 0
