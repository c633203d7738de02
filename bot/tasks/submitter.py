"""Sending each queued task to the provider exactly once, in order, within the provider's request budget.

A submission item waits for the budget (its place in that queue is shown in the chat), records that its
request is leaving, sends it once, and records the provider's task id. What happens when that goes wrong
(which answer proves what is decided once, in bot/provider/errors.py):

- the provider could not be reached, or answered that it is busy or under maintenance: nothing was
  made, so the item is retried later with backoff;
- the answer was lost (a timeout, a reset connection, a 5xx that may come after the task was made): the
  request is never sent again blindly. With callbacks, the provider's first callback on the task's own
  signed URL names the task it made, and the task is adopted from it (bot/tasks/events.py); if none comes
  within ADOPT_WINDOW the task fails with a message saying so. In polling mode nothing can tell, so it
  fails at once with that message. A tool whose request makes nothing new and costs no one (recovery,
  `Tool.resend_unknown`) is the exception: sending it again is harmless, so it is retried a few times
  like a busy answer, then fails;
- the provider accepted but the database is busy: the provider's id is kept and written again until it
  lands (logged at WARNING with both ids, so it can be reconciled by hand if this process dies first).
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.chat.upload_files import local_file
from bot.provider.client import ProviderClient
from bot.provider.errors import CODE_DUPLICATE, CODE_NO_ANSWER, CODE_UNCONFIRMED, Outcome, ProviderError
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
from bot.studio.mashup import MashupRequest
from bot.studio.registry import tool_for
from bot.studio.tool import Tool, http_url
from bot.tasks.events import EventIntake
from bot.tasks.lifecycle import Lifecycle
from bot.tasks.retry import backoff, until_stored
from bot.tasks.work_queue import ItemTasks
from bot.web.signing import Signer
from storage.models import Stage, Task, TaskKind, Upload
from storage.work import Kind, NewWork, WorkItem

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
# A polling-only client must still send a valid callBackUrl (provider-api.md §1). A reserved `.invalid`
# name (RFC 2606) never resolves, so the provider's callbacks, which repeat people's prompts and lyrics,
# reach nobody instead of a third party's domain.
POLLING_CALLBACK_URL = "https://callbacks.invalid/none"
FILE_TOKEN_TTL = 3600.0
# The provider's first callback (lyrics) usually comes within a minute; ten leave room for a slow day.
ADOPT_WINDOW = 600.0
# Attempts that made nothing, before the person is told the provider cannot take requests now.
MAX_NOT_MADE_ATTEMPTS = 8
# A resend tool's attempts whose outcome was unknown, before it fails (its failure tells the person): a
# server error that lasts beyond three tries some seconds apart is not one worth keeping them waiting on.
MAX_RESENT_ATTEMPTS = 3
RESEND_BACKOFF_BASE = 5.0  # seconds: the second try after 2.5-5 s, the third 5-10 s after that
QUEUE_REFRESH_SECONDS = 5.0
QUEUE_FIRST_REFRESH_SECONDS = 0.5


def _made_before(tool: Tool | None, error: ProviderError) -> str | None:
    """The task a one-per-parent tool's refusal names as made already (provider-tools.md §7), or None."""
    if tool is None or error.code not in tool.repeat_codes or not error.task_id:
        return None
    return error.task_id


def _resends(task: Task) -> bool:
    """Whether the task's request is sent again when its outcome is unknown (`Tool.resend_unknown`)."""
    tool = tool_for(task.kind)
    return tool is not None and tool.resend_unknown


class Submitter:
    def __init__(
        self,
        *,
        lifecycle: Lifecycle,
        provider: ProviderClient,
        signer: Signer,
        public_url: str | None,
        tmp_dir: Path | None = None,
    ) -> None:
        self._life = lifecycle
        # Where an upload kept in the database is copied for the provider's upload host (no PUBLIC_URL).
        self.tmp_dir = tmp_dir if tmp_dir is not None else Path(tempfile.gettempdir())
        self._storage = lifecycle.storage
        self._queue = lifecycle.queue
        self._provider = provider
        self._signer = signer
        self._public_url = public_url
        self._running = ItemTasks()
        self._sending: set[int] = set()  # item ids whose request has left (or is recording its answer)
        self._waiting: dict[int, int] = {}  # task id -> chat id, while it waits for the budget
        self._in_order = asyncio.Lock()
        self._news: asyncio.Task[None] | None = None
        self.on_accepted: Callable[[], None] | None = None  # the provider took a task (credits are fine)
        self.intake: EventIntake | None = None  # where a synchronous tool's result goes (bot/app.py)

    # ---- the worker -------------------------------------------------------------------------------

    def take(self, item: WorkItem, hint: Any = None) -> None:
        self._running.start(item, self._submit(item), f"submit-{item.task_id}")

    async def drain(self, grace: float) -> None:
        """Submissions still waiting for the budget go back to the queue; those sent get `grace`."""
        await self._running.stop(grace, keep=lambda item_id: item_id in self._sending)
        if self._news is not None:
            self._news.cancel()

    def position(self, task_id: int) -> int | None:
        """The task's place in the queue for the provider's request budget, while it waits there."""
        return self._provider.budget.position(("submit", task_id))

    def callback_url(self, task_id: int) -> str:
        if self._public_url is None:
            return POLLING_CALLBACK_URL
        return f"{self._public_url}/callbacks/{self._signer.callback_token(task_id)}"

    # ---- one submission ---------------------------------------------------------------------------

    async def _submit(self, item: WorkItem) -> None:
        try:
            await self._attempt(item)
        except asyncio.CancelledError:
            self._queue.release(item)
            raise
        except Exception as error:  # our own fault: the item is retried, never dropped
            log.exception("submitting task %s failed unexpectedly", item.task_id)
            self._queue.retry(item, delay=backoff(item.attempts), error=f"{type(error).__name__}: {error}")
        finally:
            self._sending.discard(item.id)
            self._waiting.pop(item.task_id or 0, None)

    async def _attempt(self, item: WorkItem) -> None:
        # Items are handed over in the order they were queued; the lock (first come, first served) keeps
        # that order through the reads below, which a PostgreSQL pool may answer in any order, so each
        # task takes its place in the budget's queue in turn. Nothing awaits between leaving the lock and
        # joining that queue.
        async with self._in_order:
            prepared = await self._prepare(item)
        if prepared is None:
            return
        task, request = prepared

        async def leaving() -> None:
            # Recorded before the request leaves: if this process dies while it is out, the next one
            # knows the outcome is uncertain and never sends it again blindly.
            await self._storage.tasks.mark_submit_started(task.id, now=self._life.now())
            self._sending.add(item.id)

        self._wait_for_budget(task)
        tool = tool_for(task.kind)
        if tool is not None and tool.read_answer is not None:
            await self._call(item, task, request, tool.read_answer, leaving)
            return
        retried_model: str | None = None  # what the retry named, once it was accepted
        try:
            try:
                provider_task_id = await self._send(task, request, leaving)
            except ProviderError as error:
                # A definite refusal made nothing: the tool may send it once more in another form.
                other = tool.retry(request, error) if tool is not None and tool.retry is not None else None
                if other is None or error.outcome is not Outcome.REFUSED:
                    raise
                log.info("task %s: refused (%s); sending it once more as the tool asks", task.id, error)
                provider_task_id = await self._send(task, other, leaving)
                retried_model = getattr(other, "model", None)
        except ProviderError as error:
            self._waiting.pop(task.id, None)
            existing = _made_before(tool, error)
            if existing is not None:
                await self._adopt_existing(item, task, existing, error)
                return
            await self._refused(item, task, error)
            return
        finally:
            self._waiting.pop(task.id, None)
        # The retry's model made the tracks, not the refused one: tools under them must send it.
        await self._accepted(item, task, provider_task_id, model=retried_model)

    async def _adopt_existing(self, item: WorkItem, task: Task, existing: str, error: ProviderError) -> None:
        """The provider made this parent's one result before: that task is ours to poll and deliver,
        unless another of our tasks already follows it (then this one is a duplicate and ends)."""
        holder = await self._storage.tasks.with_provider_id(existing)
        if holder is not None and holder.id != task.id:
            log.info("task %s: provider task %s is task %s's already", task.id, existing, holder.id)
            await self._life.fail(task, ProviderError(CODE_DUPLICATE, error.message))
            self._queue.done(item)
            return
        log.info("task %s: the provider had made it before, as %s; following that task", task.id, existing)
        await self._accepted(item, task, existing)

    async def _send(
        self, task: Task, request: ProviderRequest, leaving: Callable[[], Awaitable[None]]
    ) -> str:
        return await self._provider.submit(
            request,
            callback_url=self.callback_url(task.id),
            ticket=("submit", task.id),
            before_send=leaving,
        )

    async def _prepare(self, item: WorkItem) -> tuple[Task, ProviderRequest] | None:
        """The task and its request, or None when there is nothing to send (the item is then settled)."""
        assert item.task_id is not None
        task = await self._storage.tasks.get(item.task_id)
        if task is None or task.stage is not Stage.QUEUED or task.provider_task_id:
            self._queue.done(item)  # sent, adopted, failed or gone: nothing left to send
            return None
        # A resend tool's earlier attempt (answered unclearly, or cut off by a stop) is simply sent again.
        if task.submit_started_at is not None and not _resends(task):
            await self._answer_lost(item, task)
            return None
        try:
            return task, await self._request(task)
        except ProviderError as error:
            await self._life.fail(task, error)
        except (ValidationError, ValueError):
            log.exception("task %s has parameters that no longer validate", task.id)
            await self._life.fail(task, ProviderError(400, "invalid stored parameters"))
        self._queue.done(item)
        return None

    async def _request(self, task: Task) -> ProviderRequest:
        tool = tool_for(task.kind)
        cls = tool.request if tool is not None else REQUEST_CLASSES[task.kind]
        request = cls.model_validate(task.params)
        if task.kind.uses_upload:
            request = request.model_copy(update={"upload_url": await self._upload_url(task)})
        if isinstance(request, MashupRequest):
            urls = [await self._source_url(task, source) for source in request.sources]
            request = request.model_copy(update={"upload_url_list": urls})
        return request

    async def _upload_url(self, task: Task) -> str:
        upload = await self._storage.uploads.get(task.upload_id) if task.upload_id else None
        return await self._url_of_upload(upload)

    async def _source_url(self, task: Task, source: str) -> str:
        """A mashup's song (bot/studio/mashup.py): the person's own upload, or their delivered track."""
        kind, _, number = source.partition(":")
        if kind == "upload":
            upload = await self._storage.uploads.get(int(number))
            return await self._url_of_upload(upload if upload and upload.user_id == task.user_id else None)
        track = await self._storage.tasks.track(int(number))
        owner = await self._storage.tasks.get(track.task_id) if track is not None else None
        url = http_url(track.audio_url) if track is not None else None
        if track is None or owner is None or owner.user_id != task.user_id or url is None:
            raise ProviderError(451, "the track to mash up is gone")
        return url

    async def _url_of_upload(self, upload: Upload | None) -> str:
        if upload is None or upload.deleted_at is not None:
            raise ProviderError(451, "the uploaded file is gone")
        if self._public_url is not None:
            token = self._signer.file_token(upload.id, ttl=FILE_TOKEN_TTL, now=self._life.now())
            return f"{self._public_url}/files/{token}"
        async with local_file(self._storage, upload, self.tmp_dir) as path:
            return await self._provider.upload_file(
                path,
                file_name=upload.file_name,
                upload_path=f"telegram/{upload.user_id}",
                mime_type=upload.mime_type,
            )

    async def _call(
        self,
        item: WorkItem,
        task: Task,
        request: ProviderRequest,
        read: Callable[[str, dict[str, Any]], ProviderSnapshot],
        leaving: Callable[[], Awaitable[None]],
    ) -> None:
        """A synchronous studio tool: its answer is the result, stored as the task's one event."""
        try:
            data = await self._provider.call(request, ticket=("submit", task.id), before_send=leaving)
        except ProviderError as error:
            self._waiting.pop(task.id, None)
            if item.id in self._sending and error.outcome is Outcome.UNKNOWN:
                await self._answer_lost(item, task, error)
            else:
                await self._refused(item, task, error)
            return
        finally:
            self._waiting.pop(task.id, None)
        # Our own id for it: the answer names none, and the event must name the task it reports on.
        own_id = f"sync-{task.id}"
        await self._accepted(item, task, own_id, result=read(own_id, data))

    async def _accepted(
        self,
        item: WorkItem,
        task: Task,
        provider_task_id: str,
        *,
        result: ProviderSnapshot | None = None,
        model: str | None = None,
    ) -> None:
        follow_up = self._life.follow_up()

        async def record() -> Task:
            follow_up.recorded.clear()  # a failed attempt's transaction recorded nothing
            return await self._storage.tasks.mark_submitted(
                task.id, provider_task_id, now=self._life.now(), follow_up=follow_up, model=model
            )

        # The provider made (and charged) it: this id must not be lost.
        stored = await until_stored(
            record, what=f"task {task.id} was accepted as provider task {provider_task_id}"
        )
        if stored.provider_task_id != provider_task_id:
            log.error(
                "task %s: the provider answered with task %s, but a callback named %s first; keeping %s",
                task.id,
                provider_task_id,
                stored.provider_task_id,
                stored.provider_task_id,
            )
        log.info("task %s submitted as provider task %s", task.id, provider_task_id)
        if self.on_accepted is not None:
            self.on_accepted()
        self._queue.take(follow_up.recorded)
        if result is not None and self.intake is not None:
            await until_stored(
                lambda: self.intake.accept_poll(task.id, result),  # type: ignore[union-attr]
                what=f"task {task.id}: the synchronous result",
            )
        self._queue.done(item)

    async def _refused(self, item: WorkItem, task: Task, error: ProviderError) -> None:
        sent = item.id in self._sending
        outcome = error.outcome  # what the answer proves, decided once in bot/provider/errors.py
        if not sent or outcome is Outcome.NOT_MADE:
            # Nothing was made: sending again later is safe.
            if sent:
                await self._storage.tasks.clear_submit_started(task.id)
            if item.attempts + 1 >= MAX_NOT_MADE_ATTEMPTS:
                await self._life.fail(task, error)
                self._queue.done(item)
            else:
                self._queue.retry(item, delay=backoff(item.attempts, base=2.0), error=str(error))
            return
        if outcome is Outcome.UNKNOWN:
            log.warning("task %s: the provider's answer was lost or unclear (%s)", task.id, error)
            await self._answer_lost(item, task, error)
            return
        await self._life.fail(task, error)  # a definite refusal: the person's request, the key, credits
        self._queue.done(item)

    async def _answer_lost(self, item: WorkItem, task: Task, error: ProviderError | None = None) -> None:
        """The request left, but whether the provider made the task is unknown (`error` says how, or
        None: this process stopped while it was out)."""
        tool = tool_for(task.kind)
        if _resends(task):
            await self._resend(item, task, error or ProviderError(CODE_NO_ANSWER, "no answer"))
            return
        started = task.submit_started_at or self._life.now()
        # No callback ever tells what a lost synchronous answer said: nothing is worth waiting for.
        callbacks = tool is None or not tool.synchronous
        if self._public_url is not None and callbacks and self._life.now() < started + ADOPT_WINDOW:
            # A callback on the task's signed URL would name the task made; adopting it ends this wait.
            self._queue.again(item, at=started + ADOPT_WINDOW)
            return
        await self._life.fail(
            task, ProviderError(CODE_UNCONFIRMED, "the provider never confirmed taking the request")
        )
        self._queue.done(item)

    async def _resend(self, item: WorkItem, task: Task, error: ProviderError) -> None:
        """A resend tool's unknown outcome taken as nothing made: sent again later, a bounded number of
        times counted by the work item (so a restart between attempts continues the count).

        Its start stays recorded: a late callback from this attempt's task, if the provider made one,
        is still adopted meanwhile (events.py), and then nothing is sent again."""
        if item.attempts + 1 >= MAX_RESENT_ATTEMPTS:
            log.warning(
                "task %s: still no clear answer after %d attempts (%s)", task.id, item.attempts + 1, error
            )
            await self._life.fail(task, error)
            self._queue.done(item)
            return
        log.info("task %s: the answer was unclear (%s); asking again, as the tool allows", task.id, error)
        self._queue.retry(item, delay=backoff(item.attempts, base=RESEND_BACKOFF_BASE), error=str(error))

    # ---- the queue's news in the chat -------------------------------------------------------------

    def _wait_for_budget(self, task: Task) -> None:
        self._waiting[task.id] = task.chat_id
        if self._news is None or self._news.done():
            self._news = asyncio.create_task(self._refresh_queue_news(), name="queue-positions")

    async def _refresh_queue_news(self) -> None:
        """Keep each waiting person's place in the queue current, sparingly, while anyone waits.

        Every place changes whenever one submission leaves the queue; editing every waiting message each
        time would spend Telegram's global budget on queue news, so positions refresh every few seconds,
        less often the longer the queue (at most about ten edits a second in all).
        """
        # The first round soon after someone starts waiting (after a restart, everyone rejoins the queue
        # at once and should see their place again), then every few seconds.
        delay = QUEUE_FIRST_REFRESH_SECONDS
        while self._waiting:
            await asyncio.sleep(delay)
            delay = max(QUEUE_REFRESH_SECONDS, len(self._waiting) / 10)
            waiting = [(t, c) for t, c in self._waiting.items() if self.position(t) is not None]
            if waiting:
                try:
                    await self._queue.want(
                        [NewWork(Kind.PROGRESS, t, t, c, self._life.now()) for t, c in waiting],
                        hints={f"progress:{t}": True for t, _ in waiting},
                    )
                except Exception as error:  # news only: the next round tries again
                    log.warning("could not refresh queue positions: %s", error)
