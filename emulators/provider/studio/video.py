"""POST /api/v1/mp4/generate (provider-tools.md §6): a music video of a track.

`author` and `domainName` at most 50 characters; callback `data: {task_id, video_url}`, record-info with
`response.videoUrl` and epoch-millisecond times.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulators.provider.rules import RuleError, _string
from emulators.provider.studio.files import StudioFile, StudioHost, StudioTask, epoch_ms

ENDPOINT = "mp4/generate"
RECORD_PATH = "mp4/record-info"
FAILED_FLAG = "GENERATE_MP4_FAILED"
COST = 2  # undocumented (§18.12): a small figure of our own
TEXT_LIMIT = 50
# The smallest MP4 a player opens: an ftyp box (the content is not what tests look at).
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 2048


def check(body: Mapping[str, Any], host: StudioHost) -> int:
    host.music_track(body)
    for name in ("author", "domainName"):
        value = _string(body, name, required=False)
        if value is not None and len(value) > TEXT_LIMIT:
            raise RuleError(400, f"{name} must be at most {TEXT_LIMIT} characters")
    return COST


def make_files(task: StudioTask, host: StudioHost) -> list[StudioFile]:
    return [StudioFile("video_url", f"{task.task_id}.mp4", MP4, "video/mp4")]


def _url(task: StudioTask, base_url: str) -> str | None:
    return f"{base_url}/media/studio/{task.files[0].name}" if task.files else None


def callback(task: StudioTask, base_url: str) -> dict[str, Any]:
    if task.success_flag != "SUCCESS":
        return {
            "code": task.error_code or 500,
            "msg": task.error_message,
            "data": {"task_id": task.task_id, "video_url": None},
        }
    return {
        "code": 200,
        "msg": "MP4 generated successfully.",
        "data": {"task_id": task.task_id, "video_url": _url(task, base_url)},
    }


def record(task: StudioTask, base_url: str) -> dict[str, Any]:
    return {
        "taskId": task.task_id,
        "musicId": task.body.get("audioId"),
        "callbackUrl": task.body.get("callBackUrl"),
        "musicIndex": 0,
        "completeTime": epoch_ms(task.created) if task.success_flag != "PENDING" else None,
        "createTime": epoch_ms(task.created),
        "errorCode": task.error_code,
        "errorMessage": task.error_message,
        "successFlag": task.success_flag,
        "response": {"videoUrl": _url(task, base_url)} if task.files else None,
    }
