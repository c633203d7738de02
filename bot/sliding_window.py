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
    (provider-api.md §1). Waiters are served first come, first served, and `position` tells a waiter
    where it stands, which the chat shows as a place in the queue.
    """

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a budget needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._in_flight = 0
        self._released: deque[float] = deque()  # monotonic times when held slots become free again
        self._waiters: deque[tuple[object, asyncio.Future[None]]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def waiting(self) -> int:
        return sum(1 for _, w in self._waiters if not w.done())

    def position(self, ticket: object) -> int | None:
        """1-based place of the waiter that acquired with `ticket`, or None when it is not waiting."""
        place = 0
        for owner, waiter in self._waiters:
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

    def _wake(self) -> None:
        self._timer = None
        now = time.monotonic()
        while self._waiters and self._free(now) > 0:
            _, waiter = self._waiters.popleft()
            if not waiter.done():
                self._in_flight += 1
                waiter.set_result(None)
        if self._waiters and self._released and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_at(loop.time() + max(0.0, self._released[0] - now), self._wake)

    async def acquire(self, ticket: object = None) -> None:
        if not self._waiters and self._free(time.monotonic()) > 0:
            self._in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((ticket, waiter))
        self._wake()
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # granted just as we were cancelled: give the slot back
            raise

    def release(self) -> None:
        """The response arrived (or the request failed): the slot frees `window` seconds from now."""
        self._in_flight -= 1
        self._released.append(time.monotonic() + self.window)
        if self._waiters and self._timer is None:
            self._wake()

    @asynccontextmanager
    async def slot(self, ticket: object = None) -> AsyncIterator[None]:
        await self.acquire(ticket)
        try:
            yield
        finally:
            self.release()
