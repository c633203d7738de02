"""The task core's face to handlers and routes: create a task, take a callback, start, wait, stop.

The work itself is done by the parts this holds, each with one job and each passed in (bot/app.py
builds them): the submitter, the poller, the event intake and applier, and the work queue that keeps
every piece of pending work in storage until it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.i18n import Texts
from bot.ops.metrics import Metrics
from bot.provider.models import ProviderRequest
from bot.tasks.events import CallbackRejected, EventIntake
from bot.tasks.keyed_locks import KeyedLocks
from bot.tasks.lifecycle import Lifecycle
from bot.tasks.submitter import POLLING_CALLBACK_URL, Submitter
from bot.tasks.work_queue import WorkQueue
from storage.ledger import Charge, InsufficientCredits
from storage.models import Person, Stage, Task, TaskKind
from storage.store import Storage
from storage.work import Kind, NewWork

log = logging.getLogger(__name__)

__all__ = ["POLLING_CALLBACK_URL", "CallbackRejected", "Quotas", "TaskRefused", "TaskService"]

# How long in-flight calls (a submission, an upload to Telegram) may finish after SIGTERM before they are
# cut off; docker compose's stop_grace_period leaves room for it.
SHUTDOWN_GRACE_SECONDS = 20.0


class TaskRefused(Exception):
    """The person may not start a task now; `key` and `values` make the message that says why."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class Quotas:
    max_active: int
    max_per_day: int
    admins: frozenset[int]
    charge: Charge | None = None  # payments on: what a task costs (admins are never charged)


class TaskService:
    def __init__(
        self,
        *,
        lifecycle: Lifecycle,
        submitter: Submitter,
        intake: EventIntake,
        quotas: Quotas,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._life = lifecycle
        self._storage: Storage = lifecycle.storage
        self.queue: WorkQueue = lifecycle.queue
        self._metrics: Metrics = lifecycle.metrics
        self._submitter = submitter
        self._intake = intake
        self._quotas = quotas
        self._now = clock
        self._user_locks = KeyedLocks()

    # ---- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """After a start or restart: apply stored events, then do the pending work in storage."""
        tasks = await self._storage.tasks.unfinished()
        self._metrics.active_tasks.set(len(tasks))
        self._intake.start()
        await self.queue.start()
        # Unfinished tasks' messages show the time waited: refreshed once, as an intermediate state. Those
        # still queued are left to the submitter, which shows their place once they are back in the
        # budget's queue (refreshed now, it would show none).
        now = self._now()
        going = [t for t in tasks if t.stage is not Stage.QUEUED]
        await self.queue.want(
            [NewWork(Kind.PROGRESS, t.id, t.id, t.chat_id, now) for t in going],
            hints={f"progress:{t.id}": True for t in going if t.progress_message_id is not None},
        )

    async def stop(self, *, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Take no new work; let what is under way finish within `grace`; hand back the rest."""
        with contextlib.suppress(TimeoutError):  # events it cannot apply now wait in storage
            await asyncio.wait_for(self._intake.idle(), timeout=min(grace, 5.0))
        await self.queue.stop(grace=grace)
        await self._intake.close()

    async def idle(self) -> None:
        """Until no event waits to be applied and no work is under way or due (tests and the demo)."""
        while True:
            await self._intake.idle()
            await self.queue.idle()
            if self._intake.idle_now():
                return

    # ---- creating tasks --------------------------------------------------------------------------

    def is_admin(self, user_id: int) -> bool:
        return user_id in self._quotas.admins

    async def create(
        self,
        person: Person,
        kind: TaskKind,
        request: ProviderRequest,
        *,
        chat_id: int,
        upload_id: int | None = None,
    ) -> Task:
        """Accept a validated request: check quotas, then store it with its submission and progress work.

        `chat_id` is the chat it was asked in (a group, or the person's private chat): its progress and
        tracks go there."""
        follow_up = self._life.follow_up()
        async with self._user_locks.hold(person.user_id):  # quota check and insert as one step per person
            if not self.is_admin(person.user_id):
                await self._check_quota(person.user_id)
            params = request.model_dump(by_alias=True, exclude_none=True)
            charge = None if self.is_admin(person.user_id) else self._quotas.charge
            try:
                task = await self._storage.tasks.create(
                    user_id=person.user_id,
                    chat_id=chat_id,
                    kind=kind,
                    params=params,
                    model=getattr(request, "model", None),
                    upload_id=upload_id,
                    now=self._now(),
                    follow_up=follow_up,
                    charge=charge,
                )
            except InsufficientCredits as short:
                self._metrics.tasks_refused.labels(reason="credits").inc()
                raise TaskRefused("credits.short", balance=short.balance, cost=short.needed) from None
        self._metrics.tasks_created.labels(kind=kind.value).inc()
        self._metrics.active_tasks.inc()
        log.info("task %s created: %s for user %s", task.id, kind.value, person.user_id)
        self.queue.take(follow_up.recorded)
        return task

    async def _check_quota(self, user_id: int) -> None:
        active = await self._storage.tasks.count_active(user_id)
        if active >= self._quotas.max_active:
            self._metrics.tasks_refused.labels(reason="active").inc()
            raise TaskRefused("quota.active", count=active, limit=self._quotas.max_active)
        day_ago = self._now() - 86400
        if await self._storage.tasks.count_created_since(user_id, day_ago) >= self._quotas.max_per_day:
            self._metrics.tasks_refused.labels(reason="daily").inc()
            raise TaskRefused("quota.daily", limit=self._quotas.max_per_day)

    def queue_position(self, task_id: int) -> int | None:
        """The task's place in the queue for the provider's request budget, while it waits there."""
        return self._submitter.position(task_id)

    def callback_url(self, task_id: int) -> str:
        return self._submitter.callback_url(task_id)

    async def show_progress(self, task: Task) -> None:
        """Show the task's state again (as a restart or a repeated report asks for it)."""
        await self.queue.want([NewWork(Kind.PROGRESS, task.id, task.id, task.chat_id, self._now())])

    # ---- events ----------------------------------------------------------------------------------

    async def accept_callback(self, task_id: int, body: bytes) -> int:
        """Store a callback durably (before it is acknowledged) and apply it in the background."""
        return await self._intake.accept_callback(task_id, body)

    # ---- people ----------------------------------------------------------------------------------

    async def welcome_back(self, user_id: int) -> None:
        """A person who had blocked the bot wrote again: send what they missed."""
        person = await self._storage.people.get(user_id)
        if person is None or person.chat_id is None:
            return
        if await self._storage.work.reopen_failed(Kind.DELIVER, chat_id=person.chat_id, now=self._now()):
            self.queue.wake()

    async def texts_for_user(self, user_id: int) -> Texts:
        person = await self._storage.people.get(user_id)
        return Texts(person.locale if person else None)
