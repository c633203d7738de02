"""The provider's file tools on a track (WAV, vocal separation): one generic task, each tool's shapes.

A tool module says what its endpoint validates, what files it makes and how its callback and
record-info look (provider-tools.md §1: the casing and nesting differ per endpoint, and are kept
exactly); this host runs the task on a timer, serves the files it made under /media/studio/, and calls
back with the provider's retries. Faults: ``fail_next(code, msg)`` fails the next file task.
"""

from __future__ import annotations

import asyncio
import collections
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp
from aiohttp import web

from emulators.provider.http import RECORD, envelope, json_object
from emulators.provider.rules import RuleError, _string, _url

if TYPE_CHECKING:
    from emulators.provider.server import ProviderEmulator


@dataclass(slots=True)
class StudioFile:
    key: str  # the tool's own name for it (vocal_url, audioWavUrl...)
    name: str  # served as /media/studio/<name>
    data: bytes = field(repr=False)
    content_type: str = "audio/mpeg"


@dataclass(slots=True)
class StudioTask:
    task_id: str
    tool: str
    body: dict[str, Any]
    created: float = field(default_factory=time.time)
    success_flag: str = "PENDING"
    files: list[StudioFile] = field(default_factory=list)
    error_code: int | None = None
    error_message: str | None = None
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[bool] = field(default_factory=list)


class FileTool(Protocol):
    """What a tool module provides (emulators/provider/studio/wav.py is the shortest)."""

    ENDPOINT: str
    RECORD_PATH: str
    FAILED_FLAG: str

    def check(self, body: Mapping[str, Any], host: StudioHost) -> int: ...  # the credits it costs

    def make_files(self, task: StudioTask, host: StudioHost) -> list[StudioFile]: ...

    def callback(self, task: StudioTask, base_url: str) -> dict[str, Any]: ...

    def record(self, task: StudioTask, base_url: str) -> dict[str, Any]: ...


def epoch_ms(moment: float) -> int:
    return int(moment * 1000)


def text_time(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")


class StudioHost:
    def __init__(self, emulator: ProviderEmulator, tools: list[Any]) -> None:
        self.emulator = emulator
        self.tools: dict[str, Any] = {tool.ENDPOINT: tool for tool in tools}
        self.tasks: dict[str, StudioTask] = {}
        self.media: dict[str, StudioFile] = {}
        self.personas: dict[str, str] = {}  # personaId -> the audioId it was made from
        self.mashup_models: set[str] | None = None  # set: the account takes only these for mashup
        self._failures: collections.deque[tuple[int, str]] = collections.deque()

    def fail_next(self, code: int, msg: str = "Generation failed") -> None:
        self._failures.append((code, msg))

    def take_failure(self) -> tuple[int, str] | None:
        """The next scripted failure, for tools that answer on their own (boost style)."""
        return self._failures.popleft() if self._failures else None

    def add_routes(self, app: web.Application, prefix: str) -> None:
        for endpoint, tool in self.tools.items():
            if getattr(tool, "SYNCHRONOUS", False):
                app.router.add_post(prefix + endpoint, self._answer_handler(tool))
                continue
            app.router.add_post(prefix + endpoint, self._create_handler(tool))
            app.router.add_get(prefix + tool.RECORD_PATH, self._record_handler(tool))
        app.router.add_get("/media/studio/{name}", self._serve)

    # ---- what tools ask of the emulator -----------------------------------------------------------

    def music_track(self, body: Mapping[str, Any], *, callback: bool = True) -> Any:
        """The finished track a request names by taskId + audioId; RuleError as the provider answers.
        `callback`: the endpoint takes a callBackUrl (the synchronous ones do not)."""
        task_id = _string(body, "taskId", required=True)
        audio_id = _string(body, "audioId", required=True)
        if callback:
            _url(body, "callBackUrl")
        music = self.emulator.tasks.get(str(task_id))
        if music is None:
            raise RuleError(404, f"taskId {task_id} not found")
        track = next((t for t in music.tracks if t.id == audio_id), None)
        if track is None:
            raise RuleError(400, f"audioId {audio_id} is not a track of task {task_id}")
        if not track.audio_ready:
            raise RuleError(400, "the music task has not finished")
        return track

    # ---- handlers ---------------------------------------------------------------------------------

    def _create_handler(self, tool: Any) -> Callable[[web.Request], Any]:
        async def create(request: web.Request) -> web.Response:
            body = await json_object(request)
            if isinstance(body, web.Response):
                return body
            try:
                cost = tool.check(body, self)
            except RuleError as error:
                return envelope(request, error.code, error.msg)
            # One result per parent (cover art): a repeat is refused with the task made before, uncharged.
            made = tool.existing(body, self) if hasattr(tool, "existing") else None
            if made is not None:
                request[RECORD].task_id = made
                return envelope(request, tool.REPEAT_CODE, tool.REPEAT_MSG, {"taskId": made})
            if self.emulator.credits < cost:
                return envelope(request, getattr(tool, "NO_CREDITS_CODE", 429), "Insufficient credits")
            self.emulator.credits -= cost  # every call is charged, a repeat too (§4)
            task = StudioTask(secrets.token_hex(16), tool.ENDPOINT, dict(body))
            self.tasks[task.task_id] = task
            request[RECORD].task_id = task.task_id
            runner = asyncio.create_task(self._run(tool, task), name=f"studio-{task.task_id}")
            self.emulator._runners[task.task_id] = runner
            self.emulator.notify()
            return envelope(request, 200, "success", {"taskId": task.task_id})

        return create

    def _answer_handler(self, tool: Any) -> Callable[[web.Request], Any]:
        """A synchronous tool: the result is the answer itself (no task, no callback)."""

        async def answer(request: web.Request) -> web.Response:
            body = await json_object(request)
            if isinstance(body, web.Response):
                return body
            try:
                cost, data = tool.answer(body, self)
            except RuleError as error:
                return envelope(request, error.code, error.msg)
            if self.emulator.credits < cost:
                return envelope(request, 429, "Insufficient credits")
            if self._failures:
                code, msg = self._failures.popleft()
                return envelope(request, code, msg)
            self.emulator.credits -= cost
            self.emulator.notify()
            return envelope(request, 200, "success", data)

        return answer

    def _record_handler(self, tool: Any) -> Callable[[web.Request], Any]:
        async def record(request: web.Request) -> web.Response:
            task_id = request.query.get("taskId", "")
            task = self.tasks.get(task_id)
            if not task_id:
                return envelope(request, 400, "taskId is required")
            if task is None or task.tool != tool.ENDPOINT:
                return envelope(request, 400, f"Task not found: {task_id}")
            request[RECORD].task_id = task_id
            return envelope(request, 200, "success", tool.record(task, self.emulator.url))

        return record

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        found = self.media.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(body=found.data, content_type=found.content_type)

    # ---- the task ---------------------------------------------------------------------------------

    async def _run(self, tool: Any, task: StudioTask) -> None:
        await asyncio.sleep(self.emulator.stage_delays[-1])
        failure = self._failures.popleft() if self._failures else None
        if failure is None:
            task.files = tool.make_files(task, self)
            self.media.update((f.name, f) for f in task.files)
            task.success_flag = "SUCCESS"
        else:
            task.error_code, task.error_message = failure
            task.success_flag = tool.FAILED_FLAG
        self.emulator.notify()
        payload = tool.callback(task, self.emulator.url)
        task.callbacks.append(payload)
        task.delivered.append(await self._post(str(task.body["callBackUrl"]), payload))
        self.emulator.notify()

    async def _post(self, url: str, payload: dict[str, Any]) -> bool:
        timeout = aiohttp.ClientTimeout(total=self.emulator.callback_timeout)
        for attempt in range(self.emulator.callback_retries + 1):
            if attempt:
                await asyncio.sleep(0.2 * 2 ** (attempt - 1))
            try:
                async with self.emulator.http.post(url, json=payload, timeout=timeout) as response:
                    await response.read()
                    if response.status == 200:
                        return True
            except (aiohttp.ClientError, TimeoutError, OSError):
                continue
        return False
