"""The durable work queue's engine: leases, wake-ups, outcomes, heartbeats, and a graceful stop.

Pending work is rows (storage/work.py). This process takes items in two ways: work it records itself
comes back leased to it and is handed to its worker at once (`take`), and the dispatcher claims whatever
is due and free (a retry whose time has come, a poll, work a stopped or dead process left). Each kind
has one worker (`Worker`): the submitter, the poller, the outbox, the alerts. A worker reports every
item's outcome here (`done`, `retry`, `fail`, `release`); until then the item is held, and its lease is
renewed while held. An outcome that cannot be written (a busy database) is written again until it is:
the item stays held meanwhile, so nobody does it twice.

Nothing polls: the dispatcher sleeps until the earliest due time or until new work wakes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from bot.tasks.retry import backoff
from storage.work import Kind, Lease, NewWork, WorkItem, WorkRepository

log = logging.getLogger(__name__)

# A lease is renewed every third of it while held, so a process that dies (kill -9, a lost machine)
# leaves its items to the others at most this long after its last renewal.
LEASE_SECONDS = 20.0
TELEGRAM_PROBE_SECONDS = 2.0
MAX_SLEEP = 3600.0
# With replicas on one database, another replica may record work this one is not told about (and then
# die holding nothing): the dispatcher looks at the table at least this often.
SHARED_MAX_SLEEP = 1.0
# How many items of each kind one process holds at once: a bound on memory, and on how far ahead of
# the others one replica takes work.
CAPACITY = {
    Kind.SUBMIT: 1000,
    Kind.POLL: 20,
    Kind.PROGRESS: 500,
    Kind.DELIVER: 500,
    Kind.ALERT: 20,
    Kind.BROADCAST: 30,  # a second of Telegram's global budget: enough to keep it busy, no more
}


ERROR_CHARS = 300  # of an attempt's error, logged and stored


def brief(error: str) -> str:
    """An error as it is logged and stored: some exceptions quote a whole request body (a file's bytes)."""
    return error if len(error) <= ERROR_CHARS else error[: ERROR_CHARS - 1] + "…"


class Worker(Protocol):
    def take(self, item: WorkItem, hint: Any = None) -> None:
        """Start on the item (return at once); report its outcome to the queue when there is one."""

    async def drain(self, grace: float) -> None:
        """Stop starting items; release those not started; give started ones `grace` seconds."""


class ItemTasks:
    """The asyncio tasks a worker runs its items in, one per item, forgotten when they end."""

    def __init__(self) -> None:
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def start(self, item: WorkItem, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run `work` for the item, unless the item already runs (then `work` is dropped unstarted)."""
        if item.id in self._tasks:
            work.close()
            return
        task = asyncio.create_task(work, name=name)
        self._tasks[item.id] = task
        task.add_done_callback(lambda _: self._tasks.pop(item.id, None))

    async def stop(self, grace: float, *, keep: Callable[[int], bool] = lambda item_id: True) -> None:
        """Cancel at once the items `keep` refuses; give the others `grace` seconds, then cancel them."""
        for item_id, task in list(self._tasks.items()):
            if not keep(item_id):
                task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks.values()), timeout=grace)
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)


class WorkQueue:
    def __init__(
        self,
        repository: WorkRepository,
        *,
        telegram_probe: Callable[[], Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.time,
        shared: bool = False,
    ) -> None:
        """`shared`: other processes (replicas) use the same database, so leases they hold are theirs
        until they run out, and the table is looked at every SHARED_MAX_SLEEP seconds."""
        self._repo = repository
        self._now = clock
        self.shared = shared
        self._max_sleep = SHARED_MAX_SLEEP if shared else MAX_SLEEP
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._workers: dict[Kind, Worker] = {}
        self._held: dict[int, WorkItem] = {}
        self._held_by_kind: dict[Kind, int] = dict.fromkeys(Kind, 0)
        self._wake = asyncio.Event()
        self._settled = asyncio.Event()  # nothing held
        self._settled.set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._telegram_down = False
        # While Telegram is unreachable, a cheap call (getMe) asks every few seconds whether it is back,
        # so the work that waits for it goes out at once, not at the end of each item's backoff.
        self._telegram_probe = telegram_probe
        self._prober: asyncio.Task[None] | None = None

    # ---- set-up -----------------------------------------------------------------------------------

    def register(self, kind: Kind, worker: Worker) -> None:
        self._workers[kind] = worker

    def lease(self) -> Lease:
        """The lease that work recorded now is taken with (see storage.work.want)."""
        return Lease(self.owner, self._now() + LEASE_SECONDS)

    async def start(self) -> None:
        """Begin dispatching. Alone on its database, leases left by a process that died are void at once
        instead of when they run out."""
        if not self.shared:
            freed = await self._repo.release_all()
            if freed:
                log.info("took back %d work items a stopped process held", freed)
        self._dispatcher = asyncio.create_task(self._dispatch_forever(), name="work-dispatcher")

    # ---- taking work ------------------------------------------------------------------------------

    async def want(self, items: list[NewWork], hints: dict[str, Any] | None = None) -> list[WorkItem]:
        """Record work and start on it (when due and nobody else holds it); the rows written (a one-shot
        item asked for again writes none)."""
        written = await self._repo.want(items, now=self._now(), lease=self.lease())
        self.take(written, hints)
        return written

    def take(self, items: list[WorkItem], hints: dict[str, Any] | None = None) -> None:
        """Work just recorded by this process: start on what it holds and is due; wake for the rest.

        `hints` (by item key) travel with an item to its worker: whether a progress edit is optional."""
        now = self._now()
        later = False
        for item in items:
            if item.lease_owner == self.owner and item.due_at <= now and not self._stopping:
                self._hand(item, (hints or {}).get(item.key))
            else:
                later = True
        if later:
            self.wake()

    def wake(self) -> None:
        self._wake.set()

    def _hand(self, item: WorkItem, hint: Any = None) -> None:
        previous = self._held.get(item.id)
        if previous is not None and previous.version >= item.version:
            return  # already under way, and nothing newer asked
        if previous is None:
            self._held_by_kind[item.kind] += 1
        self._held[item.id] = item
        self._settled.clear()
        self._ensure_heartbeat()
        self._workers[item.kind].take(item, hint)

    def holds(self, item: WorkItem) -> bool:
        held = self._held.get(item.id)
        return held is not None and held.version == item.version

    def newest(self, item: WorkItem) -> WorkItem:
        """The newest version of an item held (it may have been asked for again while under way)."""
        return self._held.get(item.id, item)

    # ---- outcomes ---------------------------------------------------------------------------------

    def done(self, item: WorkItem) -> None:
        """Finished. A repeatable item asked for again meanwhile stays pending and is done again."""
        if self._held.get(item.id, item).version != item.version:
            return  # a newer version is held: its outcome decides
        self._record(item, lambda: self._repo.finish(item, owner=self.owner, now=self._now()), rerun=True)

    def retry(self, item: WorkItem, *, delay: float, error: str, waiting_for: str | None = None) -> None:
        error = brief(error)
        log.info(
            "work %s: attempt %d failed (%s); again in %.1f s", item.key, item.attempts + 1, error, delay
        )
        due = self._now() + delay
        self._record(
            item,
            lambda: self._repo.retry(
                item, owner=self.owner, due_at=due, error=error, waiting_for=waiting_for, now=self._now()
            ),
            pending=True,
        )

    def again(self, item: WorkItem, *, at: float) -> None:
        """A recurring item (a poll) is due again at `at`, not failed."""
        self._record(
            item,
            lambda: self._repo.reschedule(item, owner=self.owner, due_at=at, now=self._now()),
            pending=True,
        )

    def fail(self, item: WorkItem, *, error: str) -> None:
        error = brief(error)
        log.warning("work %s given up: %s", item.key, error)
        self._record(item, lambda: self._repo.fail(item, owner=self.owner, error=error, now=self._now()))

    def release(self, item: WorkItem) -> None:
        """Not done, not failed: anyone may take it now (a stop, or work this process will not do)."""
        self._record(item, lambda: self._repo.release([item.id], owner=self.owner), pending=True)

    def telegram_failed(self) -> None:
        self._telegram_down = True
        if (
            self._telegram_probe is not None
            and not self._stopping
            and (self._prober is None or self._prober.done())
        ):
            self._prober = asyncio.create_task(self._probe_telegram(), name="telegram-probe")

    async def _probe_telegram(self) -> None:
        assert self._telegram_probe is not None
        while self._telegram_down and not self._stopping:
            await asyncio.sleep(TELEGRAM_PROBE_SECONDS)
            try:
                await self._telegram_probe()
            except Exception:  # still down (or refusing): ask again shortly
                continue
            self.telegram_answered()

    def telegram_answered(self) -> None:
        """Telegram answers again: what waited for it is due now, not at the end of its backoff."""
        if not self._telegram_down:
            return
        self._telegram_down = False

        async def wake() -> None:
            woken = await self._repo.wake_waiting("telegram", now=self._now())
            if woken:
                log.info("Telegram answers again: %d items that waited for it are due now", woken)
                self.wake()

        self._spawn_write(wake())

    def _record(
        self,
        item: WorkItem,
        write: Callable[[], Coroutine[Any, Any, Any]],
        *,
        rerun: bool = False,
        pending: bool = False,
    ) -> None:
        """Write an outcome until it lands. `pending`: the item stays to do (the dispatcher must learn
        when); `rerun`: a finish that found a newer version asked for (the dispatcher takes that one)."""

        async def record() -> None:
            attempt = 0
            while True:
                try:
                    result = await write()
                    break
                except Exception as error:  # the outcome must land: keep it and try again
                    log.warning("work %s: cannot record its outcome yet (%s); retrying", item.key, error)
                    await asyncio.sleep(backoff(attempt, base=0.2, cap=5.0))
                    attempt += 1
            self._drop(item)
            if pending or (rerun and result is False):
                self.wake()

        self._spawn_write(record())

    def _drop(self, item: WorkItem) -> None:
        held = self._held.get(item.id)
        if held is None or held.version != item.version:
            return
        del self._held[item.id]
        self._held_by_kind[item.kind] -= 1
        if self._held_by_kind[item.kind] == CAPACITY[item.kind] - 1:
            self.wake()  # the kind was full: what waited for room can be claimed now
        if not self._held:
            self._settled.set()

    def _spawn_write(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(coro, name="work-outcome")
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    # ---- dispatching ------------------------------------------------------------------------------

    async def _dispatch_forever(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                await self._claim_due()
                # A kind held to capacity is not waited for by its due time (its items are due already,
                # so that would be no wait at all: a busy loop); a slot freed wakes the dispatcher (_drop).
                room = [k for k in self._workers if self._held_by_kind[k] < CAPACITY[k]]
                next_due = await self._repo.next_due(kinds=room) if room else None
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a busy database: try again shortly
                log.warning("work dispatcher: %s; trying again", error)
                next_due = self._now() + 1.0
            delay = self._max_sleep if next_due is None else max(0.0, next_due - self._now())
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=min(delay, self._max_sleep))

    async def _claim_due(self) -> None:
        while not self._stopping:
            kinds = [k for k in self._workers if self._held_by_kind[k] < CAPACITY[k]]
            if not kinds:
                return
            room = min(CAPACITY[k] - self._held_by_kind[k] for k in kinds)
            claimed = await self._repo.claim(lease=self.lease(), now=self._now(), limit=room, kinds=kinds)
            for item in claimed:
                if item.id in self._held:
                    continue  # ours already (its outcome is being written)
                self._hand(item)
            if len(claimed) < room:
                return

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._beat(), name="work-leases")

    async def _beat(self) -> None:
        """Keep the leases of held items alive; ends when nothing is held (idle means idle)."""
        while self._held:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                await self._repo.extend(owner=self.owner, until=self._now() + LEASE_SECONDS)
            except Exception as error:  # the next beat tries again; a lease has two more beats to go
                log.warning("could not renew work leases: %s", error)

    # ---- waiting and stopping ---------------------------------------------------------------------

    async def idle(self) -> None:
        """Until nothing is held and nothing is due now (tests and the demo wait on this)."""
        while True:
            await self._settled.wait()
            if self._writes:  # asyncio.wait, not gather: a waiter cancelled must not cancel the writes
                await asyncio.wait(list(self._writes))
            next_due = await self._repo.next_due()
            if self._held or self._writes:
                continue
            if next_due is None or next_due > self._now() + 0.05:
                return
            self.wake()
            await asyncio.sleep(0.01)

    async def stop(self, *, grace: float) -> None:
        """Stop taking work; let started work finish within `grace` seconds; hand back the rest."""
        self._stopping = True
        self._wake.set()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            await asyncio.gather(self._dispatcher, return_exceptions=True)
        deadline = time.monotonic() + grace
        await asyncio.gather(
            *(worker.drain(max(0.0, deadline - time.monotonic())) for worker in self._workers.values()),
            return_exceptions=True,
        )
        if self._writes:
            await asyncio.wait(list(self._writes))
        left = list(self._held)
        if left:
            try:
                await self._repo.release(left, owner=self.owner)
            except Exception as error:  # their leases run out on their own
                log.warning("could not hand back %d work items: %s", len(left), error)
        self._held.clear()
        self._settled.set()
        for task in (self._heartbeat, self._prober):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    @property
    def stopping(self) -> bool:
        return self._stopping

    @property
    def held(self) -> int:
        return len(self._held)
