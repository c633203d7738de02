"""Asking the provider's record-info about tasks that have been quiet: one recurring poll item per task.

A poll item is due SUNO_POLL_INTERVAL after the task's last event (each applied event pushes it back,
storage/tasks.py) and ends with the task. In polling mode it is how stages arrive at all; with callbacks
it covers callbacks the provider gave up on. A task the provider has not finished after
TASK_TIMEOUT_SECONDS is failed, so a person is never left waiting.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.provider.client import ProviderClient
from bot.provider.errors import ProviderError
from bot.studio.registry import tool_for
from bot.tasks.events import EventIntake
from bot.tasks.lifecycle import Lifecycle
from bot.tasks.work_queue import ItemTasks
from storage.work import WorkItem

log = logging.getLogger(__name__)

TASK_TIMEOUT_SECONDS = 30 * 60
CODE_TIMEOUT = 408
UNKNOWN_STATUSES_KEPT = 10_000


class Poller:
    def __init__(self, *, lifecycle: Lifecycle, provider: ProviderClient, intake: EventIntake) -> None:
        self._life = lifecycle
        self._queue = lifecycle.queue
        self._provider = provider
        self._intake = intake
        self._running = ItemTasks()
        # Tasks whose undocumented status was logged: once per task, not at every poll until it ends.
        self._unknown_status_logged: dict[int, str] = {}

    def take(self, item: WorkItem, hint: Any = None) -> None:
        self._running.start(item, self._poll(item), f"poll-{item.task_id}")

    async def drain(self, grace: float) -> None:
        """A poll is only a question: stopping cancels it, and the next process asks again."""
        await self._running.stop(0.0, keep=lambda item_id: False)

    async def _poll(self, item: WorkItem) -> None:
        try:
            await self._ask(item)
        except asyncio.CancelledError:
            self._queue.release(item)
            raise
        except Exception as error:  # a busy database, say: ask again at the next interval
            log.warning("polling task %s failed: %s", item.task_id, error)
            self._queue.again(item, at=self._life.now() + self._life.poll_interval)

    async def _ask(self, item: WorkItem) -> None:
        assert item.task_id is not None
        storage, metrics, now = self._life.storage, self._life.metrics, self._life.now
        task = await storage.tasks.get(item.task_id)
        if task is None or task.stage.terminal:
            self._queue.done(item)
            return
        if task.provider_task_id is None:  # not submitted yet: its submission creates the next poll
            self._queue.again(item, at=now() + self._life.poll_interval)
            return
        if task.submitted_at and now() - task.submitted_at > TASK_TIMEOUT_SECONDS:
            await self._life.fail(task, ProviderError(CODE_TIMEOUT, "no result in time"))
            self._queue.done(item)
            return
        next_time = now() + self._life.poll_interval
        tool = tool_for(task.kind)
        if tool is not None and tool.synchronous:
            self._queue.done(item)  # its answer was its result: there is nothing to ask about
            return
        try:
            if tool is not None and tool.poll_answers:
                data = await self._provider.record_envelope(
                    tool.poll_path or "", {tool.poll_query: task.provider_task_id}, answers=tool.poll_answers
                )
                data.setdefault(tool.poll_query, task.provider_task_id)
                snapshot = tool.read_record(data)
            elif tool is not None:
                data = await self._provider.record(
                    tool.poll_path or "", {tool.poll_query: task.provider_task_id}
                )
                data.setdefault(tool.poll_query, task.provider_task_id)
                snapshot = tool.read_record(data)
            else:
                snapshot = await self._provider.record_info(task.provider_task_id)
        except ProviderError as error:
            metrics.polls.labels(result="error").inc()
            log.warning("polling task %s failed: %s", task.id, error)
            self._queue.again(item, at=next_time)
            return
        except ValueError:  # a ValidationError, or a studio tool's reader refusing what it was given
            metrics.polls.labels(result="malformed").inc()
            log.warning("record-info for task %s was malformed", task.id)
            self._queue.again(item, at=next_time)
            return
        metrics.polls.labels(result=snapshot.stage.value).inc()
        self._note_unknown_status(task.id, snapshot.unknown_status)
        if snapshot.stage.rank > task.stage.rank or snapshot.tracks:
            await self._intake.accept_poll(task.id, snapshot)
        # Due again; applying a final stage ends the poll (storage/tasks.py), so it never comes back.
        self._queue.again(item, at=next_time)
        if snapshot.stage.terminal:
            self._unknown_status_logged.pop(task.id, None)

    def _note_unknown_status(self, task_id: int, status: str | None) -> None:
        if status is None or task_id in self._unknown_status_logged:
            return
        if len(self._unknown_status_logged) >= UNKNOWN_STATUSES_KEPT:
            self._unknown_status_logged.pop(next(iter(self._unknown_status_logged)))  # the oldest
        self._unknown_status_logged[task_id] = status
        log.warning("task %s: record-info status %r is not documented; still waiting", task_id, status)
