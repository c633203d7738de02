"""The records storage reads and writes, as pydantic models."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Stage(StrEnum):
    """A task's stages, in the only order they may move (failed is terminal from anywhere)."""

    QUEUED = "queued"
    SUBMITTED = "submitted"
    TEXT = "text"
    FIRST = "first"
    COMPLETE = "complete"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def terminal(self) -> bool:
        return self in (Stage.COMPLETE, Stage.FAILED)

    def advanced_by(self, reported: Stage) -> Stage | None:
        """The stage after an event reporting `reported`, or None when the event changes nothing.

        Stages only move forward: a duplicate, late or out-of-order report is ignored, skipped stages are
        fine, and nothing leaves a terminal stage.
        """
        if self.terminal or reported.rank <= self.rank:
            return None
        return reported


_RANK = {
    Stage.QUEUED: 0,
    Stage.SUBMITTED: 1,
    Stage.TEXT: 2,
    Stage.FIRST: 3,
    Stage.COMPLETE: 4,
    Stage.FAILED: 4,
}


class TaskKind(StrEnum):
    GENERATE = "generate"
    CUSTOM = "custom"
    EXTEND = "extend"
    UPLOAD_COVER = "upload_cover"
    UPLOAD_EXTEND = "upload_extend"
    ADD_VOCALS = "add_vocals"
    ADD_INSTRUMENTAL = "add_instrumental"
    # The studio's tools (bot/studio/): one module each, results delivered as files or tracks.
    SOUNDS = "sounds"
    LYRICS = "lyrics"
    TIMED_LYRICS = "timed_lyrics"
    VOCALS = "vocals"
    STEMS = "stems"
    WAV = "wav"
    VIDEO = "video"
    PERSONA = "persona"
    # Studio part 3: boost style (bot/studio/boost.py)
    BOOST_STYLE = "boost_style"
    REPLACE_SECTION = "replace_section"  # replace a section of a track (bot/studio/replace_section.py)
    COVER_ART = "cover_art"  # cover art of a music task (bot/studio/cover.py)
    MASHUP = "mashup"  # two songs mixed into one (bot/studio/mashup.py)
    RECOVERY = "recovery"  # a finished task's lost audio asked for again (bot/studio/recovery.py)

    @property
    def studio(self) -> bool:
        """A tool of the studio rather than a song (its module in bot/studio/ says how it runs)."""
        return self.value not in _SONG_KINDS

    @property
    def uses_upload(self) -> bool:
        return self in (
            TaskKind.UPLOAD_COVER,
            TaskKind.UPLOAD_EXTEND,
            TaskKind.ADD_VOCALS,
            TaskKind.ADD_INSTRUMENTAL,
        )


_SONG_KINDS = frozenset(
    {"generate", "custom", "extend", "upload_cover", "upload_extend", "add_vocals", "add_instrumental"}
)


class Record(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def from_row(cls, row: Any) -> Any:
        return cls.model_validate(dict(row))


class Person(Record):
    user_id: int
    chat_id: int | None = None  # their private chat with the bot; a task keeps the chat it was asked in
    first_name: str = ""
    username: str | None = None
    language: str | None = None
    language_override: str | None = None
    access: str | None = None
    bot_blocked: bool = False
    created_at: float
    last_seen_at: float

    @property
    def locale(self) -> str | None:
        return self.language_override or self.language


class Upload(Record):
    id: int
    user_id: int
    chat_id: int
    path: str
    file_name: str
    mime_type: str
    size: int
    duration: float
    sha256: str
    telegram_file_id: str | None = None
    created_at: float
    deleted_at: float | None = None


class Task(Record):
    id: int
    user_id: int
    chat_id: int
    kind: TaskKind
    params: dict[str, Any]
    model: str | None = None
    upload_id: int | None = None
    provider_task_id: str | None = None
    stage: Stage
    progress_message_id: int | None = None
    progress_text: str | None = None  # as first sent; later edits are remembered in memory only
    stream_url: str | None = None
    error_code: int | None = None
    error_text: str | None = None
    submit_started_at: float | None = None
    created_at: float
    submitted_at: float | None = None
    text_at: float | None = None
    first_at: float | None = None
    finished_at: float | None = None
    last_event_at: float

    @classmethod
    def from_row(cls, row: Any) -> Task:
        data = dict(row)
        data["params"] = json.loads(data["params"])
        return cls.model_validate(data)


class TrackData(BaseModel):
    """A track as an event reports it (before it has a row)."""

    audio_id: str
    title: str = ""
    tags: str = ""
    prompt: str = ""
    model_name: str = ""
    duration: float | None = None
    audio_url: str | None = None
    stream_url: str | None = None
    image_url: str | None = None


class Track(Record, TrackData):
    """A stored track, and once sent, where it went."""

    id: int
    task_id: int
    position: int
    telegram_file_id: str | None = None
    telegram_message_id: int | None = None
    sent_at: float | None = None
    lost_url: str | None = None  # a link that would not download, while the track is recovered


FileMedia = Literal["audio", "document", "video", "photo", "text"]


class FileData(BaseModel):
    """A tool's result that is not a track (a stem, a WAV, a video, lyrics) as an event reports it.

    `url` is fetched at delivery; `text` is the content itself (lyrics, an LRC file made by the bot).
    `name` is unique within its task: the file name people see, or the variant's label for a text.
    """

    name: str
    media: FileMedia
    url: str | None = None
    text: str | None = None
    title: str = ""


class ResultFile(Record, FileData):
    """A stored tool result, and once sent, the message it went in."""

    id: int
    task_id: int
    position: int
    telegram_message_id: int | None = None
    sent_at: float | None = None


class Persona(Record):
    """A voice made from one of a person's tracks (the provider's personaId), for later songs."""

    id: int
    user_id: int
    persona_id: str
    name: str
    description: str
    track_id: int | None = None
    created_at: float


class Event(Record):
    id: int
    task_id: int
    source: str
    stage: Stage
    payload: str
    received_at: float
    applied_at: float | None = None
