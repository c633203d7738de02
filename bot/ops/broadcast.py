"""Admins' /broadcast: a draft the admin confirms, then one durable work item per recipient.

`BroadcastDesk` is what the handlers use: make a draft, start or cancel it. `BroadcastSender` is the
work queue's worker for the recipients' items. Each message goes through the Bot's pacer like every
other call, at low priority, so Telegram's limits hold and the people waiting for their songs go first.
A stop hands back the recipients not sent yet and the next start goes on with them; a message Telegram
took just before a crash, not yet recorded, is sent again (a duplicate rather than a loss, as with
tracks). When the last recipient's outcome is recorded, the admin's final count is an alert work item
(bot/ops/alerts.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from telegram import Bot

from bot.tasks.retry import judge, until_stored
from bot.tasks.work_queue import WorkQueue
from bot.telegram.pacing import PREEMPTIBLE, Pace, Preemptible
from storage.broadcasts import Started
from storage.store import Storage
from storage.work import WorkItem

log = logging.getLogger(__name__)

# Telegram's 4096 characters less room for the confirmation's question around the text.
MAX_BROADCAST_LENGTH = 3900
# A message that keeps failing for one person (not a blocked chat, not a refusal) is given up after this.
MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class Draft:
    id: int
    audience: int  # how many people it would go to now


class BroadcastDesk:
    """The handlers' side: drafts, confirmation, cancellation."""

    def __init__(
        self,
        *,
        storage: Storage,
        queue: WorkQueue,
        allowed: Sequence[int] | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._queue = queue
        self._allowed = allowed  # None: everyone may use the bot (ALLOWED_USER_IDS is empty)
        self._now = clock

    async def draft(self, *, admin_id: int, chat_id: int, text: str) -> Draft:
        broadcast_id = await self._storage.broadcasts.create(
            admin_id=admin_id, chat_id=chat_id, text=text, now=self._now()
        )
        return Draft(broadcast_id, await self._storage.broadcasts.audience(allowed=self._allowed))

    async def start(self, broadcast_id: int) -> Started | None:
        """Queue every recipient; None when it was not waiting for a confirmation."""
        started = await self._storage.broadcasts.start(broadcast_id, allowed=self._allowed, now=self._now())
        if started is not None:
            log.info("broadcast %s: %d recipients queued", broadcast_id, started.recipients)
            self._queue.wake()  # the items are not leased: the dispatcher takes them as it has room
        return started

    async def cancel(self, broadcast_id: int) -> bool:
        return await self._storage.broadcasts.cancel(broadcast_id)


class BroadcastSender:
    """The worker of `broadcast` work items: one message to one recipient each."""

    def __init__(
        self, *, storage: Storage, bot: Bot, queue: WorkQueue, clock: Callable[[], float] = time.time
    ) -> None:
        self._storage = storage
        self._bot = bot
        self._queue = queue
        self._now = clock
        self._running: dict[int, tuple[asyncio.Task[None], Preemptible]] = {}
        self._draining = False

    def take(self, item: WorkItem, hint: Any = None) -> None:
        if item.id in self._running:
            return
        if self._draining:
            self._queue.release(item)
            return
        # While its call waits in the pacer for a slot it may be cancelled (a stop): nothing was sent then.
        flag = Preemptible()
        context = contextvars.copy_context()
        context.run(PREEMPTIBLE.set, flag)
        task = asyncio.create_task(self._send(item), name=f"broadcast-{item.key}", context=context)
        self._running[item.id] = (task, flag)
        task.add_done_callback(lambda _: self._running.pop(item.id, None))

    async def drain(self, grace: float) -> None:
        """A stop: what still waits for its turn is handed back at once; calls under way get `grace`."""
        self._draining = True
        for task, flag in list(self._running.values()):
            flag.overtaken = True  # one that has not begun to wait gives way when it would
            if flag.waiting:
                task.cancel()
        tasks = [task for task, _ in self._running.values()]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _send(self, item: WorkItem) -> None:
        recipient_id = int(item.key.rsplit(":", 1)[1])
        try:
            recipient = await self._storage.broadcasts.recipient(recipient_id)
            if recipient is None or recipient.state != "pending":
                self._queue.done(item)  # its outcome was recorded before a restart
                return
            message = await self._bot.send_message(
                recipient.chat_id, recipient.text, rate_limit_args=Pace.low()
            )
        except asyncio.CancelledError:
            self._queue.release(item)
            raise
        except Exception as error:
            await self._failed(item, recipient_id, error)
            return
        self._queue.telegram_answered()
        await self._resolve(item, recipient_id, "delivered", message_id=message.message_id)

    async def _failed(self, item: WorkItem, recipient_id: int, error: Exception) -> None:
        verdict = judge(error, item.attempts)
        if verdict.chat_gone:
            assert item.chat_id is not None
            await self._storage.people.mark_bot_blocked(item.chat_id)
            await self._resolve(item, recipient_id, "blocked")
            return
        if verdict.waiting_for == "telegram":
            self._queue.telegram_failed()
        if verdict.retry_in is not None and item.attempts + 1 < MAX_ATTEMPTS:
            self._queue.retry(
                item, delay=verdict.retry_in, error=verdict.reason, waiting_for=verdict.waiting_for
            )
            return
        log.warning("broadcast to chat %s failed for good: %s", item.chat_id, verdict.reason)
        await self._resolve(item, recipient_id, "failed")

    async def _resolve(
        self, item: WorkItem, recipient_id: int, outcome: str, message_id: int | None = None
    ) -> None:
        # Kept until written: the message may already be in the chat, and must not be sent twice.
        last = await until_stored(
            lambda: self._storage.broadcasts.resolve(
                recipient_id, outcome, message_id=message_id, now=self._now()
            ),
            what=f"broadcast recipient {recipient_id}: {outcome}",
        )
        if last:
            self._queue.wake()  # the admin's final count was recorded for the dispatcher
        self._queue.done(item)
