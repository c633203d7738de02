"""POST /api/v1/lyrics (provider-tools.md §2): lyric variants for an idea, as a task.

The prompt is limited to 200 words (no character count is documented); two variants come back. The
callback is one `complete` stage, `data: {callbackType, taskId, data: [{text, title, status,
errorMessage}]}`, or `callbackType: error` with `data: null`; record-info reports `status` (a string)
and the variants under `response.data`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from emulators.provider.rules import RuleError, _string, _url
from emulators.provider.studio.files import StudioFile, StudioHost, StudioTask

ENDPOINT = "lyrics"
RECORD_PATH = "lyrics/record-info"
FAILED_FLAG = "GENERATE_LYRICS_FAILED"
COST = 1  # undocumented (§18.12)
WORD_LIMIT = 200


def check(body: Mapping[str, Any], host: StudioHost) -> int:
    prompt = _string(body, "prompt", required=True)
    assert prompt is not None
    _url(body, "callBackUrl")
    if len(prompt.split()) > WORD_LIMIT:
        raise RuleError(413, f"prompt is too long: at most {WORD_LIMIT} words")
    return COST


def make_files(task: StudioTask, host: StudioHost) -> list[StudioFile]:
    words = re.findall(r"[\w']+", str(task.body["prompt"]).lower())[:6] or ["la"]
    hook = max(words, key=len)
    variants = [
        (hook.title(), f"[Verse]\n{' '.join(words)}\nunder the city lights\n\n[Chorus]\n{hook}, oh {hook}"),
        (
            f"{hook.title()} Again",
            f"[Verse]\nwhen the {hook} comes\n{' '.join(words)}\n\n[Chorus]\n{hook} tonight",
        ),
    ]
    return [
        StudioFile(title, f"{task.task_id}-{i}.txt", text.encode(), "text/plain")
        for i, (title, text) in enumerate(variants)
    ]


def _variants(task: StudioTask) -> list[dict[str, Any]]:
    return [
        {"text": f.data.decode(), "title": f.key, "status": "complete", "errorMessage": ""}
        for f in task.files
    ]


def callback(task: StudioTask, base_url: str) -> dict[str, Any]:
    if task.success_flag != "SUCCESS":
        return {
            "code": task.error_code or 500,
            "msg": task.error_message or "Lyrics generation failed",
            "data": {"callbackType": "error", "taskId": task.task_id, "data": None},
        }
    return {
        "code": 200,
        "msg": "All generated successfully.",
        "data": {"callbackType": "complete", "taskId": task.task_id, "data": _variants(task)},
    }


def record(task: StudioTask, base_url: str) -> dict[str, Any]:
    done = task.success_flag == "SUCCESS"
    return {
        "taskId": task.task_id,
        "param": json.dumps({"prompt": task.body.get("prompt")}),
        "response": {"taskId": task.task_id, "data": _variants(task)} if done else None,
        "status": task.success_flag,
        "type": "LYRICS",
        "errorCode": task.error_code,
        "errorMessage": task.error_message,
    }
