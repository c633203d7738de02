"""Sending one finished track to the chat as Telegram audio."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from pathlib import Path

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import FileSizeLimit, MessageLimit

from bot.chat.thumbnails import make_thumbnail
from bot.i18n import Texts
from bot.ops.metrics import Metrics
from bot.provider.client import ProviderClient, ProviderDownloadError
from bot.telegram.upload import AudioUploader
from storage.models import Task, Track

log = logging.getLogger(__name__)

MAX_AUDIO_BYTES = int(FileSizeLimit.FILESIZE_UPLOAD)  # 50 MB by multipart upload
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def extend_button(texts: Texts, track: Track) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts("button.extend"), callback_data=f"extend:{track.id}")]]
    )


def safe_file_name(title: str) -> str:
    name = re.sub(r"[^\w\- ]+", "", title, flags=re.UNICODE).strip()[:60] or "track"
    return f"{name}.mp3"


class TrackDelivery:
    """Downloads a track to disk, then streams it to Telegram; at most `concurrency` at once.

    Neither direction holds a file in memory (both stream in chunks); the semaphore bounds open files,
    disk use in DATA_DIR/tmp and bandwidth when many tracks finish together.
    """

    def __init__(
        self,
        bot: Bot,
        uploader: AudioUploader,
        provider: ProviderClient,
        tmp_dir: Path,
        *,
        metrics: Metrics,
        concurrency: int = 3,
    ) -> None:
        self._bot = bot
        self._uploader = uploader
        self._provider = provider
        self._tmp_dir = tmp_dir
        self._metrics = metrics
        self._slots = asyncio.Semaphore(concurrency)

    async def send(self, task: Task, track: Track, texts: Texts, *, followers: int = 0) -> Message:
        """Download the track and send it as audio; `followers`: tracks of the chat still to come after it."""
        async with self._slots:
            started = time.monotonic()
            self._tmp_dir.mkdir(parents=True, exist_ok=True)
            path = self._tmp_dir / f"track-{track.id}.mp3"
            try:
                assert track.audio_url is not None
                try:
                    size = await self._provider.download(track.audio_url, path, max_bytes=MAX_AUDIO_BYTES)
                except ProviderDownloadError as error:
                    if not error.too_big:
                        raise
                    return await self._bot.send_message(
                        task.chat_id,
                        texts("audio.too_big", url=track.audio_url),
                        reply_markup=extend_button(texts, track),
                    )
                thumbnail = await self._thumbnail(track)
                caption = texts("audio.caption", tags=track.tags)[: MessageLimit.CAPTION_LENGTH]
                message = await self._uploader.send_audio(
                    chat_id=task.chat_id,
                    path=path,
                    filename=safe_file_name(track.title),
                    title=track.title or None,
                    performer=texts("audio.performer"),
                    duration=round(track.duration) if track.duration else None,
                    caption=caption or None,
                    thumbnail=thumbnail,
                    reply_markup=extend_button(texts, track),
                    followers=followers,
                )
                self._metrics.delivered_tracks.inc()
                self._metrics.delivery_bytes.inc(size)
                self._metrics.delivery_seconds.observe(time.monotonic() - started)
                return message
            finally:
                path.unlink(missing_ok=True)

    async def _thumbnail(self, track: Track) -> bytes | None:
        if not track.image_url:
            return None
        try:
            data = await self._provider.fetch(track.image_url, max_bytes=MAX_IMAGE_BYTES)
        except ProviderDownloadError as error:
            log.info("no cover for track %s: %s", track.id, error)
            return None
        return await asyncio.to_thread(make_thumbnail, data)
