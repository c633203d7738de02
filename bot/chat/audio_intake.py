"""Accepting an audio file from a person: checks before anything is spent, conversion, storage.

Work per file is bounded before it starts. The length is read from the container's own metadata
(mutagen: Ogg granule positions, MP3 Xing/VBRI headers or frames, WAV and FLAC headers, MP4 atoms),
which costs a few reads however long the audio is, and what no task can take is refused at once. Only
then is an Ogg file decoded, block by block straight into an MP3 on disk, and cut off should its audio
run past what its metadata claimed. A 60-minute voice note of silence is 0.8 MB: decoded whole it took
minutes and most of a gigabyte. A person has one file in processing at a time and a daily number.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import mutagen
import soundfile
from telegram import Bot
from telegram.constants import FileSizeLimit
from telegram.error import TelegramError

from bot.chat.upload_files import in_database, store_bytes
from bot.provider.models import MAX_UPLOAD_SECONDS
from storage.models import Upload
from storage.store import Storage

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = int(FileSizeLimit.FILESIZE_DOWNLOAD)  # 20 MB: what getFile serves to bots
MIN_SECONDS = 1.0
# The longest audio any upload task takes (provider-api.md §7: cover and extend up to 8 minutes; add
# vocals and instrumental document no maximum, and the bot holds them to the same).
MAX_SECONDS = float(MAX_UPLOAD_SECONDS)
DEFAULT_UPLOADS_PER_DAY = 20
# Decoding is CPU work in threads: a few at once keep the loop's executor free for everything else.
MAX_CONVERSIONS = 2
_BLOCK_FRAMES = 64 * 1024  # ~1.4 s at 48 kHz: what one step of a conversion holds in memory
_HASH_CHUNK = 1024 * 1024

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
    """What a file's metadata says, read without decoding it."""

    extension: str
    mime_type: str
    duration: float
    convert: bool  # Ogg, decoded and encoded as MP3; the rest is kept as it came


def looks_like_audio_document(mime_type: str | None, file_name: str | None) -> bool:
    if mime_type and mime_type.startswith(_AUDIO_DOCUMENT_TYPES):
        return True
    name = (file_name or "").lower()
    return name.endswith((".mp3", ".m4a", ".wav", ".ogg", ".oga", ".opus", ".flac", ".aac"))


def probe_audio(path: Path) -> Probed:
    """The format and length from the file's metadata; IntakeRefused when it is not audio we take.

    Blocking file reads (a few, whatever the length): run in a thread. The length comes from the file
    itself, never from what the sender claims.
    """
    try:
        parsed = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError, EOFError):
        parsed = None
    if parsed is None or parsed.info is None or not getattr(parsed.info, "length", 0):
        raise IntakeRefused("intake.format")
    kind = type(parsed).__name__
    duration = float(parsed.info.length)
    if kind in _KEEP:
        extension, mime = _KEEP[kind]
        return Probed(extension, mime, duration, convert=False)
    if kind in _CONVERT:
        return Probed("mp3", "audio/mpeg", duration, convert=True)
    raise IntakeRefused("intake.format")


def too_long(duration: float, limit: float = MAX_SECONDS) -> IntakeRefused:
    """The existing wording of a file too long for its task, for every task ("action.any")."""
    return IntakeRefused("intake.too_long", action="action.any", length=clock(duration), limit=clock(limit))


def convert_to_mp3(source: Path, dest: Path, *, max_seconds: float = MAX_SECONDS) -> float:
    """Decode `source` block by block into an MP3 at `dest`; returns the seconds decoded. Blocking.

    Memory stays at one block. Audio running past `max_seconds` (metadata that understated it) stops
    the decoding there: IntakeRefused, and `dest` is removed.
    """
    try:
        with soundfile.SoundFile(source) as audio:
            rate, channels = audio.samplerate, audio.channels
            limit = int((max_seconds + 1) * rate)
            frames = 0
            with soundfile.SoundFile(
                dest, "w", samplerate=rate, channels=channels, format="MP3", subtype="MPEG_LAYER_III"
            ) as out:
                for block in audio.blocks(blocksize=_BLOCK_FRAMES, dtype="float32"):
                    frames += len(block)
                    if frames > limit:
                        raise too_long(frames / rate, max_seconds)
                    out.write(block)
    except IntakeRefused:
        dest.unlink(missing_ok=True)
        raise
    except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError) as error:
        log.info("could not convert an Ogg file: %s", error)
        dest.unlink(missing_ok=True)
        raise IntakeRefused("intake.format") from None
    return frames / rate


def default_title(file_name: str | None, title: str | None) -> str:
    """The title offered as a default: the audio's own title tag, else the file name without extension."""
    if title and title.strip():
        return title.strip()[:80]
    stem = Path(file_name or "").stem.replace("_", " ").strip()
    return stem[:80]


class AudioIntake:
    """Takes a person's audio file: one at a time per person, a daily number, bounded work each."""

    def __init__(
        self,
        bot: Bot,
        storage: Storage,
        data_dir: Path,
        *,
        max_per_day: int = DEFAULT_UPLOADS_PER_DAY,
        exempt: Collection[int] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bot = bot
        self._storage = storage
        self._dir = data_dir / "uploads"
        self._max_per_day = max_per_day
        self._exempt = frozenset(exempt)
        self._now = clock
        self._busy: set[int] = set()
        self._conversions = asyncio.Semaphore(MAX_CONVERSIONS)

    async def accept(self, user_id: int, chat_id: int, incoming: IncomingAudio) -> Upload:
        if incoming.file_size is not None and incoming.file_size > MAX_DOWNLOAD_BYTES:
            raise IntakeRefused(
                "intake.too_big", size=_megabytes(incoming.file_size), limit=_megabytes(MAX_DOWNLOAD_BYTES)
            )
        if user_id in self._busy:
            raise IntakeRefused("intake.one_at_a_time")
        self._busy.add(user_id)
        try:
            return await self._accept(user_id, chat_id, incoming)
        finally:
            self._busy.discard(user_id)

    async def _accept(self, user_id: int, chat_id: int, incoming: IncomingAudio) -> Upload:
        if user_id not in self._exempt:
            sent = await self._storage.uploads.count_since(user_id, self._now() - 86400)
            if sent >= self._max_per_day:
                raise IntakeRefused("intake.daily", limit=self._max_per_day)
        user_dir = self._dir / str(user_id)
        name = uuid.uuid4().hex
        received = user_dir / f"{name}.incoming"
        path: Path | None = None
        try:
            await self._download(incoming, received)
            probed = await asyncio.to_thread(probe_audio, received)
            if probed.duration > MAX_SECONDS:
                raise too_long(probed.duration)
            if probed.duration < MIN_SECONDS:
                raise IntakeRefused("intake.too_short")
            path = user_dir / f"{name}.{probed.extension}"
            duration = probed.duration
            if probed.convert:
                async with self._conversions:
                    duration = await asyncio.to_thread(convert_to_mp3, received, path)
                if duration < MIN_SECONDS:
                    raise IntakeRefused("intake.too_short")
            else:
                received.rename(path)
            size, sha256 = await asyncio.to_thread(_size_and_hash, path)
            title = default_title(incoming.file_name, incoming.title) or "audio"
            shared = in_database(self._storage)
            upload = await self._storage.uploads.add(
                user_id=user_id,
                chat_id=chat_id,
                path="" if shared else str(path),
                file_name=f"{title}.{probed.extension}",
                mime_type=probed.mime_type,
                size=size,
                duration=duration,
                sha256=sha256,
                telegram_file_id=incoming.file_id,
                now=self._now(),
            )
            if shared:
                try:
                    await store_bytes(self._storage, upload.id, path)
                except BaseException:
                    await self._storage.uploads.delete_chunks(upload.id)
                    await self._storage.uploads.mark_deleted(upload.id, now=self._now())
                    raise
                path.unlink(missing_ok=True)
            return upload
        except BaseException:
            if path is not None:
                path.unlink(missing_ok=True)
            raise
        finally:
            received.unlink(missing_ok=True)

    async def _download(self, incoming: IncomingAudio, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            telegram_file = await self._bot.get_file(incoming.file_id)
            if telegram_file.file_size is not None and telegram_file.file_size > MAX_DOWNLOAD_BYTES:
                raise IntakeRefused(
                    "intake.too_big",
                    size=_megabytes(telegram_file.file_size),
                    limit=_megabytes(MAX_DOWNLOAD_BYTES),
                )
            await telegram_file.download_to_drive(dest)
        except TelegramError as error:
            if "too big" in str(error).lower():
                raise IntakeRefused(
                    "intake.too_big", size="> 20", limit=_megabytes(MAX_DOWNLOAD_BYTES)
                ) from None
            raise


def _size_and_hash(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(_HASH_CHUNK):
            size += len(chunk)
            digest.update(chunk)
    return size, digest.hexdigest()


def clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f}"
