"""Task state and progression of the provider emulator: stages, tracks, callbacks, scripted faults.

One asyncio task per emulated provider task walks the stages on a timer (text, first, complete, or
only complete for add-vocals/add-instrumental). The status that record-info reports moves with the
stages whatever happens to the callbacks, which go out from a separate per-task sender with the
provider's retry behaviour, so a slow or broken receiver never holds the task back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import aiohttp
import mutagen

from emulators.audio_fixtures import make_big_mp3, make_jpeg, make_mp3, mp3_duration
from emulators.provider.rules import UPLOAD_KINDS
from emulators.provider.variants import PayloadVariants

__all__ = [
    "ADD_KINDS",
    "CallbackAttempt",
    "CallbackRecord",
    "DownloadRecord",
    "EmulatedTask",
    "EmulatedTrack",
    "TaskHost",
    "TaskScript",
    "download_to",
    "run_task",
]

ADD_KINDS = frozenset({"add_vocals", "add_instrumental"})
# Kinds that only report `complete` (no text or first stage), and that make no lyrics; the studio's
# music-shaped tools add themselves (emulators/provider/studio/).
COMPLETE_ONLY_KINDS: set[str] = set(ADD_KINDS)
INSTRUMENTAL_KINDS: set[str] = {"add_instrumental"}
# Kinds that remake the track named by audioId (replace-section): its length, and its title and tags
# unless the request gives its own.
REMAKE_KINDS: set[str] = set()
# Kinds whose songs come as URLs of their own (mashup's uploadUrlList): fetched before the task runs,
# a problem (code, msg) failing it (emulators/provider/studio/).
SOURCE_FETCHES: dict[str, Callable[[TaskHost, EmulatedTask], Awaitable[tuple[int, str] | None]]] = {}
MODEL_NAMES = {
    "V4": "chirp-v4",
    "V4_5": "chirp-v4-5",
    "V4_5PLUS": "chirp-bluejay",
    "V4_5ALL": "chirp-auk",
    "V5": "chirp-crow",
    "V5_5": "chirp-v5-5",
}
TASK_TYPES = {
    "generate": "GENERATE",
    "extend": "EXTEND",
    "upload_cover": "UPLOAD_COVER",
    "upload_extend": "UPLOAD_EXTEND",
    "add_vocals": "ADD_VOCALS",
    "add_instrumental": "ADD_INSTRUMENTAL",
}
STAGE_STATUS = {"text": "TEXT_SUCCESS", "first": "FIRST_SUCCESS", "complete": "SUCCESS"}
STAGE_MESSAGES = {
    "text": "Text generation completed.",
    "first": "First audio generation completed.",
    "complete": "All generated successfully.",
}
TERMINAL_STATUSES = frozenset(
    {"SUCCESS", "CREATE_TASK_FAILED", "GENERATE_AUDIO_FAILED", "SENSITIVE_WORD_ERROR", "CALLBACK_EXCEPTION"}
)
REFUND_CODE = 531
MAX_UPLOAD_SECONDS = 8 * 60
MAX_UPLOAD_SECONDS_V4_5ALL = 60
SENSITIVE_MESSAGE = "Your prompt contains sensitive words; please modify it and try again."
_TRACK_FREQUENCIES = (392.0, 440.0, 494.0, 523.0, 587.0, 659.0, 698.0, 784.0)
_CHUNK = 64 * 1024


# --- scripted faults ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskScript:
    """Faults for one task; see ProviderEmulator.script."""

    duplicate: bool = False
    reorder: bool = False
    drop_callbacks: bool = False
    drop_stages: frozenset[str] = frozenset()
    fail_with: tuple[int, str] | None = None
    sensitive: bool = False
    hold: bool = False
    delays: tuple[float, float, float] | None = None
    callback_exception: bool = False  # end in CALLBACK_EXCEPTION (with tracks) instead of SUCCESS
    # Tracks (by position, 0 or 1) reported with `audio_url: ""` and whose audio file is gone (404): only
    # POST /api/v1/suno/recovery brings them back (emulators/provider/studio/recovery.py).
    lose_audio: frozenset[int] = frozenset()
    no_tags: bool = False  # tracks with `tags: ""`, as the provider sometimes gives a simple-mode song

    @classmethod
    def from_kwargs(cls, **fault: Any) -> TaskScript:
        if "drop_stages" in fault:
            stages = frozenset(fault["drop_stages"])
            unknown = stages - {"text", "first", "complete", "error"}
            if unknown:
                raise ValueError(f"unknown stages in drop_stages: {sorted(unknown)}")
            fault["drop_stages"] = stages
        if "lose_audio" in fault:
            fault["lose_audio"] = frozenset(int(position) for position in fault["lose_audio"])
        if fault.get("fail_with") is not None:
            code, msg = fault["fail_with"]
            fault["fail_with"] = (int(code), str(msg))
        return cls(**fault)  # unknown keywords raise TypeError, which is what a typo deserves


# --- records ------------------------------------------------------------------------------------


@dataclass(slots=True)
class EmulatedTrack:
    """One of the two songs a task produces; the media behind the URLs is real."""

    id: str
    model: str
    title: str
    tags: str
    prompt: str
    create_time: str
    duration: float
    audio: bytes = field(repr=False)
    image: bytes = field(repr=False)
    stream_ready: bool = False
    audio_ready: bool = False
    lost: bool = False  # reported with no audio URL, its file gone (TaskScript.lose_audio)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.audio).hexdigest()

    def urls(self, base_url: str) -> dict[str, str]:
        return {
            "audio": f"{base_url}/media/audio/{self.id}.mp3" if self.audio_ready and not self.lost else "",
            "stream": f"{base_url}/media/stream/{self.id}" if self.stream_ready else "",
            "image": f"{base_url}/media/image/{self.id}.jpeg" if self.audio_ready else "",
        }

    def callback_item(self, base_url: str) -> dict[str, Any]:
        """snake_case, as callbacks carry it (createTime and duration keep their camel/plain names)."""
        urls = self.urls(base_url)
        return {
            "id": self.id,
            "audio_url": urls["audio"],
            "source_audio_url": urls["audio"],
            "stream_audio_url": urls["stream"],
            "source_stream_audio_url": urls["stream"],
            "image_url": urls["image"],
            "source_image_url": urls["image"],
            "prompt": self.prompt,
            "model_name": MODEL_NAMES[self.model],
            "title": self.title,
            "tags": self.tags,
            "createTime": self.create_time,
            "duration": self.duration if self.audio_ready else None,
        }

    def record_item(self, base_url: str) -> dict[str, Any]:
        """camelCase, as record-info carries it."""
        urls = self.urls(base_url)
        return {
            "id": self.id,
            "audioUrl": urls["audio"],
            "sourceAudioUrl": urls["audio"],
            "streamAudioUrl": urls["stream"],
            "sourceStreamAudioUrl": urls["stream"],
            "imageUrl": urls["image"],
            "sourceImageUrl": urls["image"],
            "prompt": self.prompt,
            "modelName": MODEL_NAMES[self.model],
            "title": self.title,
            "tags": self.tags,
            "createTime": self.create_time,
            "duration": self.duration if self.audio_ready else None,
        }


@dataclass(slots=True)
class CallbackAttempt:
    at: float  # time.monotonic()
    status: int | None  # HTTP status, None when the request itself failed
    error: str | None = None


@dataclass(slots=True)
class CallbackRecord:
    stage: str  # text | first | complete | error
    payload: dict[str, Any]
    attempts: list[CallbackAttempt] = field(default_factory=list)
    delivered: bool = False
    abandoned: bool = False


@dataclass(slots=True)
class DownloadRecord:
    """One fetch the emulator made (an uploadUrl for a task, or a fileUrl for the upload host)."""

    url: str
    status: int | None
    sha256: str | None
    size: int
    error: str | None = None
    purpose: str = "task"
    task_id: str | None = None


@dataclass(slots=True)
class EmulatedTask:
    task_id: str
    kind: str  # generate | extend | upload_cover | upload_extend | add_vocals | add_instrumental
    endpoint: str  # request path
    body: dict[str, Any]
    model: str
    script: TaskScript
    created_at: float  # time.monotonic()
    status: str = "PENDING"
    tracks: list[EmulatedTrack] = field(default_factory=list)
    callbacks: list[CallbackRecord] = field(default_factory=list)
    stages_reached: list[str] = field(default_factory=list)
    error_code: int | None = None
    error_message: str | None = None
    refunded: bool = False
    upload_sha256: str | None = None
    upload_size: int | None = None
    upload_duration: float | None = None
    # Driving the task by hand: release() ends a hold, complete_now()/fail_now() set an override.
    held: bool = False
    hold_released: bool = False
    override: tuple[Any, ...] | None = field(default=None, repr=False)
    wake: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def callback_url(self) -> str:
        return str(self.body.get("callBackUrl") or "")

    @property
    def delivered_stages(self) -> list[str]:
        return [c.stage for c in self.callbacks if c.delivered]

    def record_info(self, base_url: str) -> dict[str, Any]:
        """The ``data`` of GET record-info; ``response`` is null until the task has tracks."""
        response = None
        if self.stages_reached:
            response = {"taskId": self.task_id, "sunoData": [t.record_item(base_url) for t in self.tracks]}
        return {
            "taskId": self.task_id,
            "parentMusicId": str(self.body.get("audioId") or "") if self.kind == "extend" else "",
            "param": json.dumps(self.body, ensure_ascii=False),
            "response": response,
            "status": self.status,
            "type": TASK_TYPES[self.kind],
            "operationType": self.kind,
            "errorCode": self.error_code,
            "errorMessage": self.error_message,
        }


# --- tracks -------------------------------------------------------------------------------------


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _title_from(description: str) -> str:
    words = re.findall(r"[\w']+", description)[:5]
    return " ".join(w.capitalize() for w in words)[:60] or "Untitled"


def _lyrics_from(description: str) -> str:
    words = re.findall(r"[\w']+", description.lower())[:8] or ["la", "la", "la"]
    line = " ".join(words)
    hook = max(words, key=len)
    return f"[Verse]\n{line}\nsinging all night long\n\n[Chorus]\n{hook}, {hook}\noh {hook}"


def _texts(kind: str, body: dict[str, Any], source: EmulatedTrack | None) -> tuple[str, str, str]:
    """(title, tags, lyrics) the way the provider fills them: the request's own when given."""
    prompt = str(body.get("prompt") or "")
    custom = body.get("customMode") is True or body.get("defaultParamFlag") is True
    instrumental = kind in INSTRUMENTAL_KINDS or body.get("instrumental") is True
    title = str(body.get("title") or "") or (source.title if source else "") or _title_from(prompt)
    tags = str(body.get("style") or body.get("tags") or "") or (source.tags if source else "")
    if not tags:
        tags = "dreamy synth-pop, warm bass"
    if instrumental:
        lyrics = ""
    elif kind in REMAKE_KINDS:
        lyrics = str(body.get("fullLyrics") or "") or (source.prompt if source else "")
    elif (custom or kind == "add_vocals") and prompt:
        lyrics = prompt
    else:
        lyrics = _lyrics_from(prompt or title)
    return title, tags, lyrics


def build_tracks(
    task: EmulatedTask,
    *,
    variant: int,
    track_seconds: float,
    track_bytes: int | None,
    source: EmulatedTrack | None,
) -> list[EmulatedTrack]:
    """Two real MP3s with distinct tones (``variant`` rotates them so tasks differ) and covers."""
    title, tags, lyrics = _texts(task.kind, task.body, source)
    if task.script.no_tags:
        tags = ""
    if source is not None and task.kind in REMAKE_KINDS:
        track_seconds = source.duration
    tracks = []
    for index in range(2):
        frequency = _TRACK_FREQUENCIES[(variant * 2 + index) % len(_TRACK_FREQUENCIES)]
        if track_bytes:
            # Big files are few and expensive, so only two tones are ever made (and cached).
            audio = make_big_mp3(track_bytes, frequency=_TRACK_FREQUENCIES[index])
        else:
            audio = make_mp3(track_seconds, frequency=frequency)
        tracks.append(
            EmulatedTrack(
                id=str(uuid.uuid4()),
                model=task.model,
                title=title,
                tags=tags,
                prompt=lyrics,
                create_time=_now_text(),
                duration=round(mp3_duration(audio), 2),
                audio=audio,
                image=make_jpeg(256, 256, seed=variant * 2 + index),
            )
        )
    return tracks


# --- downloads ----------------------------------------------------------------------------------


class _HashingSink:
    """Writes a download to disk while hashing it, so big files never sit whole in memory.

    Local-disk writes of 64 KiB chunks are short enough to do on the loop in a test emulator."""

    def __init__(self, path: Path) -> None:
        self._file: BinaryIO = path.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.digest.update(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        self._file.close()


def open_sink(path: Path) -> _HashingSink:
    return _HashingSink(path)


async def download_to(
    session: aiohttp.ClientSession, url: str, path: Path, *, max_seconds: float, purpose: str = "task"
) -> DownloadRecord:
    """Stream ``url`` into ``path``; never raises, the record says what happened."""
    sink = open_sink(path)
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=max_seconds)) as response:
            if response.status != 200:
                return DownloadRecord(url, response.status, None, 0, f"HTTP {response.status}", purpose)
            async for chunk in response.content.iter_chunked(_CHUNK):
                sink.write(chunk)
            return DownloadRecord(url, 200, sink.digest.hexdigest(), sink.size, None, purpose)
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
        return DownloadRecord(url, None, None, sink.size, f"{type(error).__name__}: {error}", purpose)
    finally:
        sink.close()


def audio_duration(path: Path) -> float | None:
    """Duration in seconds of an audio file mutagen understands, or None when it is not audio."""
    try:
        parsed = mutagen.File(path)
    except mutagen.MutagenError:
        return None
    if parsed is None or parsed.info is None:
        return None
    return float(parsed.info.length)


def upload_problem(task: EmulatedTask, duration: float | None) -> tuple[int, str] | None:
    """The documented limits of uploaded audio, checked once the provider has the bytes."""
    if duration is None:
        return 400, "Unsupported audio format of the uploaded file"
    if task.kind in ("upload_cover", "upload_extend"):
        limit = MAX_UPLOAD_SECONDS_V4_5ALL if task.model == "V4_5ALL" else MAX_UPLOAD_SECONDS
        if duration > limit:
            return 400, f"Uploaded audio is too long ({duration:.0f} s > {limit} s for {task.model})"
    continue_at = task.body.get("continueAt")
    extends_at = task.kind == "upload_extend" and task.body.get("defaultParamFlag") is True
    if extends_at and isinstance(continue_at, int | float) and continue_at >= duration:
        return 400, f"continueAt must be less than the uploaded audio's duration ({duration:.2f} s)"
    return None


# --- the task runner ----------------------------------------------------------------------------


class TaskHost(Protocol):
    """What a running task needs from the emulator that owns it."""

    url: str
    stage_delays: tuple[float, float, float]
    callback_retries: int
    callback_timeout: float
    variants: PayloadVariants

    @property
    def http(self) -> aiohttp.ClientSession: ...

    def notify(self) -> None: ...

    def refund(self, task: EmulatedTask) -> None: ...

    async def fetch_upload(
        self, task: EmulatedTask, *, url: str | None = None, part: str = ""
    ) -> tuple[int, str] | None: ...


async def run_task(host: TaskHost, task: EmulatedTask) -> None:
    await _TaskRun(host, task).run()


class _TaskRun:
    def __init__(self, host: TaskHost, task: EmulatedTask) -> None:
        self.host = host
        self.task = task
        self.script = task.script
        self.outbox: asyncio.Queue[CallbackRecord | None] = asyncio.Queue()
        self.held_back: list[CallbackRecord] = []

    async def run(self) -> None:
        sender = asyncio.create_task(self._send_callbacks(), name=f"callbacks-{self.task.task_id}")
        try:
            await self._progress()
            self._flush_held_back()
            self.outbox.put_nowait(None)
            await sender
        finally:
            if not sender.done():  # only when the emulator closes and cancels us
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender

    async def _progress(self) -> None:
        task = self.task
        fetch = SOURCE_FETCHES.get(task.kind)
        if task.kind in UPLOAD_KINDS or fetch is not None:
            problem = await (fetch(self.host, task) if fetch is not None else self.host.fetch_upload(task))
            if problem:
                self._fail(*problem, status="CREATE_TASK_FAILED")
                return
        await self._hold()
        if self._take_failure_override():
            return
        if task.kind in UPLOAD_KINDS and self.script.fail_with and task.override is None:
            self._fail(*self.script.fail_with)
            return
        start = time.monotonic()
        delays = dict(
            zip(("text", "first", "complete"), self.script.delays or self.host.stage_delays, strict=True)
        )
        stages = ["complete"] if task.kind in COMPLETE_ONLY_KINDS else ["text", "first", "complete"]
        for position, stage in enumerate(stages):
            await self._sleep_until(start + delays[stage])
            if self._take_failure_override():
                return
            if task.override is None and self._scripted_failure(stage, first=position == 0):
                return
            self._advance(stage)

    async def _hold(self) -> None:
        if not self.script.hold:
            return
        self.task.held = True
        self.host.notify()
        while not self.task.hold_released and self.task.override is None:
            await self.task.wake.wait()
            self.task.wake.clear()
        self.task.held = False

    async def _sleep_until(self, deadline: float) -> None:
        """Wait for a stage's time; complete_now()/fail_now() cut the wait short."""
        while self.task.override is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.task.wake.wait(), remaining)
            self.task.wake.clear()

    def _take_failure_override(self) -> bool:
        override = self.task.override
        if override is None or override[0] != "fail":
            return False
        self._fail(override[1], override[2])
        return True

    def _scripted_failure(self, stage: str, *, first: bool) -> bool:
        if self.script.sensitive and first:
            self._fail(400, SENSITIVE_MESSAGE, status="SENSITIVE_WORD_ERROR")
            return True
        # A kind that reports `complete` only fails there: a scripted failure must not be skipped.
        if self.script.fail_with and (stage == "first" or (first and stage == "complete")):
            self._fail(*self.script.fail_with)
            return True
        return False

    def _advance(self, stage: str) -> None:
        task = self.task
        if stage == "first":
            # Both songs stream from the first stage on; only the first is downloadable yet.
            for track in task.tracks:
                track.stream_ready = True
            task.tracks[0].audio_ready = True
        if stage == "complete":
            for track in task.tracks:
                track.stream_ready = track.audio_ready = True
        task.stages_reached.append(stage)
        task.status = STAGE_STATUS[stage]
        if stage == "complete" and self.script.callback_exception:
            task.status = "CALLBACK_EXCEPTION"
        self._emit(stage, self._stage_payload(stage))
        self.host.notify()

    def _stage_payload(self, stage: str) -> dict[str, Any]:
        tracks: Iterable[EmulatedTrack] = ()
        if stage == "first":
            tracks = self.task.tracks[:1]
        elif stage == "complete":
            tracks = self.task.tracks
        items = [t.callback_item(self.host.url) for t in tracks]
        payload = {
            "code": 200,
            "msg": STAGE_MESSAGES[stage],
            "data": {"callbackType": stage, "task_id": self.task.task_id, "data": items},
        }
        return self.host.variants.callback(payload)

    def _fail(self, code: int, msg: str, *, status: str = "GENERATE_AUDIO_FAILED") -> None:
        task = self.task
        task.status = status
        task.error_code = code
        task.error_message = msg
        if code == REFUND_CODE:
            self.host.refund(task)
        payload = {
            "code": code,
            "msg": msg,
            "data": {"callbackType": "error", "task_id": task.task_id, "data": None},
        }
        self._emit("error", payload)
        self.host.notify()

    # --- callbacks ------------------------------------------------------------------------------

    def _emit(self, stage: str, payload: dict[str, Any]) -> None:
        if self.script.drop_callbacks or stage in self.script.drop_stages or not self.task.callback_url:
            return
        copies = [CallbackRecord(stage, payload) for _ in range(2 if self.script.duplicate else 1)]
        if self.script.reorder and stage in ("text", "first"):
            self.held_back.extend(copies)
            return
        for record in copies:
            self.outbox.put_nowait(record)
        if stage in ("complete", "error"):
            self._flush_held_back()

    def _flush_held_back(self) -> None:
        for record in self.held_back:
            self.outbox.put_nowait(record)
        self.held_back.clear()

    async def _send_callbacks(self) -> None:
        while (record := await self.outbox.get()) is not None:
            self.task.callbacks.append(record)
            self.host.notify()
            await self._deliver(record)

    async def _deliver(self, record: CallbackRecord) -> None:
        """One try plus ``callback_retries`` retries with a doubling pause, then give up."""
        client_timeout = aiohttp.ClientTimeout(total=self.host.callback_timeout)
        for attempt in range(self.host.callback_retries + 1):
            if attempt:
                await asyncio.sleep(0.2 * 2 ** (attempt - 1))
            status, error = await self._post(record.payload, client_timeout)
            record.attempts.append(CallbackAttempt(time.monotonic(), status, error))
            record.delivered = status == 200
            self.host.notify()
            if record.delivered:
                return
        record.abandoned = True
        self.host.notify()

    async def _post(
        self, payload: dict[str, Any], client_timeout: aiohttp.ClientTimeout
    ) -> tuple[int | None, str | None]:
        try:
            url = self.task.callback_url
            async with self.host.http.post(url, json=payload, timeout=client_timeout) as response:
                await response.read()
                return response.status, None
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            return None, f"{type(error).__name__}: {error}"
