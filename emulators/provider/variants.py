"""Payload shapes the provider's docs, examples and real answers disagree on (provider-api.md §3.7, §3.9,
§5, §10): the emulator answers in the documented shape unless a test asks for one of these.

``ProviderEmulator.vary(...)`` sets them; they shape what the client hears (answers, record-info, upload
answers, callbacks), never what the emulator accepts or checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

__all__ = ["VARIANTS", "PayloadVariants"]

TaskIdPlace = Literal["data.taskId", "data.task_id", "taskId"]
ReasonKey = Literal["errorMessage", "errorMsg", "failMsg", "msg", "message"]


@dataclass(slots=True)
class PayloadVariants:
    # Where a task-creating answer puts the task id.
    task_id_at: TaskIdPlace = "data.taskId"
    # The upload host's name for the file's URL: the OpenAPI's downloadUrl, or the quickstart's fileUrl.
    upload_url_key: Literal["downloadUrl", "fileUrl"] = "downloadUrl"
    # Documented record-info status -> the status sent instead ("GENERATE_AUDIO_FAILED" -> "FAILED").
    statuses: dict[str, str] = field(default_factory=dict)
    # Where record-info puts a failure's reason (errorMessage is then sent as null).
    reason_key: ReasonKey = "errorMessage"
    # Where an error envelope puts its text.
    message_key: Literal["msg", "message"] = "msg"
    # Items without an id (placeholders while pending) put first in record-info's sunoData and in the
    # data of first/complete callbacks.
    placeholder_tracks: int = 0

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """An envelope as sent: the error text under its key, a task id where it is put."""
        if self.message_key != "msg" and body.get("code") != 200:
            body[self.message_key] = body.pop("msg")
        data = body.get("data")
        if self.task_id_at != "data.taskId" and isinstance(data, dict) and set(data) == {"taskId"}:
            task_id = data["taskId"]
            if self.task_id_at == "data.task_id":
                body["data"] = {"task_id": task_id}
            else:
                body["data"], body["taskId"] = None, task_id
        return body

    def record_info(self, data: dict[str, Any]) -> dict[str, Any]:
        status = data.get("status")
        if isinstance(status, str) and status in self.statuses:
            data["status"] = self.statuses[status]
        if self.reason_key != "errorMessage" and data.get("errorMessage") is not None:
            data[self.reason_key] = data["errorMessage"]
            data["errorMessage"] = None
        response = data.get("response")
        if self.placeholder_tracks and isinstance(response, dict):
            response["sunoData"] = self._placeholders("record") + list(response.get("sunoData") or [])
        return data

    def upload(self, data: dict[str, Any]) -> dict[str, Any]:
        if self.upload_url_key != "downloadUrl":
            data[self.upload_url_key] = data.pop("downloadUrl")
        return data

    def callback(self, payload: dict[str, Any]) -> dict[str, Any]:
        data = payload.get("data")
        if self.placeholder_tracks and isinstance(data, dict) and data.get("data"):
            data["data"] = self._placeholders("callback") + list(data["data"])
        return payload

    def _placeholders(self, shape: Literal["record", "callback"]) -> list[dict[str, Any]]:
        url_keys = ("audioUrl", "streamAudioUrl") if shape == "record" else ("audio_url", "stream_audio_url")
        return [{"id": "", **dict.fromkeys(url_keys, ""), "title": "", "duration": None}] * (
            self.placeholder_tracks
        )


VARIANTS = web.AppKey("payload_variants", PayloadVariants)
