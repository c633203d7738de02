"""POST /api/v1/wav/generate (provider-tools.md §5): taskId + audioId + callBackUrl, one per track.

Callback `data: {audioWavUrl, task_id}` (the mixed casing kept), record-info with a string successFlag
and "YYYY-MM-DD HH:MM:SS" times; a second conversion of the same track answers 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulators.audio_fixtures import make_wav
from emulators.provider.rules import RuleError
from emulators.provider.studio.files import StudioFile, StudioHost, StudioTask, text_time

ENDPOINT = "wav/generate"
RECORD_PATH = "wav/record-info"
FAILED_FLAG = "GENERATE_WAV_FAILED"
COST = 2  # undocumented (§18.12): a small figure of our own


def check(body: Mapping[str, Any], host: StudioHost) -> int:
    host.music_track(body)
    done = [t for t in host.tasks.values() if t.tool == ENDPOINT and t.body.get("audioId") == body["audioId"]]
    if done:
        raise RuleError(409, "WAV record already exists")
    return COST


def make_files(task: StudioTask, host: StudioHost) -> list[StudioFile]:
    return [StudioFile("audioWavUrl", f"{task.task_id}.wav", make_wav(1.0), "audio/wav")]


def _url(task: StudioTask, base_url: str) -> str | None:
    return f"{base_url}/media/studio/{task.files[0].name}" if task.files else None


def callback(task: StudioTask, base_url: str) -> dict[str, Any]:
    if task.success_flag != "SUCCESS":
        return {
            "code": task.error_code or 500,
            "msg": task.error_message,
            "data": {"audioWavUrl": None, "task_id": task.task_id},
        }
    return {
        "code": 200,
        "msg": "success",
        "data": {"audioWavUrl": _url(task, base_url), "task_id": task.task_id},
    }


def record(task: StudioTask, base_url: str) -> dict[str, Any]:
    return {
        "taskId": task.task_id,
        "musicId": task.body.get("audioId"),
        "callbackUrl": task.body.get("callBackUrl"),
        "completeTime": text_time(task.created) if task.success_flag != "PENDING" else None,
        "createTime": text_time(task.created),
        "errorCode": task.error_code,
        "errorMessage": task.error_message,
        "successFlag": task.success_flag,
        "response": {"audioWavUrl": _url(task, base_url)} if task.files else None,
    }
