"""Per-chat scheduling of what the bot sends: progress edits coalesced, deliveries in order.

Each chat with work has one worker. Progress is coalesced: marking a task's progress dirty twice before
the worker gets to it produces one edit showing the newest state. Deliveries run after pending progress
so a person sees "done" before the tracks arrive. The pacing itself (1 call/s per chat, 30/s overall,
429s) happens below, in the Bot's rate limiter, so the worker simply awaits each call in turn.

A progress step runs as a child task marked `Preemptible`: when the edit it makes is an intermediate
one (low priority in the pacer) and is still waiting for its slots, new work for the chat cancels it
and the task's progress is marked dirty again. The newest state is then rendered, mandatory calls (the
final state, the tracks) never queue behind an optional edit, and nothing Telegram may have received is
ever interrupted.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from bot.telegram.pacing import PREEMPTIBLE, Preemptible

log = logging.getLogger(__name__)

ShowProgress = Callable[[int], Awaitable[None]]
DeliverNext = Callable[[int], Awaitable[bool]]  # returns True while the task has more to deliver
ChatGone = Callable[[int, BaseException], Awaitable[bool]]  # True when the chat can no longer be reached
# Waits for the chat's turn to send before an optional progress step renders (ChatPacer.ahead).
SlotsAhead = Callable[[int], AbstractAsyncContextManager[None]]


@dataclass
class _ChatWork:
    progress: dict[int, bool] = field(default_factory=dict)  # task id -> optional, in order
    deliveries: dict[int, None] = field(default_factory=dict)
    worker: asyncio.Task[None] | None = None
    step: asyncio.Task[None] | None = None  # the progress step under way, while it is pre-emptible
    step_flag: Preemptible | None = None
    preempted: bool = False

    def want_progress(self, task_id: int, *, optional: bool) -> None:
        """Queue a progress step; it stays optional only while every request for it was optional."""
        self.progress[task_id] = self.progress.get(task_id, True) and optional

    def preempt(self) -> None:
        if self.step is None or self.step_flag is None:
            return
        self.preempted = True
        self.step_flag.overtaken = True  # if it is not waiting yet, it gives way when it starts to
        if self.step_flag.waiting:
            self.step.cancel()


class Outbox:
    def __init__(
        self,
        *,
        show_progress: ShowProgress,
        deliver_next: DeliverNext,
        chat_gone: ChatGone,
        slots_ahead: SlotsAhead | None = None,
    ) -> None:
        self._show_progress = show_progress
        self._slots_ahead = slots_ahead
        self._deliver_next = deliver_next
        self._chat_gone = chat_gone
        self._chats: dict[int, _ChatWork] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def progress(self, chat_id: int, task_id: int, *, optional: bool = False) -> None:
        """Show the task's newest state. `optional`: an intermediate state that may be skipped or wait.

        An optional step first waits for its turn to send (`slots_ahead`), then renders: while many chats
        wait for Telegram's budget, none of them renders a state that is overtaken before it is sent.
        """
        work = self._work(chat_id)
        work.want_progress(task_id, optional=optional)
        work.preempt()
        self._ensure_worker(chat_id)

    def deliver(self, chat_id: int, task_id: int) -> None:
        work = self._work(chat_id)
        work.deliveries[task_id] = None
        work.preempt()
        self._ensure_worker(chat_id)

    @property
    def busy_chats(self) -> int:
        return len(self._chats)

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def close(self) -> None:
        workers = [w.worker for w in self._chats.values() if w.worker]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._chats.clear()
        self._idle.set()

    def _work(self, chat_id: int) -> _ChatWork:
        work = self._chats.get(chat_id)
        if work is None:
            work = self._chats[chat_id] = _ChatWork()
            self._idle.clear()
        return work

    def _ensure_worker(self, chat_id: int) -> None:
        work = self._chats[chat_id]
        if work.worker is None or work.worker.done():
            work.worker = asyncio.create_task(self._run(chat_id, work), name=f"outbox-{chat_id}")

    async def _progress_step(self, chat_id: int, work: _ChatWork, task_id: int, optional: bool) -> None:
        flag = Preemptible()
        context = contextvars.copy_context()
        context.run(PREEMPTIBLE.set, flag)
        step = asyncio.create_task(self._show(chat_id, task_id, optional), context=context)
        work.step, work.step_flag, work.preempted = step, flag, False
        try:
            await step
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if not work.preempted or (current is not None and current.cancelling()):
                raise
            # Overtaken while it waited for a slot: show the newest state after the newer work.
            work.want_progress(task_id, optional=optional)
        finally:
            work.step = work.step_flag = None
            work.preempted = False

    async def _show(self, chat_id: int, task_id: int, optional: bool) -> None:
        if optional and self._slots_ahead is not None:
            async with self._slots_ahead(chat_id):
                await self._show_progress(task_id)
        else:
            await self._show_progress(task_id)

    async def _run(self, chat_id: int, work: _ChatWork) -> None:
        try:
            while work.progress or work.deliveries:
                try:
                    if work.progress:
                        task_id = next(iter(work.progress))
                        optional = work.progress.pop(task_id)
                        await self._progress_step(chat_id, work, task_id, optional)
                    else:
                        task_id = next(iter(work.deliveries))
                        if not await self._deliver_next(task_id):
                            work.deliveries.pop(task_id, None)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    if await self._chat_gone(chat_id, error):
                        log.info("chat %s cannot be reached any more; dropping its queued work", chat_id)
                        work.progress.clear()
                        work.deliveries.clear()
                    else:
                        log.exception("sending to chat %s failed; will retry on the next resume", chat_id)
                        # Drop the failing delivery so one broken track cannot loop forever here.
                        work.deliveries.pop(task_id, None)
        finally:
            if self._chats.get(chat_id) is work and not (work.progress or work.deliveries):
                del self._chats[chat_id]
                if not self._chats:
                    self._idle.set()
