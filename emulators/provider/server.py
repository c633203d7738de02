"""An emulator of the sunoapi.org music API: a real aiohttp server on loopback.

One port serves three hosts of the real service, told apart by path:

- the API (``/api/v1/...``): the six task endpoints with the documented validation
  (``provider_rules``), record-info, credits, the 20-requests-per-10-s budget;
- the file-upload host (``/api/file-*-upload``): stream, base64 and URL uploads, served back under
  ``/media/uploads/...``. Upload-host requests are NOT counted in the API budget: the docs state the
  limit for the music API only;
- the generated media (``/media/audio|stream|image/...``): real MP3s and JPEG covers.

Tasks progress on timers and call back by stage (``provider_tasks``); tests drive faults with
``script()``, ``fail_next_request()``, ``lose_next_answer()``, ``fail_next_downloads()`` and the
``on_task_created`` hook (all listed in the class docstring) and wait on state with ``wait_for()``.

This module holds the emulator itself, its routing and gate, and the API host; the upload host lives in
``provider_uploads``, the media host in ``provider_media``, and what they share (the request record and
the answer envelope) in ``provider_http``, the answer and download faults in ``provider_faults``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import secrets
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from emulators.connection import NO_ANSWER, reset_connection
from emulators.provider import studio
from emulators.provider.faults import (
    DownloadFailure,
    LostAnswer,
    LostAnswerMode,
    MediaKind,
    take,
)
from emulators.provider.http import RECORD, RecordedRequest, envelope, json_object
from emulators.provider.media import MediaHost
from emulators.provider.rules import (
    ENDPOINT_KINDS,
    RuleError,
    SourceTrack,
    unknown_fields,
    validate_task_request,
)
from emulators.provider.studio.files import StudioHost
from emulators.provider.studio.recovery import RecoveryHost
from emulators.provider.tasks import (
    REMAKE_KINDS,
    DownloadRecord,
    EmulatedTask,
    EmulatedTrack,
    TaskScript,
    audio_duration,
    build_tracks,
    download_to,
    run_task,
    upload_problem,
)
from emulators.provider.uploads import UPLOAD_PATHS, UploadedFile, UploadHost
from emulators.provider.variants import VARIANTS, PayloadVariants

studio.register()  # the studio's endpoints join the tables below before any app is built

__all__ = ["ProviderEmulator", "RecordedRequest", "UploadedFile", "Violation"]

API_PREFIX = "/api/v1/"
TASK_DOWNLOAD_TIMEOUT = 60.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
TaskCreatedHook = Callable[[EmulatedTask], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Violation:
    """A request that arrived while ``budget`` others had arrived within ``budget_window`` seconds."""

    arrived: float
    path: str
    in_window: int
    rejected: bool


@dataclass(slots=True)
class _ScriptedFailure:
    path_suffix: str
    code: int
    msg: str
    remaining: int


class ProviderEmulator(UploadHost, MediaHost):
    """The provider on loopback. State for assertions, all public and appended in arrival order:

    - ``requests``: every request (API, upload host and media), with its envelope code;
    - ``tasks``: by taskId, each with its stages, tracks, callbacks (and their attempts) and, for the
      upload kinds, the sha256/size/duration of the audio the provider downloaded;
    - ``uploads``: files received by the upload host; ``downloads``: what the emulator fetched;
    - ``violations``: API requests that arrived over the budget; ``credits``: the balance.

    Scripted faults; none of them relaxes a check, so a request the real provider refuses is still
    refused with its own code first:

    - ``script(...)``: what the next created task does (duplicate, reordered or dropped callbacks,
      failure, sensitive words, hold until ``release()``...); ``complete_now()``/``fail_now()`` drive
      a task by hand.
    - ``fail_next_request(path_suffix, code)``: the next matching API or upload-host requests get that
      envelope code, before validation; nothing is created or charged.
    - ``on_task_created``: an awaitable hook, ``async def hook(task) -> None``, awaited after a
      task-creating request has created (and charged, and started) its task and just before the answer
      is sent; the answer waits for it. The task's stages run meanwhile, so its callbacks may reach the
      bot before the answer does (script ``hold=True`` to keep them back). It stays set until set to
      None; an exception in it is a test bug and surfaces as aiohttp's plain HTTP 500.
    - ``lose_next_answer(mode, endpoint=..., delay=..., times=...)``: the next task-creating request(s)
      really create their task (charged, stages and callbacks to callBackUrl as usual; it is in
      ``tasks`` and record-info knows it), but the client never learns the taskId: ``"reset"`` resets
      the connection without an answer (recorded http_status 0), ``"timeout"`` answers the success
      envelope only after ``delay`` seconds, later than the client waits, ``"500"`` answers HTTP 500
      with a code-500 envelope. The request's record carries ``fault="lost:<mode>"`` and the taskId.
    - ``fail_next_downloads(n, status, media=...)``: the next ``n`` GETs of generated media (audio:
      ``/media/audio`` and ``/media/stream``; image: ``/media/image``) get that HTTP status and a short
      HTML page, as from a CDN, then files are served normally. HEAD requests, unknown files (404) and
      files of the upload host are not affected and do not use the count. Recorded as
      ``fault="download:<status>"``.
    - ``enforce_budget`` / ``credits``: the 405 of the rate limit and the 429 of an empty balance.
    - ``script(lose_audio=(1,))`` reports that track with ``audio_url: ""`` (its file gone); the
      ``recovery`` desk (``emulators/provider/studio/recovery.py``) brings it back, and its own
      ``recovery.script(...)`` fails items, drops its callback, holds it or fails it as a whole.
    - ``vary(...)``: answer in payload variants seen beside the documented shapes (a task id under
      ``task_id``, ``fileUrl``, undocumented statuses, placeholder tracks...; ``provider_variants``).
    """

    def __init__(
        self,
        api_key: str = "test-suno-key",
        *,
        credits: int = 1000,
        cost_per_task: int = 12,
        budget: int = 20,
        budget_window: float = 10.0,
        enforce_budget: bool = True,
        stage_delays: tuple[float, float, float] = (0.2, 0.4, 0.6),
        track_seconds: float = 3.0,
        track_bytes: int | None = None,
        callback_retries: int = 3,
        callback_timeout: float = 15.0,
    ) -> None:
        self.api_key = api_key
        self.credits = credits
        self.cost_per_task = cost_per_task
        self.budget = budget
        self.budget_window = budget_window
        self.enforce_budget = enforce_budget
        self.stage_delays = stage_delays
        self.track_seconds = track_seconds
        self.track_bytes = track_bytes
        self.callback_retries = callback_retries
        self.callback_timeout = callback_timeout

        self.url = ""
        self.requests: list[RecordedRequest] = []
        self.tasks: dict[str, EmulatedTask] = {}
        self.uploads: dict[str, UploadedFile] = {}
        self.downloads: list[DownloadRecord] = []
        self.violations: list[Violation] = []
        self.unknown_task_ids: list[str] = []  # record-info lookups of task ids never issued

        self.studio = StudioHost(self, list(studio.FILE_TOOLS))  # WAV, stems... (emulators/provider/studio/)
        self.recovery = RecoveryHost(self)  # POST /api/v1/suno/recovery and its faults
        self.on_task_created: TaskCreatedHook | None = None
        self.variants = PayloadVariants()

        self._scripts: collections.deque[TaskScript] = collections.deque()
        self._failures: list[_ScriptedFailure] = []
        self._lost_answers: list[LostAnswer] = []
        self._download_failures: list[DownloadFailure] = []
        self._closing = asyncio.Event()  # ends the wait of a "timeout" lost answer at close
        self._arrivals: collections.deque[float] = collections.deque()
        self._tracks: dict[str, EmulatedTrack] = {}
        self._runners: dict[str, asyncio.Task[None]] = {}
        self._changed = asyncio.Event()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._workdir: Path | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0 = any free port) and return the base URL."""
        self._closing.clear()
        self._workdir = Path(tempfile.mkdtemp(prefix="provider-emulator-"))
        self._session = aiohttp.ClientSession()
        self._runner = web.AppRunner(self._build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{bound_host}:{bound_port}"
        return self.url

    async def close(self) -> None:
        self._closing.set()
        runners = list(self._runners.values())
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    async def __aenter__(self) -> ProviderEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- test controls --------------------------------------------------------------------------

    def script(self, **fault: Any) -> None:
        """Queue faults for the next created task (FIFO, one script per task). Keywords: duplicate,
        reorder, drop_callbacks, drop_stages, fail_with=(code, msg), sensitive, hold, delays=(t, f, c),
        callback_exception, lose_audio=(positions,), no_tags."""
        self._scripts.append(TaskScript.from_kwargs(**fault))

    def fail_next_request(
        self, path_suffix: str, code: int, msg: str = "Scripted failure", times: int = 1
    ) -> None:
        """Answer the next ``times`` authorised requests whose path ends with ``path_suffix`` with this
        envelope code (HTTP 200), before any validation; nothing is created or charged."""
        self._failures.append(_ScriptedFailure(path_suffix.strip("/"), code, msg, times))

    def lose_next_answer(
        self,
        mode: LostAnswerMode = "reset",
        *,
        endpoint: str | None = None,
        delay: float = 60.0,
        times: int = 1,
    ) -> None:
        """Create the next ``times`` tasks for real but lose the answer; see the class docstring.

        ``endpoint`` is a task endpoint after /api/v1/ ("generate", "generate/upload-cover"...), None for
        any; ``delay`` is how late the "timeout" answer comes."""
        if mode not in ("reset", "timeout", "500"):
            raise ValueError(f"mode must be 'reset', 'timeout' or '500', not {mode!r}")
        if endpoint is not None:
            endpoint = endpoint.strip("/").removeprefix("api/v1/")
            if endpoint not in ENDPOINT_KINDS:
                raise ValueError(f"{endpoint!r} is not a task-creating endpoint: {sorted(ENDPOINT_KINDS)}")
        if times < 1 or delay < 0:
            raise ValueError("times must be at least 1 and delay not negative")
        self._lost_answers.append(LostAnswer(mode, endpoint, delay, times))

    def fail_next_downloads(self, n: int = 1, status: int = 500, *, media: MediaKind = "audio") -> None:
        """Fail the next ``n`` GETs of generated media with HTTP ``status``; see the class docstring."""
        if n < 1 or not 400 <= status <= 599:
            raise ValueError("n must be at least 1 and status an HTTP error status (4xx or 5xx)")
        if media not in ("audio", "image", "any"):
            raise ValueError(f"media must be 'audio', 'image' or 'any', not {media!r}")
        self._download_failures.append(DownloadFailure(status, media, n))

    def vary(self, **variants: Any) -> None:
        """Answer in these payload variants from now on (fields of ``PayloadVariants``)."""
        for name, value in variants.items():
            setattr(self.variants, name, value)  # an unknown name raises: slots

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109 (the tests' API)
        """Return once ``predicate()`` is true, re-checking after every change; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"provider emulator: condition not met within {timeout} s")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                if predicate():
                    return
                raise TimeoutError(f"provider emulator: condition not met within {timeout} s") from None

    def release(self, task_id: str) -> None:
        """End the hold of a task scripted with ``hold=True``; its stages start from now."""
        task = self.tasks[task_id]
        # A flag rather than clearing ``held``: the runner may not have reached its hold yet
        # (it downloads an upload first), and the release must still count when it does.
        task.hold_released = True
        task.wake.set()

    def complete_now(self, task_id: str) -> None:
        """Run the task's remaining stages at once (ignoring scripted failures)."""
        self._override(task_id, ("complete",))

    def fail_now(self, task_id: str, code: int, msg: str = "Music generation failed") -> None:
        """Fail the task at once: GENERATE_AUDIO_FAILED and an error callback."""
        self._override(task_id, ("fail", code, msg))

    def _override(self, task_id: str, override: tuple[Any, ...]) -> None:
        task = self.tasks[task_id]
        if task.terminal:
            raise ValueError(f"task {task_id} already ended with {task.status}")
        task.override = override
        task.wake.set()

    @property
    def last_task(self) -> EmulatedTask:
        return list(self.tasks.values())[-1]

    def api_requests(self, path_suffix: str = "") -> list[RecordedRequest]:
        return [r for r in self.requests if r.host == "api" and r.path.endswith(path_suffix)]

    # --- TaskHost (used by provider_tasks) ------------------------------------------------------

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the provider emulator is not started")
        return self._session

    def _workdir_path(self, *parts: str) -> Path:
        if self._workdir is None:
            raise RuntimeError("the provider emulator is not started")
        path = self._workdir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def notify(self) -> None:
        """Wake every wait_for(); a fresh event per change so no waiter misses one."""
        self._changed.set()
        self._changed = asyncio.Event()

    def refund(self, task: EmulatedTask) -> None:
        if not task.refunded:
            task.refunded = True
            self.credits += self.cost_per_task

    async def fetch_upload(
        self, task: EmulatedTask, *, url: str | None = None, part: str = ""
    ) -> tuple[int, str] | None:
        """Download the task's uploadUrl (or `url`, one of several) as the provider would; a problem
        fails the task."""
        path = self._workdir_path("task-downloads", f"{task.task_id}{part}.bin")
        source = url if url is not None else str(task.body["uploadUrl"])
        record = await download_to(self.http, source, path, max_seconds=TASK_DOWNLOAD_TIMEOUT, purpose="task")
        record.task_id = task.task_id
        self.downloads.append(record)
        self.notify()
        if record.status != 200 or not record.size:
            return 451, "Could not download the uploaded file"
        task.upload_sha256, task.upload_size = record.sha256, record.size
        task.upload_duration = await asyncio.to_thread(audio_duration, path)
        return upload_problem(task, task.upload_duration)

    # --- app ------------------------------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=256 * 1024 * 1024)
        app[VARIANTS] = self.variants
        for suffix in ENDPOINT_KINDS:
            app.router.add_post(API_PREFIX + suffix, self._handle_task_request)
        app.router.add_get(API_PREFIX + "generate/record-info", self._handle_record_info)
        app.router.add_get(API_PREFIX + "generate/credit", self._handle_credit)
        self.studio.add_routes(app, API_PREFIX)
        for tool in studio.ROUTE_TOOLS:  # studio part 3
            tool.add_routes(app, API_PREFIX, self.studio)
        app.router.add_post("/api/file-stream-upload", self._handle_stream_upload)
        app.router.add_post("/api/file-base64-upload", self._handle_base64_upload)
        app.router.add_post("/api/file-url-upload", self._handle_url_upload)
        app.router.add_get("/media/audio/{name}", self._handle_audio)
        app.router.add_get("/media/stream/{track_id}", self._handle_audio)
        app.router.add_get("/media/image/{name}", self._handle_image)
        app.router.add_get("/media/uploads/{upload_id}/{name}", self._handle_uploaded_file)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        record = self._record(request)
        try:
            response = await self._gate(request, record) or await self._dispatch(request, handler, record)
        except web.HTTPException as error:
            record.http_status = error.status
            raise
        finally:
            self.notify()
        if record.http_status is None:  # a reset already recorded that no answer went out
            record.http_status = response.status
        return response

    def _record(self, request: web.Request) -> RecordedRequest:
        path = request.path
        if path.startswith(API_PREFIX):
            host = "api"
        elif path in UPLOAD_PATHS:
            host = "upload"
        elif path.startswith("/media/"):
            host = "media"
        else:
            host = "other"
        record = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            host=host,
            headers=dict(request.headers),
            arrived=time.monotonic(),
        )
        self.requests.append(record)
        request[RECORD] = record
        return record

    async def _gate(self, request: web.Request, record: RecordedRequest) -> web.Response | None:
        """Budget, auth and scripted failures, in the order the real service would meet them."""
        if record.host == "api" and self._over_budget(record) and self.enforce_budget:
            return envelope(request, 405, "Rate limit exceeded")
        if record.host in ("api", "upload"):
            if request.headers.get("Authorization") != f"Bearer {self.api_key}":
                return envelope(request, 401, "Unauthorized")
            failure = self._take_scripted_failure(record.path)
            if failure is not None:
                return envelope(request, failure.code, failure.msg)
        return None

    async def _dispatch(
        self, request: web.Request, handler: Handler, record: RecordedRequest
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except (web.HTTPNotFound, web.HTTPMethodNotAllowed) as error:
            if record.host in ("api", "upload") or request.path.startswith("/api/"):
                return envelope(request, 404, "Wrong method or path", http_status=error.status)
            raise

    def _over_budget(self, record: RecordedRequest) -> bool:
        """Sliding window over arrival times; every arrival counts, rejected ones too."""
        window_start = record.arrived - self.budget_window
        while self._arrivals and self._arrivals[0] <= window_start:
            self._arrivals.popleft()
        in_window = len(self._arrivals)
        self._arrivals.append(record.arrived)
        if in_window < self.budget:
            return False
        self.violations.append(Violation(record.arrived, record.path, in_window, self.enforce_budget))
        return True

    def _take_scripted_failure(self, path: str) -> _ScriptedFailure | None:
        for failure in self._failures:
            # Whole path segments, so "extend" does not also catch "upload-extend".
            if failure.remaining > 0 and path.rstrip("/").endswith("/" + failure.path_suffix):
                failure.remaining -= 1
                return failure
        return None

    # --- API host -------------------------------------------------------------------------------

    async def _handle_task_request(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        kind = ENDPOINT_KINDS[request.path[len(API_PREFIX) :]]
        record = request[RECORD]
        record.ignored_fields = unknown_fields(kind, body)
        try:
            model = validate_task_request(kind, body, self._find_source)
        except RuleError as error:
            return envelope(request, error.code, error.msg)
        gate = studio.MODEL_GATES.get(kind)
        refusal = gate(self.studio, model) if gate is not None else None
        if refusal is not None:  # an account that takes only some models (mashup's two families)
            return envelope(request, 422, refusal)
        if self.credits < self.cost_per_task:
            return envelope(request, 429, "Insufficient credits")
        task = self._create_task(kind, request.path, body, model)
        record.task_id = task.task_id
        self.notify()  # the task exists now, whatever happens to the answer
        if self.on_task_created is not None:
            await self.on_task_created(task)
        lost = take(self._lost_answers, request.path[len(API_PREFIX) :])
        if lost is None:
            return envelope(request, 200, "success", {"taskId": task.task_id})
        record.fault = f"lost:{lost.mode}"
        if lost.mode == "reset":
            record.http_status = NO_ANSWER
            return reset_connection(request)
        if lost.mode == "500":
            return envelope(request, 500, "Internal Server Error", http_status=500)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), lost.delay)
        return envelope(request, 200, "success", {"taskId": task.task_id})

    def _find_source(self, audio_id: str) -> SourceTrack | None:
        track = self._tracks.get(audio_id)
        if track is None:
            return None
        task_id = next(
            (t.task_id for t in self.tasks.values() if any(x.id == audio_id for x in t.tracks)), ""
        )
        return SourceTrack(
            model=track.model, duration=track.duration, ready=track.audio_ready, task_id=task_id
        )

    def _create_task(self, kind: str, path: str, body: dict[str, Any], model: str) -> EmulatedTask:
        self.credits -= self.cost_per_task
        script = self._scripts.popleft() if self._scripts else TaskScript()
        task = EmulatedTask(
            task_id=secrets.token_hex(16),
            kind=kind,
            endpoint=path,
            body=body,
            model=model,
            script=script,
            created_at=time.monotonic(),
        )
        sourced = kind == "extend" or kind in REMAKE_KINDS
        source = self._tracks.get(str(body.get("audioId"))) if sourced else None
        task.tracks = build_tracks(
            task,
            variant=len(self.tasks),
            track_seconds=self.track_seconds,
            track_bytes=self.track_bytes,
            source=source,
        )
        for position in script.lose_audio:
            task.tracks[position].lost = True
        self.tasks[task.task_id] = task
        self._tracks.update((track.id, track) for track in task.tracks)
        runner = asyncio.create_task(run_task(self, task), name=f"provider-task-{task.task_id}")
        self._runners[task.task_id] = runner
        return task

    async def _handle_record_info(self, request: web.Request) -> web.Response:
        task_id = request.query.get("taskId", "")
        if not task_id:
            return envelope(request, 400, "taskId is required")
        task = self.tasks.get(task_id)
        if task is None:
            self.unknown_task_ids.append(task_id)
            return envelope(request, 400, f"Task not found: {task_id}")
        request[RECORD].task_id = task_id
        return envelope(request, 200, "success", self.variants.record_info(task.record_info(self.url)))

    async def _handle_credit(self, request: web.Request) -> web.Response:
        return envelope(request, 200, "success", self.credits)
