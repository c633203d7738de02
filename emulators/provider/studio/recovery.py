"""POST /api/v1/suno/recovery (provider-tools.md §14): fresh links to a finished music task's tracks.

Strict as documented: `sunoTaskId` (a music task's id, never a recovery's) and `callBackUrl` are
required, the task must have finished, and nothing else is taken. The answer's `data.task_id` is snake
case; the callback and record-info (`GET .../recovery/record-info?task_id=`) put the task id at the top
with `data` a list of items in track order, `{id, audio_url, title, status, error}`; record-info's code
is 201 while running (data null), 200 when at least one track came back, 500 when none did. Recovered
files are the tracks' real audio, served as `.m4a` (audio/mp4) under /media/recovered/.

Faults, on ``provider.recovery``: ``script(failed={position: error}, drop_callback=..., hold=...,
fail_with=(code, msg), lose_answer="500"|"reset")`` shapes the next recovery (items failed with a §14
error, its callback never sent, held until ``release(task_id)``, the task failed as a whole, or the task
made for real but its answer an HTTP 500 or a reset connection); the POST itself fails, making nothing,
with ``provider.fail_next_request("suno/recovery", code, times=n)``.
"""

from __future__ import annotations

import asyncio
import collections
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from aiohttp import web

from emulators.connection import NO_ANSWER, reset_connection
from emulators.provider.http import RECORD, envelope, json_object
from emulators.provider.rules import RuleError, _string, _url

if TYPE_CHECKING:
    from emulators.provider.server import ProviderEmulator
    from emulators.provider.studio.files import StudioHost

ENDPOINT = "suno/recovery"
RECORD_PATH = "suno/recovery/record-info"
FIELDS = frozenset({"sunoTaskId", "callBackUrl"})
ERRORS = frozenset(
    {
        "no_audio_id_mappings",
        "account_missing",
        "get_tokens_failed",
        "feed_failed",
        "clip_error",
        "clip_not_complete",
        "mango_transfer_failed",
    }
)
RUNNING, DONE, ALL_FAILED = 201, 200, 500


@dataclass(frozen=True, slots=True)
class RecoveryScript:
    failed: Mapping[int, str] = field(default_factory=dict)  # track position -> its §14 error
    drop_callback: bool = False
    hold: bool = False
    fail_with: tuple[int, str] | None = None  # the whole task fails: that code, no items
    lose_answer: Literal["500", "reset"] | None = None  # made, but the POST's answer is lost


@dataclass(slots=True)
class RecoveryTask:
    task_id: str
    music_task_id: str
    callback_url: str
    script: RecoveryScript
    items: list[dict[str, Any]] | None = None  # None while running
    error: tuple[int, str] | None = None  # the task failed as a whole (a server error)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[bool] = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def code(self) -> int:
        if self.error is not None:
            return self.error[0]
        if self.items is None:
            return RUNNING
        return DONE if any(item["status"] == "success" for item in self.items) else ALL_FAILED


class RecoveryHost:
    """The emulator's recovery endpoint, its tasks (``tasks``, by recovery id) and their faults."""

    def __init__(self, emulator: ProviderEmulator) -> None:
        self.emulator = emulator
        self.tasks: dict[str, RecoveryTask] = {}
        self._scripts: collections.deque[RecoveryScript] = collections.deque()

    def script(
        self,
        *,
        failed: Mapping[int, str] | None = None,
        drop_callback: bool = False,
        hold: bool = False,
        fail_with: tuple[int, str] | None = None,
        lose_answer: Literal["500", "reset"] | None = None,
    ) -> None:
        """Shape the next recovery: `failed` tracks (by position) fail with their error; `drop_callback`
        sends no callback (only record-info tells); `hold` keeps it running until `release`; `fail_with`
        fails it as a whole (that code and message, `data` null); `lose_answer` makes it but answers
        the POST with an HTTP 500 or resets the connection (its callback still comes)."""
        unknown = set((failed or {}).values()) - ERRORS
        if unknown:
            raise ValueError(f"not a documented recovery error: {sorted(unknown)}")
        if lose_answer not in (None, "500", "reset"):
            raise ValueError(f"lose_answer must be '500' or 'reset', not {lose_answer!r}")
        self._scripts.append(RecoveryScript(dict(failed or {}), drop_callback, hold, fail_with, lose_answer))

    def release(self, task_id: str) -> None:
        self.tasks[task_id].released.set()

    @property
    def last_task(self) -> RecoveryTask:
        return list(self.tasks.values())[-1]

    def add_routes(self, app: web.Application, prefix: str) -> None:
        app.router.add_post(prefix + ENDPOINT, self._create)
        app.router.add_get(prefix + RECORD_PATH, self._record)
        app.router.add_get("/media/recovered/{name}", self._serve)

    # ---- handlers ---------------------------------------------------------------------------------

    def _check(self, body: Mapping[str, Any]) -> tuple[str, str]:
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            raise RuleError(400, f"unknown fields: {', '.join(unknown)}")
        music_id = str(_string(body, "sunoTaskId", required=True))
        callback_url = _url(body, "callBackUrl")
        if music_id in self.tasks:
            raise RuleError(400, "sunoTaskId must be a music task's id, not a recovery's")
        music = self.emulator.tasks.get(music_id)
        if music is None:
            raise RuleError(400, f"sunoTaskId {music_id} not found")
        if music.status != "SUCCESS":
            raise RuleError(400, "the music task has not finished")
        return music_id, callback_url

    async def _create(self, request: web.Request) -> web.Response:
        body = await json_object(request)
        if isinstance(body, web.Response):
            return body
        try:
            music_id, callback_url = self._check(body)
        except RuleError as error:
            return envelope(request, error.code, error.msg)
        script = self._scripts.popleft() if self._scripts else RecoveryScript()
        task = RecoveryTask(secrets.token_hex(16), music_id, callback_url, script)
        self.tasks[task.task_id] = task
        request[RECORD].task_id = task.task_id
        runner = asyncio.create_task(self._run(task), name=f"recovery-{task.task_id}")
        self.emulator._runners[task.task_id] = runner
        self.emulator.notify()
        if script.lose_answer == "reset":
            request[RECORD].fault, request[RECORD].http_status = "lost:reset", NO_ANSWER
            return reset_connection(request)
        if script.lose_answer == "500":
            request[RECORD].fault = "lost:500"
            return envelope(request, 500, "Internal Server Error", http_status=500)
        # Cost is not documented (§14): the emulator charges nothing for it.
        return envelope(request, 200, "success", {"task_id": task.task_id})

    async def _record(self, request: web.Request) -> web.Response:
        task_id = request.query.get("task_id", "")
        if not task_id:
            return envelope(request, 400, "task_id is required")
        task = self.tasks.get(task_id)
        if task is None:
            return envelope(request, 404, f"Recovery task not found: {task_id}")
        request[RECORD].task_id = task_id
        request[RECORD].code = task.code
        return web.json_response(self._payload(task))

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        track_id = name.removesuffix(".m4a").split("-", 1)[-1]
        track = self.emulator._tracks.get(track_id)
        if track is None or not name.endswith(".m4a"):
            raise web.HTTPNotFound()
        return web.Response(body=track.audio, content_type="audio/mp4")

    # ---- the task ---------------------------------------------------------------------------------

    def _payload(self, task: RecoveryTask) -> dict[str, Any]:
        if task.error is not None:
            return {"code": task.error[0], "task_id": task.task_id, "msg": task.error[1], "data": None}
        msg = {RUNNING: "running", DONE: "success", ALL_FAILED: "all tracks failed to recover"}[task.code]
        return {"code": task.code, "task_id": task.task_id, "msg": msg, "data": task.items}

    async def _run(self, task: RecoveryTask) -> None:
        await asyncio.sleep(self.emulator.stage_delays[-1])
        if task.script.hold:
            await task.released.wait()
        music = self.emulator.tasks[task.music_task_id]
        task.error = task.script.fail_with
        items = []
        for position, track in enumerate(music.tracks):
            error = task.script.failed.get(position)
            url = f"{self.emulator.url}/media/recovered/{task.task_id}-{track.id}.m4a"
            items.append(
                {
                    "id": track.id,
                    "audio_url": url if error is None else "",
                    "title": track.title if error is None else "",
                    "status": "success" if error is None else "failed",
                    "error": error or "",
                }
            )
        task.items = items if task.error is None else None
        self.emulator.notify()
        if task.script.drop_callback:
            return
        payload = self._payload(task)
        task.callbacks.append(payload)
        studio: StudioHost = self.emulator.studio  # its callbacks, with the provider's retries
        task.delivered.append(await studio._post(task.callback_url, payload))
        self.emulator.notify()


def add_routes(app: web.Application, prefix: str, host: StudioHost) -> None:
    """As the other route tools (emulators/provider/studio/__init__.py): its state is the emulator's."""
    host.emulator.recovery.add_routes(app, prefix)
