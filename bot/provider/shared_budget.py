"""The external limits held together by every replica on one PostgreSQL database.

One process keeps each limit in a SlidingWindowBudget (bot/provider/budget.py). Several replicas each
keeping their own would together send N times too much, so with PostgreSQL a budget is in two parts:

- the local SlidingWindowBudget, unchanged, still decides the order inside the replica: priorities,
  reserves, pre-emption, `ahead` reservations and the queue positions people see;
- a shared grant then admits the locally chosen request: a slot row in the database (storage/limits.py),
  taken in one short transaction under an advisory lock per scope, counted from the request's start
  until `window` seconds after its answer by the database's clock, so replicas agree on time.

Waiting for the shared grant never polls: a full scope answers how long until its earliest slot could be
free (a released slot's `free_at`; one still in flight no sooner than `window` from now), the replica
sleeps that long and asks once more. Inside a replica one task per scope asks at a time (a FIFO lock),
in the order the local budget chose, so a burst is not a herd of transactions. A slot's lease bounds how
long a replica that died mid-request holds it; a 429's `retry_after` is a row too (`hold_off`), which
every replica's grant honours.

Why PostgreSQL and not Redis: PostgreSQL is already required for replicas and is where the work queue's
leases live; Redis would be one more service to run, secure and monitor, with its own failure modes,
for a grant that costs about a millisecond here (README "Replicas": measured p50/p99).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

from bot.provider.budget import SlidingWindowBudget
from storage.db import is_busy
from storage.limits import Grant, LimitRepository

log = logging.getLogger(__name__)

# A slot's lease: longer than any request it stands for may take (the provider client's 30 s timeout;
# Telegram's 120 s media write and 30 s read), so it runs out only for a replica that died.
PROVIDER_LEASE = 60.0
TELEGRAM_LEASE = 180.0
# Expired rows are deleted every this many grants of a replica (each chat leaves rows behind).
SWEEP_EVERY = 500
_MIN_SLEEP = 0.001  # a wait of 0 (a slot freeing this very instant) must still yield, not spin

# (chat id or None for the bot's global budget, limit, window) -> a budget: ChatPacer's `budgets`.
BudgetFactory = Callable[[int | str | None, int, float], SlidingWindowBudget]


def _digest(secret: str) -> str:
    """Names a key in the database without storing it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class SharedLimits:
    """One replica's side of the shared slots: budgets per scope, their releases, the cost of a grant."""

    def __init__(self, repository: LimitRepository, *, sweep_every: int = SWEEP_EVERY) -> None:
        self._repository = repository
        self._sweep_every = sweep_every
        self._background: set[asyncio.Task[Any]] = set()
        self._grant_seconds: deque[float] = deque(maxlen=10_000)
        self.takes = 0  # transactions that asked for a slot (granted or told to wait)

    def budget(self, scope: str, limit: int, window: float, *, lease: float) -> SharedWindowBudget:
        # The window is part of the scope: slots released under another window (the setting changed
        # across a restart) would otherwise hold the new budget back for the old window's length.
        return SharedWindowBudget(self, f"{scope}/{window:g}s", limit, window, lease=lease)

    def provider_budget(self, api_key: str, limit: int, window: float) -> SharedWindowBudget:
        return self.budget(f"provider:{_digest(api_key)}", limit, window, lease=PROVIDER_LEASE)

    def telegram_budgets(self, token: str) -> BudgetFactory:
        """ChatPacer's budgets for one bot token: its global budget and one per chat."""
        bot = _digest(token)

        def make(chat_id: int | str | None, limit: int, window: float) -> SlidingWindowBudget:
            scope = f"telegram:{bot}" if chat_id is None else f"telegram:{bot}:{chat_id}"
            return self.budget(scope, limit, window, lease=TELEGRAM_LEASE)

        return make

    def grant_latency(self) -> tuple[float, float]:
        """(p50, p99) in milliseconds of the grant transactions so far (0, 0 before the first)."""
        if not self._grant_seconds:
            return 0.0, 0.0
        ordered = sorted(self._grant_seconds)
        at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
        return at(0.50), at(0.99)

    async def take(self, budget: SharedWindowBudget) -> Grant:
        started = time.perf_counter()
        request = asyncio.ensure_future(
            self._repository.take(budget.scope, limit=budget.limit, window=budget.window, lease=budget.lease)
        )
        try:
            # Shielded: the transaction runs on a thread and commits whatever happens to this task, so a
            # caller cancelled meanwhile (a pre-empted edit) must hand back the slot it would have got.
            grant = await asyncio.shield(request)
        except asyncio.CancelledError:
            request.add_done_callback(lambda done: self._give_back(budget, done))
            raise
        self._grant_seconds.append(time.perf_counter() - started)
        self.takes += 1
        if self.takes % self._sweep_every == 0:
            self.spawn(self._repository.sweep())
        return grant

    def _give_back(self, budget: SharedWindowBudget, done: asyncio.Future[Grant]) -> None:
        if done.cancelled() or done.exception() is not None:
            return
        slot = done.result().slot
        if slot is not None:
            budget.spawn(self._repository.release(slot, budget.scope, hold=0.0))

    def release(self, budget: SharedWindowBudget, slot: int, *, hold: float) -> None:
        budget.spawn(self._until_landed(lambda: self._repository.release(slot, budget.scope, hold=hold)))

    def block(self, budget: SharedWindowBudget, seconds: float) -> None:
        budget.spawn(self._until_landed(lambda: self._repository.block(budget.scope, seconds)))

    @staticmethod
    async def _until_landed(write: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        # A release lost to a busy database would hold its slot (a chat's, for one) for the whole lease:
        # it is tried again while the database is busy, for as long as a lease could be.
        delay, deadline = 0.1, time.monotonic() + TELEGRAM_LEASE
        while True:
            try:
                await write()
                return
            except Exception as error:
                if not is_busy(error) or time.monotonic() > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(self._logged(work))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    @staticmethod
    async def _logged(work: Coroutine[Any, Any, Any]) -> None:
        try:
            await work
        except Exception as error:  # the slot then frees when its lease runs out: late, never early
            log.warning("shared limit update failed: %s: %s", type(error).__name__, error)

    async def close(self) -> None:
        """Let the releases and blocks already decided land (the others would wait out their leases)."""
        while self._background:
            await asyncio.wait(set(self._background))


class SharedWindowBudget(SlidingWindowBudget):
    """A SlidingWindowBudget whose every slot is also a slot of the scope shared by all replicas."""

    def __init__(self, limits: SharedLimits, scope: str, limit: int, window: float, *, lease: float) -> None:
        super().__init__(limit, window)
        self.limits = limits
        self.scope = scope
        self.lease = lease
        self._held: deque[int] = deque()  # shared slots this replica holds (any one stands for any other)
        self._asking = asyncio.Lock()
        self._pending: set[asyncio.Task[Any]] = set()  # releases and blocks of this scope still on their way

    async def acquire(self, ticket: object = None, *, priority: int = 0, reserve: int = 0) -> None:
        await super().acquire(ticket, priority=priority, reserve=reserve)
        try:
            await self._take_shared()
        except BaseException:
            super().release(unused=True)  # nothing was sent with the local slot
            raise

    async def _take_shared(self) -> None:
        async with self._asking:
            if self._pending:
                # A slot handed back a moment ago must be seen free, and a 429 just seen must be seen.
                await asyncio.wait(set(self._pending))
            while True:
                grant = await self.limits.take(self)
                if grant.slot is not None:
                    self._held.append(grant.slot)
                    return
                await asyncio.sleep(max(grant.wait, _MIN_SLEEP))

    def release(self, *, unused: bool = False) -> None:
        super().release(unused=unused)
        if self._held:
            self.limits.release(self, self._held.popleft(), hold=0.0 if unused else self.window)

    def hold_off(self, seconds: float) -> None:
        self.limits.block(self, seconds)

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        task = self.limits.spawn(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
