"""Lyrics: `/lyrics <idea>` writes lyric variants (provider-tools.md §2), each sent with **Use these**.

A task like a song's, polled at its own record-info (a string `status`); the variants are texts, each
delivered as a message whose button opens /custom with those lyrics filled in (handlers/forms.py). The
callback's array is read under `data.data` as documented, the old zh-CN `lyricsData` too, with the task
id as `taskId` or kie's `task_id`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import model_validator
from pydantic_core import PydanticCustomError

from bot.provider.models import ProviderRequest, ProviderSnapshot, first_text
from bot.studio.tool import Tool, failed
from storage.models import FileData, Stage, TaskKind

WORD_LIMIT = 200  # "200 words"; no character count is documented (§18.8)
PENDING = ("PENDING",)
USE_BUTTON = "uselyr"  # callback data `uselyr:<file id>`


class LyricsRequest(ProviderRequest):
    endpoint: ClassVar[str] = "/api/v1/lyrics"

    prompt: str

    @model_validator(mode="after")
    def _rules(self) -> LyricsRequest:
        self._require("prompt")
        words = len(self.prompt.split())
        if words > WORD_LIMIT:
            raise PydanticCustomError(
                "too_many_words",
                "{field} is {actual} words; at most {limit}",
                {"field": "prompt", "limit": WORD_LIMIT, "actual": words},
            )
        return self


def _variants(items: object) -> list[FileData]:
    files = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or str(item.get("status") or "complete").lower() != "complete":
            continue
        text = first_text(item, ("text",))
        if text is not None:
            title = first_text(item, ("title",)) or ""
            files.append(FileData(name=f"variant {len(files) + 1}", media="text", text=text, title=title))
    return files


def _read_callback(body: dict[str, Any]) -> ProviderSnapshot:
    data = body.get("data")
    data = data if isinstance(data, Mapping) else {}
    task_id = first_text(data, ("taskId", "task_id")) or first_text(body, ("taskId", "task_id"))
    if task_id is None:
        raise ValueError("a callback naming no task")
    kind = str(data.get("callbackType") or "complete").lower()
    files = _variants(data.get("data") or data.get("lyricsData")) if body.get("code") == 200 else []
    if kind == "error" or not files:
        return failed(task_id, body)
    return ProviderSnapshot(task_id=task_id, stage=Stage.COMPLETE, files=files)


def _read_record(data: dict[str, Any]) -> ProviderSnapshot:
    task_id = first_text(data, ("taskId", "task_id"))
    if task_id is None:
        raise ValueError("record-info naming no task")
    status = str(data.get("status") or "").upper()
    if status in PENDING or not status:
        return ProviderSnapshot(task_id=task_id, stage=Stage.SUBMITTED)
    response = data.get("response")
    files = _variants(response.get("data")) if isinstance(response, Mapping) else []
    if status == "SUCCESS" and files:
        return ProviderSnapshot(task_id=task_id, stage=Stage.COMPLETE, files=files)
    if status == "SUCCESS":  # done, but its variants not yet readable: ask again later
        return ProviderSnapshot(task_id=task_id, stage=Stage.SUBMITTED)
    code = data.get("errorCode")
    return failed(task_id, {"code": code if isinstance(code, int) else 501, "data": data}, default_code=501)


TOOL = Tool(
    kind=TaskKind.LYRICS,
    request=LyricsRequest,
    poll_path="/api/v1/lyrics/record-info",
    read_callback=_read_callback,
    read_record=_read_record,
)
