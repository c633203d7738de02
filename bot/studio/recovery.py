"""Recovery: a finished song's lost audio asked for again (provider-tools.md §14), never by the person.

When a finished task reports a track with no audio, or a track's audio keeps failing to download, the
bot asks `POST /api/v1/suno/recovery` for fresh links to the task's tracks before it tells anyone that
a track failed. It runs as a task of its own (storage/recovery.py makes it, once per music task, with
no credits held and no progress message), so its request, callback and polls are as durable as any
other's. The shapes are the endpoint's own: the sync answer's `data.task_id`, and a callback and a
record-info with the task id at the top and `data` a list of items in track order, each `{id (the
original audio id), audio_url, title, status: success|failed, error}`. Record-info's code is a state:
201 running (data null), 200 finished with at least one success, 500 all failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import model_validator

from bot.provider.models import ProviderRequest, ProviderSnapshot, first_text
from bot.studio.tool import Tool, failed, http_url
from storage.models import FileData, Stage, TaskKind

RECORD_PATH = "/api/v1/suno/recovery/record-info"
RUNNING, DONE, ALL_FAILED = 201, 200, 500
# The per-track errors the docs list (§14); each has its own wording (`recovery.reason.<error>`), and
# anything else the generic one.
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
UNKNOWN_ERROR = "unknown"
# A "success" item that carries no usable link recovered nothing.
NO_LINK = "no_link"


class RecoveryRequest(ProviderRequest):
    """sunoTaskId: the original music task's id (never a recovery's); the client adds callBackUrl."""

    endpoint: ClassVar[str] = "/api/v1/suno/recovery"

    suno_task_id: str

    @model_validator(mode="after")
    def _rules(self) -> RecoveryRequest:
        self._require("suno_task_id")
        return self


def reason_key(error: str | None) -> str:
    """The catalogue key that says, in words, why a track could not be recovered."""
    if error in ERRORS or error == NO_LINK:
        return f"recovery.reason.{error}"
    if error == "failed":  # the recovery itself failed (storage/recovery.py FAILED_REASON)
        return "recovery.reason.failed"
    return f"recovery.reason.{UNKNOWN_ERROR}"


def _items(body: Mapping[str, Any]) -> list[FileData]:
    """Each item as a result named by its audio id: its fresh URL, or (no URL) its error as the text."""
    data = body.get("data")
    if data is None:
        return []
    if not isinstance(data, list):
        raise ValueError("recovery data that is not a list")
    files: list[FileData] = []
    for item in data:
        if not isinstance(item, Mapping):
            raise ValueError("a recovery item that is not an object")
        audio_id = first_text(item, ("id", "audioId", "audio_id"))
        if audio_id is None:
            raise ValueError("a recovery item naming no track")
        title = first_text(item, ("title",)) or ""
        url = http_url(item.get("audio_url") or item.get("audioUrl"))
        if str(item.get("status") or "").strip().lower() == "success" and url is not None:
            files.append(FileData(name=audio_id, media="audio", url=url, title=title))
            continue
        error = first_text(item, ("error",))
        if error is None and str(item.get("status") or "").lower() == "success":
            error = NO_LINK
        files.append(FileData(name=audio_id, media="audio", text=error or UNKNOWN_ERROR, title=title))
    return files


def read(body: dict[str, Any]) -> ProviderSnapshot:
    """A callback or a record-info (the whole envelope): the same top-level shape, the same reading.

    201 is still running; 200 or 500 with items is the end, every item's outcome kept (500 says they all
    failed, and each says why); 500 with nothing, or any other code, is the recovery failing.
    """
    task_id = first_text(body, ("task_id", "taskId"))
    if task_id is None:
        raise ValueError("a recovery report naming no task")
    code = body.get("code")
    if code == RUNNING:
        return ProviderSnapshot(task_id=task_id, stage=Stage.SUBMITTED)
    files = _items(body) if code in (DONE, ALL_FAILED) else []
    if files:
        return ProviderSnapshot(task_id=task_id, stage=Stage.COMPLETE, files=files)
    return failed(task_id, body)


TOOL = Tool(
    kind=TaskKind.RECOVERY,
    request=RecoveryRequest,
    poll_path=RECORD_PATH,
    poll_query="task_id",
    read_callback=read,
    read_record=read,
    poll_answers=frozenset({RUNNING, DONE, ALL_FAILED}),
    resend_unknown=True,  # asking again for links to the same song is harmless and free
)
