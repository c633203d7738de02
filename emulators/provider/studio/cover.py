"""POST /api/v1/suno/cover/generate (provider-tools.md §7): cover art of a finished music task.

taskId (the music task) + callBackUrl; one cover per music task: a repeat is refused with a 400 carrying
the earlier cover's `data.taskId` (a failed one does not count). This endpoint's own codes: 402 for
credits, 422 for validation. Callback `data: {taskId, images}` (camelCase), `images: null` on failure;
record-info with an INTEGER successFlag (0 pending, 2 generating, 1 success, 3 failed), ISO times and
`response.images`. The images are two real JPEGs of different colours, 600x600 (larger than a thumbnail).
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from PIL import Image

from emulators.provider.rules import RuleError, _string, _url
from emulators.provider.studio.files import StudioFile, StudioHost, StudioTask

ENDPOINT = "suno/cover/generate"
RECORD_PATH = "suno/cover/record-info"
FAILED_FLAG = "FAILED"
REPEAT_CODE, REPEAT_MSG = 400, "Cover already generated for this task"
NO_CREDITS_CODE = 402
COST = 1  # undocumented: a small figure of our own
SIDE = 600
COLOURS = ((200, 60, 40), (40, 90, 200))
FLAGS = {"PENDING": 0, "SUCCESS": 1, FAILED_FLAG: 3}


def check(body: Mapping[str, Any], host: StudioHost) -> int:
    try:
        task_id = _string(body, "taskId", required=True)
        _url(body, "callBackUrl")
    except RuleError as error:
        raise RuleError(422, error.msg) from None
    music = host.emulator.tasks.get(str(task_id))
    if music is None:
        raise RuleError(404, f"taskId {task_id} not found")
    # "Call this only after the music task has finished" [C].
    if music.status != "SUCCESS" or not all(t.audio_ready for t in music.tracks):
        raise RuleError(422, "the music task has not finished")
    return COST


def existing(body: Mapping[str, Any], host: StudioHost) -> str | None:
    """The cover task already made (or being made) for this music task."""
    return next(
        (
            t.task_id
            for t in host.tasks.values()
            if t.tool == ENDPOINT
            and t.body.get("taskId") == body.get("taskId")
            and t.success_flag != FAILED_FLAG
        ),
        None,
    )


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", (SIDE, SIDE), colour)
    # A second shape, so the image is no flat colour a decoder could special-case.
    image.paste((255, 255, 255), (SIDE // 4, SIDE // 4, SIDE // 2, SIDE // 2))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90)
    return out.getvalue()


def make_files(task: StudioTask, host: StudioHost) -> list[StudioFile]:
    return [
        StudioFile(f"image{i}", f"{task.task_id}-{i}.jpeg", _jpeg(colour), "image/jpeg")
        for i, colour in enumerate(COLOURS, 1)
    ]


def _urls(task: StudioTask, base_url: str) -> list[str] | None:
    return [f"{base_url}/media/studio/{f.name}" for f in task.files] if task.files else None


def callback(task: StudioTask, base_url: str) -> dict[str, Any]:
    if task.success_flag != "SUCCESS":
        return {
            "code": task.error_code or 501,
            "msg": task.error_message or "Cover generation failed",
            "data": {"taskId": task.task_id, "images": None},
        }
    return {"code": 200, "msg": "success", "data": {"taskId": task.task_id, "images": _urls(task, base_url)}}


def _iso(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(moment * 1000) % 1000:03d}Z"
    )


def record(task: StudioTask, base_url: str) -> dict[str, Any]:
    flag = FLAGS[task.success_flag]
    if flag == 0 and time.time() - task.created > 0.1:
        flag = 2  # generating
    failed = task.success_flag == FAILED_FLAG
    return {
        "taskId": task.task_id,
        "parentTaskId": task.body.get("taskId"),
        "callbackUrl": task.body.get("callBackUrl"),
        "completeTime": _iso(time.time()) if task.success_flag != "PENDING" else None,
        "response": {"images": _urls(task, base_url)} if task.files else None,
        "successFlag": flag,
        "createTime": _iso(task.created),
        "errorCode": 500 if failed else 200,
        "errorMessage": (task.error_message or "") if failed else "",
    }
