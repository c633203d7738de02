"""What the tools applied to a delivered track share: its request fields and the file readers.

WAV, vocal separation and video all take the music task's id and the track's id, answer with a task
id, and report a file (or files) under `data` with the task id as `task_id` (provider-tools.md §1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import model_validator

from bot.provider.models import ProviderRequest, ProviderSnapshot, first_text
from bot.studio.tool import failed, flag_stage, http_url
from storage.models import FileData, Stage, Task, Track

# The record-info `successFlag` strings of WAV, vocal removal and MP4 (failures are every other value).
PENDING_FLAGS = ("PENDING",)


class TrackToolRequest(ProviderRequest):
    """taskId + audioId: the music task that made the track, and the track."""

    task_id: str
    audio_id: str

    @model_validator(mode="after")
    def _ids(self) -> TrackToolRequest:
        # Every tool on a track needs both ids; a subclass's own rules come on top of this one.
        self._require("task_id", "audio_id")
        return self


def track_fields(task: Task, track: Track) -> dict[str, Any]:
    return {"task_id": task.provider_task_id, "audio_id": track.audio_id}


FilesOf = Callable[[Mapping[str, Any]], list[FileData]]


def callback_reader(
    files_of: FilesOf, *, keys: tuple[str, ...] = ()
) -> Callable[[dict[str, Any]], ProviderSnapshot]:
    """A callback `{code, msg, data: {task_id, ...}}`: its files on 200, a failure otherwise."""

    def read(body: dict[str, Any]) -> ProviderSnapshot:
        data = body.get("data")
        data = data if isinstance(data, Mapping) else {}
        task_id = first_text(data, ("task_id", "taskId")) or first_text(body, ("task_id", "taskId"))
        if task_id is None:
            raise ValueError("a callback naming no task")
        files = files_of(data) if body.get("code") == 200 else []
        if not files:
            return failed(task_id, body)
        return ProviderSnapshot(task_id=task_id, stage=Stage.COMPLETE, files=files)

    return read


def record_reader(
    files_of: FilesOf, *, success: object = "SUCCESS", pending: tuple[object, ...] = PENDING_FLAGS
) -> Callable[[dict[str, Any]], ProviderSnapshot]:
    """A record-info `data` with a `successFlag` (the string enum by default) and the result under
    `response` (camelCase)."""

    def read(data: dict[str, Any]) -> ProviderSnapshot:
        task_id = first_text(data, ("taskId", "task_id"))
        if task_id is None:
            raise ValueError("record-info naming no task")
        stage = flag_stage(data.get("successFlag"), success=success, pending=pending)
        response = data.get("response")
        files = files_of(response) if isinstance(response, Mapping) else []
        if stage is Stage.COMPLETE and files:
            return ProviderSnapshot(task_id=task_id, stage=stage, files=files)
        if stage is Stage.FAILED:
            code = data.get("errorCode")
            body = {"code": code if isinstance(code, int) else 501, "data": data}
            return failed(task_id, body, default_code=501)
        return ProviderSnapshot(task_id=task_id, stage=Stage.SUBMITTED)

    return read


def url_under(data: Mapping[str, Any], *keys: str) -> str | None:
    return next((url for key in keys if (url := http_url(data.get(key)))), None)
