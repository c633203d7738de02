"""Per-chat order for what the bot sends: the work queue's progress and delivery items, one chat at a time.

Each chat with work has one worker. Progress is coalesced: a task's progress asked for twice before the
worker gets to it is one edit showing the newest state. Deliveries run after pending progress, so a
person sees "done" before the tracks arrive, and one at a time in order. The pacing itself (1 call/s per
chat, 30/s overall, 429s) happens below, in the Bot's rate limiter, so the worker awaits each call in turn.

Every item's outcome goes back to the work queue: done, or retried later with backoff (a Telegram outage,
a failed download, a busy database), or given up (the chat blocked the bot, Telegram refused the call
for good). Nothing is dropped on an exception: the item's row keeps it.

A progress step runs as a child task marked `Preemptible`: when the edit it makes is an intermediate
one (low priority in the pacer) and is still waiting for its slots, new work for the chat cancels it
and the step runs again later. The newest state is then rendered, mandatory calls (the final state, the
tracks) never queue behind an optional edit, and nothing Telegram may have received is interrupted.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from telegram.error import TelegramError

from bot.ops.metrics import Metrics
from bot.provider.client import ProviderDownloadError
from bot.studio.cover import cover_refs
from bot.tasks.retry import judge
from bot.tasks.work_queue import WorkQueue
from bot.telegram.pacing import PREEMPTIBLE, Preemptible
from storage.people import PeopleRepository
from storage.results import FILES_TOPIC
from storage.work import Kind, WorkItem

log = logging.getLogger(__name__)

# Waits for the chat's turn to send before an optional progress step renders (ChatPacer.ahead).
SlotsAhead = Callable[[int], AbstractAsyncContextManager[None]]


class ShowsProgress(Protocol):  # bot/chat/progress_messages.py ProgressMessages
    async def show(self, task_id: int) -> None: ...


class DeliversTracks(Protocol):  # bot/chat/deliveries.py Deliveries
    async def deliver(self, track_id: int, *, followers: int) -> None: ...

    async def give_up(self, track_id: int) -> None: ...

    async def deliver_files(self, task_id: int) -> None: ...  # a studio task's files (bot/studio/)

    async def give_up_files(self, task_id: int) -> None: ...

    async def deliver_cover(self, track_id: int, image_id: int) -> None: ...  # Use as cover

    async def give_up_cover(self, track_id: int) -> None: ...


@dataclass
class _ChatWork:
    progress: dict[int, tuple[WorkItem, bool]] = field(default_factory=dict)  # task id -> item, optional
    deliveries: dict[str, WorkItem] = field(default_factory=dict)  # item key -> item, in order
    worker: asyncio.Task[None] | None = None
    step: asyncio.Task[None] | None = None  # the progress step under way, while it is pre-emptible
    step_flag: Preemptible | None = None
    preempted: bool = False

    def want_progress(self, item: WorkItem, *, optional: bool) -> None:
        """Queue a progress step; it stays optional only while every request for it was optional."""
        assert item.task_id is not None
        queued = self.progress.get(item.task_id)
        if queued is not None and queued[0].version > item.version:
            item = queued[0]
        self.progress[item.task_id] = (item, (queued[1] if queued else True) and optional)

    def preempt(self) -> None:
        if self.step is None or self.step_flag is None:
            return
        self.preempted = True
        self.step_flag.overtaken = True  # if it is not waiting yet, it gives way when it starts to
        if self.step_flag.waiting:
            self.step.cancel()

    def items(self) -> list[WorkItem]:
        return [item for item, _ in self.progress.values()] + list(self.deliveries.values())


class Outbox:
    def __init__(
        self,
        *,
        queue: WorkQueue,
        progress: ShowsProgress,
        deliveries: DeliversTracks,
        people: PeopleRepository,
        metrics: Metrics,
        slots_ahead: SlotsAhead | None = None,
    ) -> None:
        self._queue = queue
        self._progress = progress
        self._deliveries = deliveries
        self._people = people
        self._metrics = metrics
        self._slots_ahead = slots_ahead
        self._chats: dict[int, _ChatWork] = {}
        self._draining = False

    # ---- the worker of progress and delivery items ------------------------------------------------

    def take(self, item: WorkItem, hint: Any = None) -> None:
        """`hint`: True for an intermediate state that may be skipped or wait (a progress item only).

        An optional step first waits for its turn to send (`slots_ahead`), then renders: while many chats
        wait for Telegram's budget, none of them renders a state that is overtaken before it is sent.
        """
        assert item.chat_id is not None
        work = self._chats.get(item.chat_id)
        if work is None:
            work = self._chats[item.chat_id] = _ChatWork()
        if item.kind is Kind.PROGRESS:
            work.want_progress(item, optional=bool(hint))
        else:
            work.deliveries[item.key] = item  # a track's, or a studio task's files (deliver:files:<task>)
        work.preempt()
        if work.worker is None or work.worker.done():
            work.worker = asyncio.create_task(self._run(item.chat_id, work), name=f"outbox-{item.chat_id}")

    async def drain(self, grace: float) -> None:
        """Start nothing new; the calls under way get `grace` seconds; the rest goes back to the queue."""
        self._draining = True
        workers = [w.worker for w in self._chats.values() if w.worker is not None]
        for work in self._chats.values():
            work.preempt()  # an optional edit still waiting for its turn is not worth waiting for
        if workers:
            await asyncio.wait(workers, timeout=grace)
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

    @property
    def busy_chats(self) -> int:
        return len(self._chats)

    # ---- one chat ---------------------------------------------------------------------------------

    async def _run(self, chat_id: int, work: _ChatWork) -> None:
        current: WorkItem | None = None  # taken out of the chat's queue, outcome not reported yet
        try:
            while (work.progress or work.deliveries) and not self._draining:
                if work.progress:
                    task_id = next(iter(work.progress))
                    current, optional = work.progress.pop(task_id)
                else:
                    track_id = next(iter(work.deliveries))
                    current, optional = work.deliveries.pop(track_id), False
                try:
                    if current.kind is Kind.PROGRESS:
                        done = await self._progress_step(work, current, optional)
                    elif _files(current):
                        await self._deliveries.deliver_files(_ref(current))
                        done = True
                    elif (refs := cover_refs(current.key)) is not None:
                        await self._deliveries.deliver_cover(*refs)
                        done = True
                    else:
                        await self._deliveries.deliver(_ref(current), followers=len(work.deliveries))
                        done = True
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    await self._failed(chat_id, work, current, error)
                else:
                    self._queue.telegram_answered()
                    if done:
                        self._queue.done(current)
                current = None
        finally:
            # Stopping (or cancelled): what is left goes back to the queue untouched.
            for left in [*work.items(), *([current] if current is not None else [])]:
                self._queue.release(left)
            work.progress.clear()
            work.deliveries.clear()
            if self._chats.get(chat_id) is work:
                del self._chats[chat_id]

    async def _progress_step(self, work: _ChatWork, item: WorkItem, optional: bool) -> bool:
        """Show the task's state; False when overtaken (the step runs again with the newer work)."""
        flag = Preemptible()
        context = contextvars.copy_context()
        context.run(PREEMPTIBLE.set, flag)
        assert item.task_id is not None
        step = asyncio.create_task(self._show(item.chat_id or 0, item.task_id, optional), context=context)
        work.step, work.step_flag, work.preempted = step, flag, False
        try:
            await step
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not work.preempted or (current is not None and current.cancelling()):
                raise
            # Overtaken while it waited for a slot: show the newest state after the newer work.
            work.want_progress(item, optional=optional)
            return False
        finally:
            work.step = work.step_flag = None
            work.preempted = False
        return True

    async def _show(self, chat_id: int, task_id: int, optional: bool) -> None:
        if optional and self._slots_ahead is not None:
            async with self._slots_ahead(chat_id):
                await self._progress.show(task_id)
        else:
            await self._progress.show(task_id)

    async def _failed(self, chat_id: int, work: _ChatWork, item: WorkItem, error: Exception) -> None:
        if isinstance(error, TelegramError):
            self._metrics.telegram_errors.labels(code=type(error).__name__).inc()
        verdict = judge(error, item.attempts)
        if verdict.chat_gone:
            log.info("chat %s cannot be reached any more; its queued work ends", chat_id)
            await self._people.mark_bot_blocked(chat_id)
            for left in [item, *work.items()]:
                self._queue.fail(left, error=verdict.reason)
            work.progress.clear()
            work.deliveries.clear()
            return
        if verdict.waiting_for == "telegram":
            self._queue.telegram_failed()
        if item.kind is Kind.PROGRESS and item.task_id in work.progress:
            return  # newer progress of this task is queued and runs next: that is the retry
        if verdict.retry_in is not None:
            self._queue.retry(
                item, delay=verdict.retry_in, error=verdict.reason, waiting_for=verdict.waiting_for
            )
            return
        refs = cover_refs(item.key)
        if refs is not None:
            try:
                await self._deliveries.give_up_cover(refs[0])
            except Exception as second:  # Telegram is refusing too: keep trying later
                self._queue.retry(
                    item, delay=judge(second, item.attempts).retry_in or 60.0, error=str(second)
                )
                return
        elif isinstance(error, ProviderDownloadError) and item.kind is Kind.DELIVER:
            try:
                if _files(item):
                    await self._deliveries.give_up_files(_ref(item))
                else:
                    await self._deliveries.give_up(_ref(item))
            except Exception as second:  # Telegram is refusing too: keep trying later
                self._queue.retry(
                    item, delay=judge(second, item.attempts).retry_in or 60.0, error=str(second)
                )
                return
        if not isinstance(error, TelegramError | ProviderDownloadError):
            log.error("chat %s: %s failed for good", chat_id, item.key, exc_info=error)
        self._queue.fail(item, error=verdict.reason)


def _ref(item: WorkItem) -> int:
    """The id an item's key names (a delivery's track)."""
    return int(item.key.rsplit(":", 1)[1])


def _files(item: WorkItem) -> bool:
    return item.key.startswith(f"{Kind.DELIVER.value}:{FILES_TOPIC}:")
