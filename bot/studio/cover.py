"""Cover art of a delivered track's song (provider-tools.md §7), and Use as cover.

The provider makes one cover per music task (usually two images): it takes the music task's id only, and
asking again is refused with a 400 (or 409) that names the cover task it made before. So the bot asks
once: a person who already has cover art for the song (from this track or its sibling) is shown it again
from storage, and a refusal naming a task is adopted and polled (bot/tasks/submitter.py) for when our
record of it was lost. This endpoint has its own code list: 402 is out of credits and 429 rate limited,
the other way round from the shared table. Record-info's `successFlag` is an integer.

The images come as photos, each with Use as cover (an album carries no buttons: a small message after it
has one per image). Pressing one re-sends the track's audio with that image as its thumbnail, through the
work item `deliver:cover:<track>:<image>` (bot/chat/deliveries.py): durable, retried, and once per press.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from pydantic import model_validator
from pydantic_core import PydanticCustomError
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Texts
from bot.provider.errors import INSUFFICIENT_CREDITS
from bot.provider.models import ProviderRequest, ProviderSnapshot
from bot.studio.tool import Tool, http_url
from bot.studio.track_tools import callback_reader, record_reader
from bot.tasks.work_queue import WorkQueue
from storage.models import FileData, ResultFile, Stage, Task, TaskKind, Track
from storage.results import COVER_TOPIC
from storage.store import Storage
from storage.work import Kind, NewWork

RATE_LIMITED = 430  # the shared "busy" code (bot/provider/errors.py): nothing was made, try later
# The integer successFlag: 0 pending, 1 success, 2 generating, 3 failed.
SUCCESS_FLAG, PENDING_FLAGS = 1, (0, 2)
USE_COVER = "usecov"  # callback data `usecov:<image file id>:<track id>`
ROW = 2


class CoverRequest(ProviderRequest):
    """taskId: the music task; the callBackUrl is added by the client. Nothing else is taken."""

    endpoint: ClassVar[str] = "/api/v1/suno/cover/generate"
    codes: ClassVar[Mapping[int, int]] = {402: INSUFFICIENT_CREDITS, 429: RATE_LIMITED, 422: 400}

    task_id: str
    # Ours, never sent: the track Cover art was pressed under, whose audio Use as cover re-sends.
    audio_id: str | None = None

    @model_validator(mode="after")
    def _rules(self) -> CoverRequest:
        self._require("task_id")
        for name in ("negative_tags", "vocal_gender", "style_weight", "weirdness_constraint", "audio_weight"):
            if getattr(self, name) is not None:
                raise PydanticCustomError("not_taken", "{field} is not taken by cover art", {"field": name})
        return self

    def body(self, callback_url: str) -> dict[str, Any]:
        data = super().body(callback_url)
        data.pop("audioId", None)
        return data


def _files(data: Mapping[str, Any]) -> list[FileData]:
    images = data.get("images")
    urls = [url for item in images if (url := http_url(item))] if isinstance(images, list) else []
    return [
        FileData(name=f"cover-{i}{_extension(url)}", media="photo", url=url, title=f"{i}")
        for i, url in enumerate(urls, 1)
    ]


def _extension(url: str) -> str:
    found = re.search(r"\.(png|jpe?g|webp)$", url.split("?", 1)[0], flags=re.IGNORECASE)
    return f".{found.group(1).lower()}" if found else ".png"


_read_record = record_reader(_files, success=SUCCESS_FLAG, pending=PENDING_FLAGS)


def read_record(data: dict[str, Any]) -> ProviderSnapshot:
    """Record-info; a flag written as a string ("1") is read as its integer."""
    flag = data.get("successFlag")
    if isinstance(flag, str) and flag.strip().isdigit():
        data = {**data, "successFlag": int(flag)}
    return _read_record(data)


def cover_fields(task: Task, track: Track) -> dict[str, Any]:
    return {"task_id": task.provider_task_id, "audio_id": track.audio_id}


# ---- what the person has already ------------------------------------------------------------------


async def covers_of(storage: Storage, user_id: int, music_task_id: str) -> list[Task]:
    """The person's cover tasks (not failed) for this music task, oldest first."""
    tasks = await storage.tasks.not_failed_of_kind(user_id, TaskKind.COVER_ART)
    return [t for t in tasks if t.params.get("taskId") == music_task_id]


async def existing_cover(
    storage: Storage, texts: Texts, task: Task, track: Track
) -> tuple[str, InlineKeyboardMarkup | None] | None:
    """Cover art this song already has: its images offered for this track, or word that it is coming."""
    if task.provider_task_id is None:
        return None
    for cover in await covers_of(storage, task.user_id, task.provider_task_id):
        images = [f for f in await storage.results.files(cover.id) if f.media == "photo"]
        if cover.stage is Stage.COMPLETE and images:
            return texts("cover.have", title=track.title), use_cover_keyboard(texts, images, track.id)
        if cover.stage is not Stage.COMPLETE:
            return texts("cover.coming"), None
    return None


def use_cover_keyboard(texts: Texts, images: Sequence[ResultFile], track_id: int) -> InlineKeyboardMarkup:
    """Use as cover under one image; Use cover 1, 2… (one per image) for an album's."""
    if len(images) == 1:
        label = [texts("button.use_cover")]
    else:
        label = [texts("button.use_cover_n", n=i) for i in range(1, len(images) + 1)]
    buttons = [
        InlineKeyboardButton(text, callback_data=f"{USE_COVER}:{image.id}:{track_id}")
        for text, image in zip(label, images, strict=True)
    ]
    return InlineKeyboardMarkup([buttons[i : i + ROW] for i in range(0, len(buttons), ROW)])


async def track_of(storage: Storage, cover: Task) -> Track | None:
    audio_id = cover.params.get("audioId")
    return await storage.tasks.track_by_audio_id(str(audio_id)) if audio_id else None


# ---- Use as cover ---------------------------------------------------------------------------------


async def use_cover(
    storage: Storage, queue: WorkQueue, *, user_id: int, image_id: int, track_id: int, now: float
) -> str:
    """Queue the track's audio to be sent again with this image as its thumbnail; the answer's key.

    A press already queued (or done) is not queued again: a quick second tap sends nothing twice. One
    that failed for good (the person was told) is tried afresh.
    """
    image = await storage.results.file(image_id)
    cover = await storage.tasks.get(image.task_id) if image is not None else None
    track = await storage.tasks.track(track_id)
    music = await storage.tasks.get(track.task_id) if track is not None else None
    if (
        image is None
        or image.media != "photo"
        or not image.url
        or cover is None
        or cover.kind is not TaskKind.COVER_ART
        or cover.user_id != user_id
        or track is None
        or music is None
        or music.user_id != user_id
        or music.provider_task_id != cover.params.get("taskId")
        or not track.audio_url
        or track.sent_at is None
    ):
        return "studio.gone"
    work = NewWork(Kind.DELIVER, image.id, music.id, music.chat_id, now, topic=f"{COVER_TOPIC}:{track.id}")
    written = await queue.want([work])
    if not written and await storage.work.forget_failed(work.key):
        written = await queue.want([work])
    return "cover.resending" if written else "cover.resent_already"


def cover_refs(key: str) -> tuple[int, int] | None:
    """The track and the image a `deliver:cover:<track>:<image>` key names, or None for other keys."""
    parts = key.split(":")
    if len(parts) != 4 or parts[:2] != [Kind.DELIVER.value, COVER_TOPIC]:
        return None
    return int(parts[2]), int(parts[3])


TOOL = Tool(
    kind=TaskKind.COVER_ART,
    request=CoverRequest,
    poll_path="/api/v1/suno/cover/record-info",
    read_callback=callback_reader(_files),
    read_record=read_record,
    button="button.cover_art",
    code="cov",
    from_track=cover_fields,
    repeat_codes=(400, 409),
    existing=existing_cover,
)
