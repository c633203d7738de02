"""A sliding-window budget for outgoing requests that a strict receiver can never see exceeded."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class SlidingWindowBudget:
    """At most `limit` requests in any `window` seconds, counted the way a strict server would count them.

    A slot is held from the moment it is taken until `window` seconds after the response arrived. Requests
    delayed in a connection pool or a busy loop arrive later than they were sent, so counting only at
    send time could let them bunch up at the server; holding the slot past the response cannot
    (provider-api.md §1). Waiters are served first come, first served within a priority (lower first), and
    `position` tells a waiter where it stands, which the chat shows as a place in the queue.
    """

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a budget needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._in_flight = 0
        self._released: deque[float] = deque()  # monotonic times when held slots become free again
        # Waiters by priority (lower is served first), each queue first come, first served. A waiter may
        # leave `reserve` slots free for better priorities: it is served only while more than that is free.
        self._queues: dict[int, deque[tuple[object, int, asyncio.Future[None]]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self.wakeups = 0  # how often it looked for waiters to serve (a timer storm shows here)

    @property
    def waiting(self) -> int:
        return sum(1 for queue in self._queues.values() for _, _, w in queue if not w.done())

    def waiting_before(self, priority: int) -> int:
        """How many waiters would be served before a new one of this priority."""
        return sum(
            1 for p, queue in self._queues.items() if p <= priority for _, _, w in queue if not w.done()
        )

    def position(self, ticket: object) -> int | None:
        """1-based place of the waiter that acquired with `ticket`, or None when it is not waiting."""
        place = 0
        for priority in sorted(self._queues):
            for owner, _, waiter in self._queues[priority]:
                if waiter.done():
                    continue
                place += 1
                if owner == ticket:
                    return place
        return None

    def _expire(self, now: float) -> None:
        while self._released and self._released[0] <= now:
            self._released.popleft()

    def _free(self, now: float) -> int:
        self._expire(now)
        return self.limit - self._in_flight - len(self._released)

    def free_now(self) -> int:
        return self._free(time.monotonic())

    def next_free_in(self) -> float:
        """Seconds until a slot frees (0 when one is free; the window when all are in flight)."""
        now = time.monotonic()
        if self._free(now) > 0:
            return 0.0
        return max(0.0, self._released[0] - now) if self._released else self.window

    def _wake(self) -> None:
        # Called by the timer and directly (a new waiter, a release, a waiter leaving): a direct call must
        # drop the pending timer, or every such call would leave one more timer re-arming itself for as
        # long as anybody waits (a storm of wake-ups under load).
        self.wakeups += 1
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = time.monotonic()
        for priority in sorted(self._queues):
            queue = self._queues[priority]
            while queue:
                _, reserve, waiter = queue[0]
                if waiter.done():
                    queue.popleft()
                    continue
                if self._free(now) <= reserve:
                    break
                queue.popleft()
                self._in_flight += 1
                waiter.set_result(None)
            if not queue:
                del self._queues[priority]
            else:
                break  # a better priority still waits: nobody behind it may pass
        if self._queues and self._released and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(loop.time() + max(0.0, self._released[0] - now), self._wake)

    async def acquire(self, ticket: object = None, *, priority: int = 0, reserve: int = 0) -> None:
        if not self._queues and self._free(time.monotonic()) > reserve:
            self._in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(priority, deque()).append((ticket, reserve, waiter))
        self._wake()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Granted just as we were cancelled: give the local slot back (only the local one, which is
                # all this acquire took, even where a subclass adds a shared slot to `release`).
                SlidingWindowBudget.release(self)
            elif self._queues:
                self._wake()  # a waiter that blocked those behind it left
            raise

    def release(self, *, unused: bool = False) -> None:
        """The response arrived (or the request failed): the slot frees `window` seconds from now.

        `unused`: nothing was sent with the slot, so it is free again at once.
        """
        self._in_flight -= 1
        if not unused:
            self._released.append(time.monotonic() + self.window)
            if self._queues and self._timer is None:
                self._wake()
        elif self._queues:
            self._wake()

    def hold_off(self, seconds: float) -> None:
        """The receiver answered 429 for this budget: in one process the caller's own pause is enough (it
        holds its slot while it waits), so nothing here; a shared budget tells the other replicas."""
        del seconds

    @asynccontextmanager
    async def slot(
        self, ticket: object = None, *, priority: int = 0, reserve: int = 0
    ) -> AsyncIterator[None]:
        await self.acquire(ticket, priority=priority, reserve=reserve)
        try:
            yield
        finally:
            self.release()
