"""What every part of the task core does the same way: ending a task in failure, and counting stages."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from bot.chat.progress import CODE_UNREACHABLE
from bot.ops.metrics import Metrics
from bot.provider.errors import ProviderError, ProviderUnavailable
from bot.tasks.work_queue import WorkQueue
from storage.models import Stage, Task, TaskKind
from storage.store import Storage
from storage.tasks import FollowUp

log = logging.getLogger(__name__)


class Lifecycle:
    def __init__(
        self,
        *,
        storage: Storage,
        queue: WorkQueue,
        metrics: Metrics,
        poll_interval: float,
        out_of_credits: Callable[[], Awaitable[None]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.queue = queue
        self.metrics = metrics
        self.poll_interval = poll_interval
        self._out_of_credits = out_of_credits
        self.now = clock

    def follow_up(self) -> FollowUp:
        """Work that a change records in its own transaction, leased to this process."""
        return FollowUp(self.queue.lease(), self.poll_interval)

    async def fail(self, task: Task, error: ProviderError) -> None:
        """End the task in failure (once) and show it; an out-of-credits answer alerts the admins."""
        code = CODE_UNREACHABLE if isinstance(error, ProviderUnavailable) else error.code
        log.warning("task %s failed: %s", task.id, error)
        follow_up = self.follow_up()
        if await self.storage.tasks.mark_failed(
            task.id, code=code, text=error.message, now=self.now(), follow_up=follow_up
        ):
            self.finished(task.kind, Stage.FAILED, code)
        self.queue.take(follow_up.recorded)
        if error.out_of_credits:
            await self._out_of_credits()

    def recoveries_started(self, count: int) -> None:
        """Recovery tasks storage made itself (storage/recovery.py), counted as tasks people create are."""
        if count:
            self.metrics.tasks_created.labels(kind=TaskKind.RECOVERY.value).inc(count)
            self.metrics.active_tasks.inc(count)

    def stage_reached(self, task: Task) -> None:
        if task.submitted_at is not None and task.stage in (Stage.TEXT, Stage.FIRST, Stage.COMPLETE):
            self.metrics.stage_latency.labels(stage=task.stage.value).observe(
                max(0.0, self.now() - task.submitted_at)
            )
        if task.stage.terminal:
            self.finished(task.kind, task.stage, task.error_code)

    def finished(self, kind: TaskKind, stage: Stage, code: int | None) -> None:
        outcome = "complete" if stage is Stage.COMPLETE else "failed"
        self.metrics.tasks_finished.labels(kind=kind.value, outcome=outcome, code=str(code or "")).inc()
        self.metrics.active_tasks.dec()
