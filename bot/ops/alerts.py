"""Alerts to the admins, as work items: sent once, retried. Each item's topic says what it tells:

- (none) the provider refused a task for lack of credits;
- `credits_low` the balance fell below CREDITS_ALERT_BELOW: looked at after a submission, at most
  once per CREDITS_CHECK_INTERVAL, and told once per episode (until the balance is back above it);
- `broadcast` a /broadcast reached everyone it could: its final count, to the admin who sent it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram import Bot

from bot.i18n import Texts
from bot.provider.client import ProviderClient
from bot.tasks.retry import judge
from bot.tasks.work_queue import ItemTasks, WorkQueue
from storage.store import Storage
from storage.work import Kind, NewWork, WorkItem

log = logging.getLogger(__name__)

# Durable, so a restart neither repeats an episode's alert nor forgets what it said.
LOW_BALANCE_TOLD = "alerts.credits_low.told"
LOW_BALANCE_FIGURES = "alerts.credits_low.figures"


class Alerts:
    def __init__(
        self,
        *,
        storage: Storage,
        bot: Bot,
        queue: WorkQueue,
        admins: frozenset[int],
        provider: ProviderClient | None = None,
        credits_alert_below: int = 0,
        credits_check_interval: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._bot = bot
        self._queue = queue
        self._admins = admins
        self._provider = provider
        self._threshold = credits_alert_below
        self._check_interval = credits_check_interval
        self._now = clock
        self._running = ItemTasks()
        self._last_check = float("-inf")
        self._check: asyncio.Task[None] | None = None
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

    def task_accepted(self) -> None:
        """The provider took a task: credits are not out, and the balance may be worth a look."""
        self.credits_fine()
        if not self._threshold or not self._admins or self._provider is None or self._queue.stopping:
            return
        now = self._now()
        if now - self._last_check < self._check_interval or (self._check and not self._check.done()):
            return
        self._last_check = now
        self._check = asyncio.create_task(self._check_balance(), name="balance-check")

    async def _check_balance(self) -> None:
        assert self._provider is not None
        try:
            balance = await self._provider.credits()
        except Exception as error:  # the next submission's check tries again
            log.info("could not read the provider balance for CREDITS_ALERT_BELOW: %s", error)
            return
        kv = self._storage.kv
        told = await kv.get(LOW_BALANCE_TOLD) is not None
        if balance >= self._threshold:
            if told:  # the episode is over: the next fall below the threshold is told again
                await kv.delete(LOW_BALANCE_TOLD)
            return
        if told:
            return
        log.warning(
            "the provider balance is %s credits, below CREDITS_ALERT_BELOW=%s", balance, self._threshold
        )
        await kv.set(LOW_BALANCE_FIGURES, json.dumps({"credits": balance, "threshold": self._threshold}))
        # Recorded before the episode is marked told: a crash in between repeats the alert, never loses it.
        now = self._now()
        await self._queue.want(
            [NewWork(Kind.ALERT, a, None, a, now, topic="credits_low") for a in sorted(self._admins)]
        )
        await kv.set(LOW_BALANCE_TOLD, "1")

    def take(self, item: WorkItem, hint: Any = None) -> None:
        self._running.start(item, self._send(item), f"alert-{item.chat_id}")

    async def drain(self, grace: float) -> None:
        await self._running.stop(grace)

    async def _send(self, item: WorkItem) -> None:
        admin = item.chat_id
        assert admin is not None
        try:
            person = await self._storage.people.get(admin)
            texts = Texts(person.locale if person else None)
            await self._bot.send_message(admin, await self._text(item, texts))
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

    async def _text(self, item: WorkItem, texts: Texts) -> str:
        parts = item.key.split(":")
        topic, ref = (parts[1], int(parts[2])) if len(parts) == 3 else ("", int(parts[-1]))
        if topic == "credits_low":
            figures = json.loads(await self._storage.kv.get(LOW_BALANCE_FIGURES) or "{}")
            return texts(
                "admin.credits_low",
                credits=figures.get("credits", "?"),
                threshold=figures.get("threshold", self._threshold),
            )
        if topic == "broadcast":
            counts = await self._storage.broadcasts.counts(ref)
            return texts(
                "broadcast.done",
                id=ref,
                delivered=counts["delivered"],
                blocked=counts["blocked"],
                failed=counts["failed"],
            )
        return texts("admin.out_of_credits")
