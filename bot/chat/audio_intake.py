"""Accepting an audio file from a person: checks before anything is spent, conversion, storage."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import mutagen
import soundfile
from telegram import Bot
from telegram.constants import FileSizeLimit
from telegram.error import TelegramError

from storage.models import Upload
from storage.store import Storage

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = int(FileSizeLimit.FILESIZE_DOWNLOAD)  # 20 MB: what getFile serves to bots
MIN_SECONDS = 1.0

# What the provider takes as is ("MP3, WAV or other supported formats"); anything Ogg is converted to MP3.
_KEEP = {
    "MP3": ("mp3", "audio/mpeg"),
    "WAVE": ("wav", "audio/wav"),
    "MP4": ("m4a", "audio/mp4"),
    "FLAC": ("flac", "audio/flac"),
}
_CONVERT = {"OggOpus", "OggVorbis", "OggFLAC"}
_AUDIO_DOCUMENT_TYPES = ("audio/", "application/ogg", "video/mp4")


class IntakeRefused(Exception):
    """The file cannot be used; `key` and `values` make the message saying which limit and what to do."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass(frozen=True)
class IncomingAudio:
    """What Telegram tells us about a file before we download it."""

    file_id: str
    file_size: int | None
    mime_type: str | None
    file_name: str | None
    title: str | None


@dataclass(frozen=True)
class Probed:
    data: bytes
    extension: str
    mime_type: str
    duration: float


def looks_like_audio_document(mime_type: str | None, file_name: str | None) -> bool:
    if mime_type and mime_type.startswith(_AUDIO_DOCUMENT_TYPES):
        return True
    name = (file_name or "").lower()
    return name.endswith((".mp3", ".m4a", ".wav", ".ogg", ".oga", ".opus", ".flac", ".aac"))


def probe_audio(data: bytes) -> Probed:
    """Identify the format and real length, converting Ogg to MP3 in-process. CPU-bound: run in a thread.

    The length comes from the file itself, never from what the sender claims.
    """
    try:
        parsed = mutagen.File(io.BytesIO(data))
    except mutagen.MutagenError:
        parsed = None
    if parsed is None or parsed.info is None or not getattr(parsed.info, "length", 0):
        raise IntakeRefused("intake.format")
    kind = type(parsed).__name__
    duration = float(parsed.info.length)
    if kind in _KEEP:
        extension, mime = _KEEP[kind]
        return Probed(data, extension, mime, duration)
    if kind in _CONVERT:
        return Probed(_to_mp3(data), "mp3", "audio/mpeg", duration)
    raise IntakeRefused("intake.format")


def _to_mp3(data: bytes) -> bytes:
    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
        out = io.BytesIO()
        soundfile.write(out, samples, rate, format="MP3", subtype="MPEG_LAYER_III")
    except (soundfile.LibsndfileError, RuntimeError, ValueError) as error:
        log.info("could not convert an Ogg file: %s", error)
        raise IntakeRefused("intake.format") from None
    return out.getvalue()


def default_title(file_name: str | None, title: str | None) -> str:
    """The title offered as a default: the audio's own title tag, else the file name without extension."""
    if title and title.strip():
        return title.strip()[:80]
    stem = Path(file_name or "").stem.replace("_", " ").strip()
    return stem[:80]


class AudioIntake:
    def __init__(self, bot: Bot, storage: Storage, data_dir: Path) -> None:
        self._bot = bot
        self._storage = storage
        self._dir = data_dir / "uploads"

    async def accept(self, user_id: int, chat_id: int, incoming: IncomingAudio) -> Upload:
        if incoming.file_size is not None and incoming.file_size > MAX_DOWNLOAD_BYTES:
            raise IntakeRefused(
                "intake.too_big", size=_megabytes(incoming.file_size), limit=_megabytes(MAX_DOWNLOAD_BYTES)
            )
        try:
            telegram_file = await self._bot.get_file(incoming.file_id)
            data = bytes(await telegram_file.download_as_bytearray())
        except TelegramError as error:
            if "too big" in str(error).lower():
                raise IntakeRefused(
                    "intake.too_big", size="> 20", limit=_megabytes(MAX_DOWNLOAD_BYTES)
                ) from None
            raise
        probed = await asyncio.to_thread(probe_audio, data)
        if probed.duration < MIN_SECONDS:
            raise IntakeRefused("intake.too_short")
        user_dir = self._dir / str(user_id)
        path = user_dir / f"{uuid.uuid4().hex}.{probed.extension}"
        await asyncio.to_thread(_write, path, probed.data)
        name = default_title(incoming.file_name, incoming.title) or "audio"
        return await self._storage.uploads.add(
            user_id=user_id,
            chat_id=chat_id,
            path=str(path),
            file_name=f"{name}.{probed.extension}",
            mime_type=probed.mime_type,
            size=len(probed.data),
            duration=probed.duration,
            sha256=hashlib.sha256(probed.data).hexdigest(),
            telegram_file_id=incoming.file_id,
            now=time.time(),
        )


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f}"
