"""Sending one finished track to the chat as Telegram audio: by URL where it can be, else uploaded."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import FileSizeLimit, MessageLimit
from telegram.error import BadRequest

from bot.chat.thumbnails import make_thumbnail
from bot.i18n import Texts
from bot.ops.metrics import Metrics
from bot.provider.client import ProviderDownloadError
from bot.provider.media import MediaFetcher
from bot.telegram.upload import AudioUploader
from storage.models import Task, Track

log = logging.getLogger(__name__)

MAX_AUDIO_BYTES = int(FileSizeLimit.FILESIZE_UPLOAD)  # 50 MB by multipart upload
MAX_URL_AUDIO_BYTES = int(FileSizeLimit.FILESIZE_DOWNLOAD)  # 20 MB for Telegram to fetch by URL
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def extend_button(texts: Texts, track: Track) -> InlineKeyboardMarkup:
    """The buttons under a delivered track: Extend it, Share it (a link: handlers/sharing.py), or More…
    (the studio's tools for it, opened in place: handlers/studio.py)."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts("button.extend"), callback_data=f"extend:{track.id}"),
                InlineKeyboardButton(texts("button.share"), callback_data=f"share:{track.id}"),
                InlineKeyboardButton(texts("button.more"), callback_data=f"more:{track.id}"),
            ]
        ]
    )


# The audio containers the provider links to: MP3 for songs, and M4A for recovered ones (provider-tools.md
# §14), which must not be named (or typed) as MP3.
AUDIO_EXTENSIONS = ("mp3", "m4a")


def safe_file_name(title: str, url: str = "") -> str:
    """The file name people see: the title, with the extension the URL's file has (.mp3 by default)."""
    name = re.sub(r"[^\w\- ]+", "", title, flags=re.UNICODE).strip()[:60] or "track"
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    extension = last.rsplit(".", 1)[-1].lower() if "." in last else ""
    return f"{name}.{extension if extension in AUDIO_EXTENSIONS else 'mp3'}"


class TrackDelivery:
    """Sends a track by URL where Telegram can fetch it itself, else downloads it and streams it up.

    By URL only the cover passes through the bot (downloaded, then uploaded as the thumbnail); an
    upload moves the track twice more. Neither direction holds a file in memory (both stream in
    chunks). Uploads to Telegram take one of `concurrency` slots, bounding open files, disk use in
    DATA_DIR/tmp and bandwidth when many tracks finish together; the download before it takes none
    (a slow source would hold a slot everyone needs), only one of its origin's (MediaFetcher), and is
    cut off when it trickles. Sending by URL needs none of that. A URL the MediaGuard refuses is
    neither handed to Telegram nor downloaded: ProviderDownloadError, retried by the work queue.
    """

    def __init__(
        self,
        bot: Bot,
        uploader: AudioUploader,
        media: MediaFetcher,
        tmp_dir: Path,
        *,
        metrics: Metrics,
        concurrency: int = 3,
        url_schemes: Collection[str] = ("https",),
    ) -> None:
        self._bot = bot
        self._uploader = uploader
        self._media = media
        self.media = media  # the studio's files are fetched through the same guard (bot/studio/delivery.py)
        self._tmp_dir = tmp_dir
        self._metrics = metrics
        self._slots = asyncio.Semaphore(concurrency)
        self._url_schemes = frozenset(s.lower() for s in url_schemes)

    async def send(
        self, task: Task, track: Track, texts: Texts, *, followers: int = 0, cover_required: bool = False
    ) -> Message:
        """Send the track as audio; `followers`: tracks of the chat still to come after it.

        `cover_required`: the cover is the point of this send (Use as cover), so a cover that cannot be
        fetched or made into a thumbnail fails the send (ProviderDownloadError) instead of leaving it out,
        and the audio is uploaded, never given by URL: Telegram documents thumbnails for uploads only.
        """
        started = time.monotonic()
        url = track.audio_url
        assert url is not None
        thumbnail, spent = await self._thumbnail(track, required=cover_required)
        caption = texts("audio.caption", tags=track.tags)[: MessageLimit.CAPTION_LENGTH]
        details: dict[str, Any] = {
            "chat_id": task.chat_id,
            "title": track.title or None,
            "performer": texts("audio.performer"),
            "duration": round(track.duration) if track.duration else None,
            "caption": caption or None,
            "thumbnail": thumbnail,
            "reply_markup": extend_button(texts, track),
            "followers": followers,
        }
        if not cover_required and await self._telegram_can_fetch(track, url):
            try:
                message = await self._uploader.send_audio_by_url(url=url, **details)
            except BadRequest as error:
                if _about_the_chat(error):
                    raise
                # Telegram could not fetch it after all (unreachable for it, too big, wrong type...).
                log.info("track %s: Telegram refused its URL (%s); uploading it instead", track.id, error)
                spent += len(thumbnail or b"")
            else:
                return self._delivered(message, "url", spent + len(thumbnail or b""), started)
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        path = self._tmp_dir / f"track-{track.id}.mp3"
        try:
            try:
                size = await self._media.download(url, path, max_bytes=MAX_AUDIO_BYTES)
            except ProviderDownloadError as error:
                if not error.too_big:
                    raise
                return await self._bot.send_message(
                    task.chat_id,
                    texts("audio.too_big", url=url),
                    reply_markup=extend_button(texts, track),
                )
            async with self._slots:
                message = await self._uploader.send_audio(
                    path=path, filename=safe_file_name(track.title, url), **details
                )
            # Down from the provider, then up to Telegram, with the thumbnail beside it.
            return self._delivered(message, "upload", spent + 2 * size + len(thumbnail or b""), started)
        finally:
            path.unlink(missing_ok=True)

    async def _telegram_can_fetch(self, track: Track, url: str) -> bool:
        if urlsplit(url).scheme.lower() not in self._url_schemes:
            return False
        # A HEAD costs no body and checks every hop of a redirect; a host that does not say is tried,
        # and a refusal by Telegram falls back to upload.
        size = await self._media.size_of(url)
        if size is not None and size > MAX_URL_AUDIO_BYTES:
            log.info("track %s: %d bytes, more than Telegram fetches by URL; uploading it", track.id, size)
            return False
        return True

    def _delivered(self, message: Message, how: str, spent: int, started: float) -> Message:
        self._metrics.delivered_tracks.inc()
        self._metrics.delivery_bytes.labels(how=how).inc(spent)
        self._metrics.delivery_seconds.observe(time.monotonic() - started)
        return message

    async def _thumbnail(self, track: Track, *, required: bool = False) -> tuple[bytes | None, int]:
        """The cover as a thumbnail, and the bytes downloaded for it."""
        if not track.image_url:
            return None, 0
        try:
            data = await self._media.fetch(track.image_url, max_bytes=MAX_IMAGE_BYTES)
        except ProviderDownloadError as error:
            if required:
                raise
            log.info("no cover for track %s: %s", track.id, error)
            return None, 0
        thumbnail = await asyncio.to_thread(make_thumbnail, data)
        if thumbnail is None and required:
            # Final (as too_big is): fetching it again brings the same bytes, so the person is told now.
            raise ProviderDownloadError(f"the cover of track {track.id} is no image", too_big=True)
        return thumbnail, len(data)


def _about_the_chat(error: BadRequest) -> bool:
    """A refusal an upload would meet too (the chat is gone), so downloading the track is no use.

    Any other 400 to a call by URL is taken as Telegram not getting the file: its wording varies
    ("failed to get HTTP URL content", "wrong file identifier/HTTP URL specified", "wrong type of the
    web page content"...), and an upload that meets a 400 of its own raises it as it always did.
    """
    return "chat not found" in str(error).lower()
