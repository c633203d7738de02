"""POST /api/v1/vocal-removal/generate (provider-tools.md §4): vocals + instrumental, or up to 12 stems.

Callback `data: {task_id, vocal_removal_info: {<stem>_url...}}` (snake_case, `origin_url` empty), record
-info with camelCase twins under `response` and unused stems `null`; every call is charged again, by type.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulators.audio_fixtures import make_mp3
from emulators.provider.rules import RuleError
from emulators.provider.studio.files import StudioFile, StudioHost, StudioTask, epoch_ms

ENDPOINT = "vocal-removal/generate"
RECORD_PATH = "vocal-removal/record-info"
FAILED_FLAG = "GENERATE_AUDIO_FAILED"
COSTS = {"separate_vocal": 10, "split_stem": 50, "split_stem_advanced": 20}
SEPARATE = ("vocal", "instrumental")
SPLIT = (
    "vocal",
    "backing_vocals",
    "drums",
    "bass",
    "guitar",
    "keyboard",
    "percussion",
    "strings",
    "synth",
    "fx",
    "brass",
    "woodwinds",
)
ALL_KEYS = ("origin", "instrumental", *SPLIT)


def check(body: Mapping[str, Any], host: StudioHost) -> int:
    host.music_track(body)
    kind = body.get("type", "separate_vocal")
    if kind not in COSTS:
        raise RuleError(400, "type must be one of separate_vocal, split_stem, split_stem_advanced")
    if kind == "split_stem_advanced" and not isinstance(body.get("stemName"), str):
        raise RuleError(400, "stemName is required for split_stem_advanced")
    return COSTS[kind]


def make_files(task: StudioTask, host: StudioHost) -> list[StudioFile]:
    stems = SPLIT if task.body.get("type") == "split_stem" else SEPARATE
    return [
        StudioFile(f"{stem}_url", f"{task.task_id}-{stem}.mp3", make_mp3(0.5, frequency=220 + 40 * i))
        for i, stem in enumerate(stems)
    ]


def _urls(task: StudioTask, base_url: str) -> dict[str, str]:
    return {f.key: f"{base_url}/media/studio/{f.name}" for f in task.files}


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def callback(task: StudioTask, base_url: str) -> dict[str, Any]:
    if task.success_flag != "SUCCESS":
        return {
            "code": task.error_code or 500,
            "msg": task.error_message,
            "data": {"task_id": task.task_id, "vocal_removal_info": None},
        }
    info: dict[str, Any] = {"origin_url": "", **_urls(task, base_url)}
    return {
        "code": 200,
        "msg": "vocal Removal generated successfully.",
        "data": {"task_id": task.task_id, "vocal_removal_info": info},
    }


def record(task: StudioTask, base_url: str) -> dict[str, Any]:
    urls = _urls(task, base_url)
    response = {_camel(f"{key}_url"): urls.get(f"{key}_url") for key in ALL_KEYS} if task.files else None
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
        "response": response,
        "originData": [],
    }
