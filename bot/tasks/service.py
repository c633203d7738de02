"""The task state machine: create, submit, apply events, poll, recover, deliver."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from telegram import Bot
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.chat.delivery import TrackDelivery
from bot.chat.outbox import Outbox
from bot.chat.progress import CODE_INTERRUPTED, CODE_UNREACHABLE, render_progress
from bot.i18n import Texts
from bot.ops.metrics import Metrics
from bot.provider.client import ProviderClient
from bot.provider.errors import ProviderError, ProviderUnavailable
from bot.provider.models import (
    AddInstrumentalRequest,
    AddVocalsRequest,
    ExtendRequest,
    GenerateRequest,
    ProviderRequest,
    ProviderSnapshot,
    UploadCoverRequest,
    UploadExtendRequest,
)
from bot.settings import Settings
from bot.tasks.keyed_locks import KeyedLocks
from bot.telegram.pacing import ChatPacer, Pace
from bot.web.signing import Signer
from storage.events import EventRejected, NewEvent
from storage.models import Event, Person, Stage, Task, TaskKind, Track
from storage.store import Storage
from storage.tasks import Applied, Change

log = logging.getLogger(__name__)

REQUEST_CLASSES: dict[TaskKind, type[ProviderRequest]] = {
    TaskKind.GENERATE: GenerateRequest,
    TaskKind.CUSTOM: GenerateRequest,
    TaskKind.EXTEND: ExtendRequest,
    TaskKind.UPLOAD_COVER: UploadCoverRequest,
    TaskKind.UPLOAD_EXTEND: UploadExtendRequest,
    TaskKind.ADD_VOCALS: AddVocalsRequest,
    TaskKind.ADD_INSTRUMENTAL: AddInstrumentalRequest,
}
# A polling-only client must still send a valid callBackUrl (provider-api.md §1); nothing of ours is there.
POLLING_CALLBACK_URL = "https://example.com/suno-callback"
# A task the provider has not finished after this long is given up, so a person is never left waiting.
TASK_TIMEOUT_SECONDS = 30 * 60
CODE_TIMEOUT = 408
FILE_TOKEN_TTL = 3600.0
APPLY_GATHER_SECONDS = 0.01
TRACKS_PER_TASK = 2  # the provider makes two songs for every generation, cover or extension
APPLIED_PAYLOADS_KEPT = 20_000
SHOWN_TEXTS_KEPT = 20_000
QUEUE_REFRESH_SECONDS = 5.0


class TaskRefused(Exception):
    """The person may not start a task now; `key` and `values` make the message that says why."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


class CallbackRejected(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass
class Quotas:
    max_active: int
    max_per_day: int
    admins: frozenset[int]


class TaskService:
    def __init__(
        self,
        *,
        settings: Settings,
        storage: Storage,
        provider: ProviderClient,
        bot: Bot,
        delivery: TrackDelivery,
        signer: Signer,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._storage = storage
        self._provider = provider
        self._bot = bot
        self._delivery = delivery
        self._signer = signer
        self._metrics = metrics
        self._now = clock
        self._locks = KeyedLocks()
        self._user_locks = KeyedLocks()
        self._background: set[asyncio.Task[Any]] = set()
        self._quotas = Quotas(
            settings.max_active_tasks_per_user, settings.max_tasks_per_day, frozenset(settings.admin_user_ids)
        )
        self._waiting_for_budget: dict[int, int] = {}  # task id -> chat id, while its submission waits
        self._applier: asyncio.Task[None] | None = None
        # Recent payloads applied, oldest first, with what their parse gave the event row.
        self._applied_payloads: dict[tuple[int, bytes], _Parsed] = {}
        self._stored: list[_Stored] = []  # committed events not applied yet, in order
        # What recent tasks' progress messages show, as this process edited them. Edits are not written
        # back (storage keeps the text sent first): the text holds the elapsed time, so after a restart an
        # unfinished task's message is due for an edit anyway.
        self._shown: dict[int, str] = {}
        self._reload_stored = True  # at start, what storage holds unapplied comes first
        self._reload_stored_later = False
        self._apply_requested = False
        self._credits_alert_sent = False
        # One child per outcome, made once: labels() is a locked dict lookup on every callback otherwise.
        self._callback_counters = {
            result: metrics.callbacks.labels(result=result)
            for result in ("stored", "repeat", "malformed", "unknown_task", "mismatch")
        }
        pacer = getattr(bot, "rate_limiter", None)
        self.outbox = Outbox(
            show_progress=self._show_progress,
            deliver_next=self._deliver_next,
            chat_gone=self._chat_gone,
            slots_ahead=pacer.ahead if isinstance(pacer, ChatPacer) else None,
        )

    # ---- lifecycle -------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background job %s failed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        """Stop background work; everything unfinished is in storage and resumes at the next start."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.outbox.close()

    async def idle(self) -> None:
        """Wait until no background job and no chat work is left (tests and the demo use this)."""
        while self._background or self.outbox.busy_chats:
            if self._background:
                await asyncio.gather(*list(self._background), return_exceptions=True)
            await self.outbox.wait_idle()

    # ---- creating tasks --------------------------------------------------------------------------

    def is_admin(self, user_id: int) -> bool:
        return user_id in self._quotas.admins

    async def create(
        self, person: Person, kind: TaskKind, request: ProviderRequest, *, upload_id: int | None = None
    ) -> Task:
        """Accept a validated request: check quotas, store it, show progress, submit in the background."""
        async with self._user_locks.hold(person.user_id):  # quota check and insert as one step per person
            if not self.is_admin(person.user_id):
                await self._check_quota(person.user_id)
            params = request.model_dump(by_alias=True, exclude_none=True)
            task = await self._storage.tasks.create(
                user_id=person.user_id,
                chat_id=person.chat_id,
                kind=kind,
                params=params,
                model=getattr(request, "model", None),
                upload_id=upload_id,
                now=self._now(),
            )
        self._metrics.tasks_created.labels(kind=kind.value).inc()
        self._metrics.active_tasks.inc()
        log.info("task %s created: %s for user %s", task.id, kind.value, person.user_id)
        self.outbox.progress(task.chat_id, task.id)
        self._spawn(self._submit(task.id), f"submit-{task.id}")
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
        return self._provider.budget.position(("submit", task_id))

    def callback_url(self, task_id: int) -> str:
        if self._settings.public_url is None:
            return POLLING_CALLBACK_URL
        return f"{self._settings.public_url}/callbacks/{self._signer.callback_token(task_id)}"

    async def _upload_url(self, task: Task) -> str:
        upload = await self._storage.uploads.get(task.upload_id) if task.upload_id else None
        if upload is None or upload.deleted_at is not None:
            raise ProviderError(451, "the uploaded file is gone")
        if self._settings.public_url is not None:
            token = self._signer.file_token(upload.id, ttl=FILE_TOKEN_TTL, now=self._now())
            return f"{self._settings.public_url}/files/{token}"
        return await self._provider.upload_file(
            Path(upload.path),
            file_name=upload.file_name,
            upload_path=f"telegram/{upload.user_id}",
            mime_type=upload.mime_type,
        )

    async def _submit(self, task_id: int) -> None:
        async with self._locks.hold(task_id):
            task = await self._storage.tasks.require(task_id)
            if task.stage is not Stage.QUEUED or task.provider_task_id:
                return
            self._waiting_for_budget[task_id] = task.chat_id
            try:
                request_class = REQUEST_CLASSES[task.kind]
                request = request_class.model_validate(task.params)
                if task.kind.uses_upload:
                    request = request.model_copy(update={"upload_url": await self._upload_url(task)})
                await self._storage.tasks.mark_submit_started(task_id, now=self._now())
                provider_task_id = await self._provider.submit(
                    request, callback_url=self.callback_url(task_id), ticket=("submit", task_id)
                )
            except ProviderError as error:
                await self._fail(task, error)
                return
            except (ValidationError, ValueError):
                log.exception("task %s has parameters that no longer validate", task_id)
                await self._fail(task, ProviderError(400, "invalid stored parameters"))
                return
            finally:
                self._waiting_for_budget.pop(task_id, None)
            await self._storage.tasks.mark_submitted(task_id, provider_task_id, now=self._now())
            self._credits_alert_sent = False
            log.info("task %s submitted as provider task %s", task_id, provider_task_id)
        self.outbox.progress(task.chat_id, task_id)
        if self._reload_stored_later:  # callbacks arrived before we knew the provider's id: apply them now
            self._reload_stored_later = False
            self._wake_applier(from_storage=True)

    async def _fail(self, task: Task, error: ProviderError) -> None:
        code = CODE_UNREACHABLE if isinstance(error, ProviderUnavailable) else error.code
        log.warning("task %s failed: %s", task.id, error)
        if await self._storage.tasks.mark_failed(task.id, code=code, text=error.message, now=self._now()):
            self._finished_metrics(task.kind, Stage.FAILED, code)
        self.outbox.progress(task.chat_id, task.id)
        if error.out_of_credits:
            await self._alert_out_of_credits()

    async def _alert_out_of_credits(self) -> None:
        if self._credits_alert_sent:
            return
        self._credits_alert_sent = True
        for admin in self._quotas.admins:
            person = await self._storage.people.get(admin)
            texts = Texts(person.locale if person else None)
            try:
                await self._bot.send_message(admin, texts("admin.out_of_credits"))
            except TelegramError as error:
                log.warning("could not alert admin %s: %s", admin, error)

    # ---- events ----------------------------------------------------------------------------------

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
                snapshot = ProviderSnapshot.from_callback(json.loads(payload))
        except (ValueError, ValidationError, RecursionError) as error:  # RecursionError: absurdly nested JSON
            counted["malformed"].inc()
            raise CallbackRejected(400, f"malformed callback: {type(error).__name__}") from None
        stage, provider_task_id = repeat or (snapshot.stage, snapshot.task_id)
        now = self._now()
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
            self._queue_stored(_Stored(event_id, task_id, snapshot, digest))
        return event_id

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
            self._applier = self._spawn(self._run_applier(), "applier")

    async def _run_applier(self) -> None:
        while self._apply_requested:
            self._apply_requested = False
            # A moment's wait gathers a burst of callbacks into one batch: one short transaction for all
            # of them, instead of one per callback queueing ahead of the commits that acknowledge.
            await asyncio.sleep(APPLY_GATHER_SECONDS)
            while await self.apply_stored_events():
                pass

    async def apply_stored_events(self, *, limit: int = 500) -> bool:
        """Apply a batch of stored events; True when there may be more."""
        if self._reload_stored:
            # Storage holds every unapplied event, those queued in memory included.
            self._reload_stored = False
            self._stored.clear()
            for event in await self._storage.events.unapplied(limit=100_000):
                snapshot = _parse_event(event)
                self._stored.append(
                    _Stored(event.id, event.task_id, snapshot, _digest(event.task_id, event.payload.encode()))
                )
        if not self._stored:
            return False
        batch, self._stored = self._stored[:limit], self._stored[limit:]
        tasks = {t.id: t for t in await self._storage.tasks.many({e.task_id for e in batch})}
        changes: list[Change] = []
        ignored: list[int] = []
        fresh: dict[tuple[int, bytes], _Parsed] = {}  # payloads applied by this batch
        waiting = False
        for event in batch:
            task = tasks[event.task_id]
            if task.provider_task_id is None:
                if task.stage.terminal:
                    ignored.append(event.event_id)  # it never reached the provider: nothing can apply
                else:
                    waiting = True  # _submit reloads from storage once it knows the provider's id
                continue
            snapshot = event.snapshot
            if snapshot is None or snapshot.task_id != task.provider_task_id:
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
                )
            )
            fresh[event.digest] = (snapshot.stage, snapshot.task_id)
        if waiting:
            self._reload_stored_later = True
        if changes or ignored:
            applied = await self._storage.tasks.apply_batch(changes, now=self._now(), ignored=ignored)
            # Only once committed: a repeat of these payloads is then stored as applied (accept_callback).
            for digest, parsed in fresh.items():
                self._remember_payload(digest, parsed)
            self._show_applied(applied)
        return bool(self._stored)

    def _show_applied(self, applied: list[Applied]) -> None:
        for result in applied:
            task = result.task
            if result.changed:
                log.info("task %s: %s -> %s", task.id, result.previous.value, task.stage.value)
                self._stage_metrics(task)
                # An edit of an existing message to an intermediate stage may wait or be skipped.
                optional = task.progress_message_id is not None and not task.stage.terminal
                self.outbox.progress(task.chat_id, task.id, optional=optional)
            if task.stage is Stage.COMPLETE:
                self.outbox.deliver(task.chat_id, task.id)

    def _remember_payload(self, digest: tuple[int, bytes], parsed: _Parsed) -> None:
        self._applied_payloads[digest] = parsed
        if len(self._applied_payloads) > APPLIED_PAYLOADS_KEPT:
            self._applied_payloads.pop(next(iter(self._applied_payloads)))

    def _stage_metrics(self, task: Task) -> None:
        if task.submitted_at is not None and task.stage in (Stage.TEXT, Stage.FIRST, Stage.COMPLETE):
            self._metrics.stage_latency.labels(stage=task.stage.value).observe(
                max(0.0, self._now() - task.submitted_at)
            )
        if task.stage.terminal:
            self._finished_metrics(task.kind, task.stage, task.error_code)

    def _finished_metrics(self, kind: TaskKind, stage: Stage, code: int | None) -> None:
        outcome = "complete" if stage is Stage.COMPLETE else "failed"
        self._metrics.tasks_finished.labels(kind=kind.value, outcome=outcome, code=str(code or "")).inc()
        self._metrics.active_tasks.dec()

    # ---- polling ---------------------------------------------------------------------------------

    async def poll_due(self) -> int:
        """Ask record-info about every task that has been quiet for SUNO_POLL_INTERVAL; returns how many."""
        now = self._now()
        due = await self._storage.tasks.due_for_poll(quiet_since=now - self._settings.suno_poll_interval)
        if due:
            await asyncio.gather(*(self._poll(task) for task in due))
        return len(due)

    async def _poll(self, task: Task) -> None:
        assert task.provider_task_id is not None
        if task.submitted_at and self._now() - task.submitted_at > TASK_TIMEOUT_SECONDS:
            await self._fail(task, ProviderError(CODE_TIMEOUT, "no result in time"))
            return
        # Touch first, so a slow provider does not get the same question again from the next round.
        await self._storage.tasks.touch(task.id, now=self._now())
        try:
            snapshot = await self._provider.record_info(task.provider_task_id)
        except ProviderError as error:
            self._metrics.polls.labels(result="error").inc()
            log.warning("polling task %s failed: %s", task.id, error)
            return
        except ValidationError:
            self._metrics.polls.labels(result="malformed").inc()
            log.warning("record-info for task %s was malformed", task.id)
            return
        self._metrics.polls.labels(result=snapshot.stage.value).inc()
        if snapshot.stage.rank <= task.stage.rank and not snapshot.tracks:
            return  # nothing new: not worth an event row
        payload = snapshot.model_dump_json()
        event_id = await self._storage.events.add(
            NewEvent(task.id, "poll", snapshot.stage, payload, self._now())
        )
        self._queue_stored(_Stored(event_id, task.id, snapshot, _digest(task.id, payload.encode())))

    async def refresh_queue_forever(self) -> None:
        """Keep each waiting person's place in the queue current, sparingly.

        Every place changes whenever one submission leaves the queue; editing every waiting message each
        time would spend Telegram's global budget on queue news, so positions refresh every few seconds,
        less often the longer the queue (at most about ten edits a second in all).
        """
        while True:
            waiting = self._provider.budget.waiting
            await asyncio.sleep(max(QUEUE_REFRESH_SECONDS, waiting / 10))
            for task_id, chat_id in list(self._waiting_for_budget.items()):
                if self.queue_position(task_id) is not None:
                    self.outbox.progress(chat_id, task_id)

    async def poll_forever(self, tick: float | None = None) -> None:
        interval = tick or max(0.05, min(5.0, self._settings.suno_poll_interval / 3))
        while True:
            try:
                await self.poll_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("polling round failed")
            await asyncio.sleep(interval)

    # ---- recovery --------------------------------------------------------------------------------

    async def resume(self) -> None:
        """After a start or restart: apply stored events, finish submissions, re-render, deliver."""
        tasks = await self._storage.tasks.unfinished()
        self._metrics.active_tasks.set(len(tasks))
        for task in tasks:
            if task.stage is Stage.QUEUED:
                if task.submit_started_at is not None:
                    # The request may have reached the provider: sending it again could charge twice.
                    await self._fail(task, ProviderError(CODE_INTERRUPTED, "interrupted during submission"))
                else:
                    self._spawn(self._submit(task.id), f"submit-{task.id}")
            else:
                self.outbox.progress(task.chat_id, task.id)
        self._wake_applier(from_storage=True)  # events stored before the stop
        for task in await self._storage.tasks.with_undelivered_tracks():
            person = await self._storage.people.get(task.user_id)
            if person is None or not person.bot_blocked:
                self.outbox.deliver(task.chat_id, task.id)

    async def welcome_back(self, user_id: int) -> None:
        """A person who had blocked the bot wrote again: send what they missed."""
        for task in await self._storage.tasks.with_undelivered_tracks():
            if task.user_id == user_id:
                self.outbox.deliver(task.chat_id, task.id)

    # ---- what the chat sees ----------------------------------------------------------------------

    async def texts_for_user(self, user_id: int) -> Texts:
        person = await self._storage.people.get(user_id)
        return Texts(person.locale if person else None)

    async def _show_progress(self, task_id: int) -> None:
        task, locale = await self._storage.tasks.with_locale(task_id)
        texts = Texts(locale)
        tracks = await self._storage.tasks.tracks(task_id) if task.stage is Stage.COMPLETE else []
        text = render_progress(
            task, texts, now=self._now(), queue_position=self.queue_position(task_id), track_count=len(tracks)
        )
        pacing = self._progress_pacing(task, tracks)
        if task.progress_message_id is None:
            await self._send_progress(task, text, pacing)
            return
        if text == self._shown.get(task_id, task.progress_text):
            return
        try:
            await self._bot.edit_message_text(
                text, chat_id=task.chat_id, message_id=task.progress_message_id, **pacing
            )
        except BadRequest as error:
            reason = str(error).lower()
            if "not modified" in reason:
                pass  # the message already shows this: success
            elif "message to edit not found" in reason:
                await self._send_progress(task, text, {})  # deleted by the person
                return
            else:
                raise
        self._remember_shown(task, text)

    async def _send_progress(self, task: Task, text: str, pacing: dict[str, Any]) -> None:
        message = await self._bot.send_message(task.chat_id, text, **pacing)
        await self._storage.tasks.set_progress(task.id, message_id=message.message_id, text=text)
        self._remember_shown(task, text)

    def _remember_shown(self, task: Task, text: str) -> None:
        self._shown.pop(task.id, None)
        self._shown[task.id] = text  # newest last
        if len(self._shown) > SHOWN_TEXTS_KEPT:
            self._shown.pop(next(iter(self._shown)))  # the longest unchanged: most likely finished

    def _progress_pacing(self, task: Task, tracks: list[Track]) -> dict[str, Any]:
        """How the pacer should rank a progress call (nothing without our ChatPacer).

        The calls that others of the chat wait for go first: the first message (the final state and the
        tracks follow it) and the final state before the tracks. An intermediate edit yields to mandatory
        calls and may be overtaken (the outbox then shows the newest state).
        """
        if not isinstance(getattr(self._bot, "rate_limiter", None), ChatPacer):
            return {}
        if not task.stage.terminal:
            if task.progress_message_id is not None:
                return {"rate_limit_args": Pace.low()}
            followers = 1 + TRACKS_PER_TASK
        else:
            followers = len(_undelivered(tracks))
        return {"rate_limit_args": Pace.leading(followers)} if followers else {}

    async def _deliver_next(self, task_id: int) -> bool:
        task = await self._storage.tasks.require(task_id)
        pending = _undelivered(await self._storage.tasks.tracks(task_id))
        if not pending:
            return False
        track = pending[0]
        texts = await self.texts_for_user(task.user_id)
        pacer = getattr(self._bot, "rate_limiter", None)
        if isinstance(pacer, ChatPacer):
            # Spend the chat's one-second wait before taking one of the few delivery (memory) slots.
            await pacer.wait_ready(task.chat_id)
        message = await self._delivery.send(task, track, texts, followers=len(pending) - 1)
        file_id = message.audio.file_id if message.audio else ""
        await self._storage.tasks.mark_track_sent(
            track.id, file_id=file_id, message_id=message.message_id, now=self._now()
        )
        log.info("task %s: track %s delivered as message %s", task_id, track.id, message.message_id)
        return len(pending) > 1

    async def _chat_gone(self, chat_id: int, error: BaseException) -> bool:
        if isinstance(error, TelegramError):
            self._metrics.telegram_errors.labels(code=type(error).__name__).inc()
        if isinstance(error, Forbidden) or (
            isinstance(error, BadRequest) and "chat not found" in str(error).lower()
        ):
            await self._storage.people.mark_bot_blocked(chat_id)
            return True
        return False


_Parsed = tuple[Stage, str]  # what a callback's payload says: its stage and the provider's task id


@dataclass(frozen=True)
class _Stored:
    event_id: int
    task_id: int
    snapshot: ProviderSnapshot | None
    digest: tuple[int, bytes]


def _undelivered(tracks: list[Track]) -> list[Track]:
    return [t for t in tracks if t.sent_at is None and t.audio_url]


def _digest(task_id: int, payload: bytes) -> tuple[int, bytes]:
    return task_id, hashlib.blake2b(payload, digest_size=16).digest()


def _parse_event(event: Event) -> ProviderSnapshot | None:
    try:
        if event.source == "callback":
            return ProviderSnapshot.from_callback(json.loads(event.payload))
        return ProviderSnapshot.model_validate_json(event.payload)
    except (ValueError, ValidationError, RecursionError):
        return None
