"""Fair update processing: each person's updates in order, one at a time, people side by side.

With PTB's plain `concurrent_updates(n)` every update holds one of n slots until its handler returns, and
a handler's reply waits behind its chat's pace (about one message a second). One person sending 30
commands at once therefore held every slot for many seconds and everybody else waited behind them.

Here a person holds at most one slot. The first update of a person who has nothing in flight runs in its
own PTB task and becomes that person's worker: after its own update it goes on with the updates the same
person sent meanwhile. Those later updates only join the person's line and return at once, giving their
slot back, so waiting in line costs a coroutine and no slot. The line is bounded (an update beyond it is
dropped) and forgotten when it empties, so memory follows the people who are active right now.

Order within a person's line is arrival order: PTB starts one task per update in the order they were
queued, and `asyncio.Semaphore` (PTB's global bound) lets its waiters in first come, first served.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Protocol

from telegram import Update
from telegram.ext import BaseUpdateProcessor

log = logging.getLogger(__name__)

# People at once, not updates: a handler mostly waits (for the Bot API, its chat's pace, the database),
# so hundreds at once cost little, while a bound still keeps a flood of new people from starting more work
# than the loop can carry. Far above what 30 messages a second (Telegram's global limit) keeps busy.
MAX_CONCURRENT_PEOPLE = 256
# Commands beyond the first few seconds of a burst are answered ~1 s apart at best; 50 is far more than a
# person typing or tapping can mean to send, and small enough that a script cannot grow memory at will.
MAX_PENDING_PER_PERSON = 50


def person_of(update: object) -> Hashable | None:
    """Whose line an update joins: its user, else its chat (a channel post has no user); None for neither."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return ("user", update.effective_user.id)
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    return None


class UpdateHooks(Protocol):
    """What runs around each update, in the person's line (bot/telegram/shared_state.py for replicas)."""

    async def before(self, update: object) -> None: ...
    async def after(self, update: object) -> None: ...


class PerPersonUpdateProcessor(BaseUpdateProcessor):
    """One line per person, run one update at a time; up to `max_concurrent_updates` people at once.

    `on_drop` is called (with no content) for each update dropped because its person's line was full.
    """

    __slots__ = ("_drained", "_lines", "_max_pending", "_on_drop", "hooks")

    def __init__(
        self,
        max_concurrent_updates: int = MAX_CONCURRENT_PEOPLE,
        *,
        max_pending_per_person: int = MAX_PENDING_PER_PERSON,
        on_drop: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(max_concurrent_updates)
        if max_pending_per_person < 0:
            raise ValueError("max_pending_per_person must not be negative")
        self._max_pending = max_pending_per_person
        self._on_drop = on_drop
        # Per person with work in flight: what waits behind the update being processed now.
        self._lines: dict[Hashable, deque[tuple[object, Awaitable[Any]]]] = {}
        self._drained = asyncio.Event()
        self._drained.set()
        self.hooks: UpdateHooks | None = None  # set once the Application exists

    @property
    def people_in_flight(self) -> int:
        return len(self._lines)

    def pending_for(self, person: Hashable) -> int:
        """Updates of `person` waiting behind the one being processed (0 when none is in flight)."""
        line = self._lines.get(person)
        return len(line) if line is not None else 0

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        person = person_of(update)
        if person is None:
            await coroutine
            return
        line = self._lines.get(person)
        if line is not None:
            if len(line) >= self._max_pending:
                self._drop(coroutine)
            else:
                line.append((update, coroutine))
            return
        line = deque()
        self._lines[person] = line
        self._drained.clear()
        try:
            await self._run(update, coroutine)
            while line:
                await self._run(*line.popleft())
        finally:
            # Normally the line is empty here; if this worker is cancelled, what waited will never run.
            del self._lines[person]
            for _, left in line:
                _close(left)
            if not self._lines:
                self._drained.set()

    async def _run(self, update: object, coroutine: Awaitable[Any]) -> None:
        # Handler errors already went to PTB's error handlers inside Application.process_update; whatever
        # still escapes must not end the line for the updates queued behind it.
        hooks = self.hooks
        try:
            if hooks is not None:
                await hooks.before(update)
            await coroutine
        except Exception:
            log.exception("processing an update failed")
        finally:
            _close(coroutine)  # not started if `before` failed; a no-op on a finished one
        if hooks is not None:
            try:
                await hooks.after(update)
            except Exception:
                log.exception("writing an update's changes failed")

    def _drop(self, coroutine: Awaitable[Any]) -> None:
        _close(coroutine)
        log.info("update dropped: its sender already has %d updates waiting", self._max_pending)
        if self._on_drop is not None:
            self._on_drop()

    async def initialize(self) -> None:
        """Nothing to allocate: lines are made on demand."""

    async def shutdown(self) -> None:
        """Wait until every line has run out.

        Application.stop() already awaited the tasks of the updates it fetched, and those are the workers,
        so by the time Application.shutdown() gets here nothing is normally left to wait for.
        """
        await self._drained.wait()


def _close(coroutine: Awaitable[Any]) -> None:
    # A coroutine that will never run is closed, so Python does not warn that it was never awaited.
    if inspect.iscoroutine(coroutine):
        coroutine.close()
