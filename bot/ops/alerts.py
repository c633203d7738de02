"""Alerts to the admins (the provider account is out of credits), as work items: sent once, retried."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram import Bot

from bot.i18n import Texts
from bot.tasks.retry import judge
from bot.tasks.work_queue import WorkQueue
from storage.store import Storage
from storage.work import Kind, NewWork, WorkItem

log = logging.getLogger(__name__)


class Alerts:
    def __init__(
        self,
        *,
        storage: Storage,
        bot: Bot,
        queue: WorkQueue,
        admins: frozenset[int],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._bot = bot
        self._queue = queue
        self._admins = admins
        self._now = clock
        self._running: dict[int, asyncio.Task[None]] = {}
        # One alert per episode: from the first refusal until the provider accepts a task again.
        self._episode_told = False

    async def out_of_credits(self) -> None:
        if self._episode_told or not self._admins:
            return
        self._episode_told = True
        now = self._now()
        await self._queue.want(
            [NewWork(Kind.ALERT, admin, None, admin, now) for admin in sorted(self._admins)]
        )

    def credits_fine(self) -> None:
        self._episode_told = False

    def take(self, item: WorkItem, hint: Any = None) -> None:
        if item.id not in self._running:
            task = asyncio.create_task(self._send(item), name=f"alert-{item.chat_id}")
            self._running[item.id] = task
            task.add_done_callback(lambda _: self._running.pop(item.id, None))

    async def drain(self, grace: float) -> None:
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=grace)
        for task in self._running.values():
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _send(self, item: WorkItem) -> None:
        admin = item.chat_id
        assert admin is not None
        try:
            person = await self._storage.people.get(admin)
            texts = Texts(person.locale if person else None)
            await self._bot.send_message(admin, texts("admin.out_of_credits"))
        except asyncio.CancelledError:
            self._queue.release(item)
            raise
        except Exception as error:
            verdict = judge(error, item.attempts)
            if verdict.retry_in is None or item.attempts >= 10:
                log.warning("could not alert admin %s: %s", admin, error)
                self._queue.fail(item, error=verdict.reason)
            else:
                self._queue.retry(item, delay=verdict.retry_in, error=verdict.reason)
            return
        self._queue.done(item)
