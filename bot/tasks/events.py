"""Provider events in: a callback stored before it is acknowledged, then applied in batches.

Every event (callback or poll result) is a row before anything else happens. One applier folds the
stored events into their tasks in one transaction per batch, and in that same transaction records the
work the changes call for (progress shown, tracks delivered, polls put off: storage/tasks.py FollowUp);
the work comes back leased to this process and starts at once. A crash between the two loses nothing:
unapplied events are applied at the next start, and recorded work waits in its rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.provider.models import ProviderSnapshot
from bot.studio.registry import tool_for
from bot.studio.tool import Tool, envelope_of
from bot.tasks.lifecycle import Lifecycle
from storage.events import EventRejected, NewEvent
from storage.models import Event, Stage
from storage.tasks import Applied, Change

log = logging.getLogger(__name__)

APPLY_GATHER_SECONDS = 0.01
APPLIED_PAYLOADS_KEPT = 20_000
APPLY_RETRY_SECONDS = 1.0


class CallbackRejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


_Parsed = tuple[Stage, str]  # what a callback's payload says: its stage and the provider's task id


@dataclass(frozen=True, slots=True)
class _Stored:
    event_id: int
    task_id: int
    snapshot: ProviderSnapshot | None
    digest: tuple[int, bytes]
    callback: str | None = None  # a callback's payload, for a studio tool's own reader


class EventIntake:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self._life = lifecycle
        self._storage = lifecycle.storage
        self._queue = lifecycle.queue
        # Recent payloads applied, oldest first, with what their parse gave the event row.
        self._applied_payloads: dict[tuple[int, bytes], _Parsed] = {}
        self._stored: list[_Stored] = []  # committed events not applied yet, in order
        self._reload_stored = True  # at start, what storage holds unapplied comes first
        self._apply_requested = False
        self._applier: asyncio.Task[None] | None = None
        # One child per outcome, made once: labels() is a locked dict lookup on every callback otherwise.
        self._callback_counters = {
            result: lifecycle.metrics.callbacks.labels(result=result)
            for result in ("stored", "repeat", "malformed", "unknown_task", "mismatch")
        }

    async def accept_callback(self, task_id: int, body: bytes) -> int:
        """Store a callback durably (before it is acknowledged) and apply it in the background."""
        counted = self._callback_counters
        digest = _digest(task_id, body)
        # Providers retry. A payload applied before is stored (every callback is), but as applied already;
        # it was read when it first came, and the same bytes read the same: no parsing again.
        repeat = self._applied_payloads.get(digest)
        try:
            payload = body.decode("utf-8")  # JSON between systems is UTF-8 (RFC 8259 §8.1)
            if repeat is None:
                body_json = json.loads(payload)
                snapshot, parsed = _read_callback(body_json)
                if snapshot is None:
                    # Not the music shape: only a studio tool's callback may look otherwise (tool.py).
                    task = await self._storage.tasks.get(task_id)
                    if task is None or not task.kind.studio:
                        raise ValueError("not a callback of this task's kind")
                    parsed = envelope_of(body_json)
        except (ValueError, ValidationError, RecursionError) as error:  # RecursionError: absurdly nested JSON
            counted["malformed"].inc()
            raise CallbackRejected(400, f"malformed callback: {type(error).__name__}") from None
        stage, provider_task_id = repeat or parsed
        now = self._life.now()
        # The task must exist and not belong to another provider task: checked as the event is stored,
        # so nothing is stored for a callback that is refused.
        try:
            event_id = await self._storage.events.add(
                NewEvent(task_id, "callback", stage, payload, now, now if repeat else None),
                provider_task_id=provider_task_id,
            )
        except EventRejected as rejected:
            if rejected.reason == "unknown":
                counted["unknown_task"].inc()
                raise CallbackRejected(404, "unknown task") from None
            counted["mismatch"].inc()
            raise CallbackRejected(403, "callback for another task") from None
        if repeat:
            counted["repeat"].inc()
        else:
            counted["stored"].inc()
            self._queue_stored(_Stored(event_id, task_id, snapshot, digest, payload))
        return event_id

    async def accept_poll(self, task_id: int, snapshot: ProviderSnapshot) -> None:
        payload = snapshot.model_dump_json()
        event_id = await self._storage.events.add(
            NewEvent(task_id, "poll", snapshot.stage, payload, self._life.now())
        )
        self._queue_stored(_Stored(event_id, task_id, snapshot, _digest(task_id, payload.encode())))

    def start(self) -> None:
        """Apply what was stored before this process started."""
        self._wake_applier(from_storage=True)

    async def close(self) -> None:
        if self._applier is not None:
            self._applier.cancel()
            await asyncio.gather(self._applier, return_exceptions=True)

    async def idle(self) -> None:
        while self._applier is not None and not self._applier.done():
            await asyncio.wait([self._applier])  # not gather: cancelling a waiter must not cancel it

    def idle_now(self) -> bool:
        return (self._applier is None or self._applier.done()) and not self._stored

    def _queue_stored(self, stored: _Stored) -> None:
        """Hand a committed event to the applier, already parsed: it need not be read back or parsed again.

        The queue is only a shortcut: the event is in storage, unapplied, and a restart applies it from
        there (`_reload_stored`).
        """
        self._stored.append(stored)
        self._wake_applier()

    def _wake_applier(self, *, from_storage: bool = False) -> None:
        """Ask for stored events to be applied. One applier works at a time, on everything pending."""
        self._reload_stored = self._reload_stored or from_storage
        self._apply_requested = True
        if self._applier is None or self._applier.done():
            self._applier = asyncio.create_task(self._run_applier(), name="applier")

    async def _run_applier(self) -> None:
        while self._apply_requested:
            self._apply_requested = False
            # A moment's wait gathers a burst of callbacks into one batch: one short transaction for all
            # of them, instead of one per callback queueing ahead of the commits that acknowledge.
            await asyncio.sleep(APPLY_GATHER_SECONDS)
            try:
                while await self.apply_stored_events():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a busy database: the events wait in storage; try again soon
                log.warning("applying stored events failed (%s); trying again", error)
                self._reload_stored = True
                self._apply_requested = True
                await asyncio.sleep(APPLY_RETRY_SECONDS)

    async def apply_stored_events(self, *, limit: int = 500) -> bool:
        """Apply a batch of stored events; True when there may be more."""
        if self._reload_stored:
            # Storage holds every unapplied event, those queued in memory included.
            self._reload_stored = False
            self._stored.clear()
            for event in await self._storage.events.unapplied(limit=100_000):
                snapshot = _parse_event(event)
                digest = _digest(event.task_id, event.payload.encode())
                callback = event.payload if event.source == "callback" else None
                self._stored.append(_Stored(event.id, event.task_id, snapshot, digest, callback))
        if not self._stored:
            return False
        batch = self._stored[:limit]
        tasks = {t.id: t for t in await self._storage.tasks.many({e.task_id for e in batch})}
        changes: list[Change] = []
        ignored: list[int] = []
        fresh: dict[tuple[int, bytes], _Parsed] = {}  # payloads applied by this batch
        adopted: dict[int, str] = {}
        for event in batch:
            task = tasks[event.task_id]
            snapshot = event.snapshot
            tool = tool_for(task.kind)
            if tool is not None and event.callback is not None:
                # A studio tool's callback is read by its own reader, keyed on its endpoint (tool.py).
                snapshot = _tool_snapshot(tool, event.callback)
            known_id = task.provider_task_id or adopted.get(task.id)
            adopt = None
            if known_id is None:
                # A task whose request never left (its start is recorded before it does) or that ended
                # without a provider task: nothing the event says can apply to it.
                if task.stage.terminal or snapshot is None or task.submit_started_at is None:
                    log.warning(
                        "event %s of task %s came before any submission; ignored", event.event_id, task.id
                    )
                    ignored.append(event.event_id)
                    continue
                # Only the provider knows this task's signed callback URL: the task it names is the one
                # our submission made, though its answer was lost or is not recorded yet.
                adopt = known_id = adopted[task.id] = snapshot.task_id
                log.info("task %s adopts provider task %s from its callback", task.id, known_id)
            if snapshot is None or snapshot.task_id != known_id:
                log.warning(
                    "event %s of task %s is unreadable or names another task; ignored",
                    event.event_id,
                    task.id,
                )
                ignored.append(event.event_id)
                continue
            # Providers repeat themselves: a report of an earlier stage than the task's, or the very payload
            # applied before, changes nothing (an apply merges tracks only from reports at or above the
            # task's stage), so it is only marked applied.
            if (
                snapshot.stage.rank < task.stage.rank
                or event.digest in self._applied_payloads
                or event.digest in fresh
            ):
                ignored.append(event.event_id)
                continue
            changes.append(
                Change(
                    event.event_id,
                    task.id,
                    snapshot.stage,
                    snapshot.track_data,
                    snapshot.error_code,
                    snapshot.error_message,
                    provider_task_id=adopt,
                    files=snapshot.files,
                )
            )
            fresh[event.digest] = (snapshot.stage, snapshot.task_id)
        applied: list[Applied] = []
        if changes or ignored:
            follow_up = self._life.follow_up()
            applied = await self._storage.tasks.apply_batch(
                changes, now=self._life.now(), ignored=ignored, follow_up=follow_up
            )
            # Only once committed: a repeat of these payloads is then stored as applied (accept_callback).
            for digest, parsed in fresh.items():
                self._remember_payload(digest, parsed)
            self._life.recoveries_started(follow_up.recoveries)
            self._show_applied(applied, follow_up.recorded)
        # Those that came while this batch was applied stay, after it (the batch may be under `limit`).
        self._stored = self._stored[len(batch) :]
        return bool(self._stored)

    def _show_applied(self, applied: list[Applied], recorded: list[Any]) -> None:
        optional: dict[str, Any] = {}
        for result in applied:
            task = result.task
            if result.changed:
                log.info("task %s: %s -> %s", task.id, result.previous.value, task.stage.value)
                self._life.stage_reached(task)
                # An edit of an existing message to an intermediate stage may wait or be skipped.
                if task.progress_message_id is not None and not task.stage.terminal:
                    optional[f"progress:{task.id}"] = True
        self._queue.take(recorded, optional)

    def _remember_payload(self, digest: tuple[int, bytes], parsed: _Parsed) -> None:
        self._applied_payloads[digest] = parsed
        if len(self._applied_payloads) > APPLIED_PAYLOADS_KEPT:
            self._applied_payloads.pop(next(iter(self._applied_payloads)))


def _digest(task_id: int, payload: bytes) -> tuple[int, bytes]:
    return task_id, hashlib.blake2b(payload, digest_size=16).digest()


def _read_callback(body: Any) -> tuple[ProviderSnapshot | None, _Parsed]:
    """A callback in the music shape, read whole; None for any other shape (a studio tool's is read by
    its own reader once its task's kind is known: `_tool_snapshot`)."""
    if not isinstance(body, dict):
        raise ValueError("a callback is a JSON object")
    try:
        snapshot = ProviderSnapshot.from_callback(body)
    except (ValueError, ValidationError):
        return None, (Stage.FAILED, "")
    return snapshot, (snapshot.stage, snapshot.task_id)


def _tool_snapshot(tool: Tool, payload: str) -> ProviderSnapshot | None:
    try:
        return tool.read_callback(json.loads(payload))
    except (ValueError, ValidationError, RecursionError):
        return None


def _parse_event(event: Event) -> ProviderSnapshot | None:
    try:
        if event.source == "callback":
            return _read_callback(json.loads(event.payload))[0]
        return ProviderSnapshot.model_validate_json(event.payload)
    except (ValueError, ValidationError, RecursionError):
        return None
