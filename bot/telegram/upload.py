"""sendAudio as a streamed multipart upload (or by URL), paced like every other Bot API call.

python-telegram-bot reads a whole file into memory before it sends it (`InputFile` keeps the bytes, and
the multipart body is built from them), so twenty 20 MB tracks finishing together would hold hundreds of
megabytes. This one call is made with aiohttp instead, which streams the file from disk in small
chunks; everything else about it is as PTB would do it: the same URL, the same ChatPacer, the same
error types, and the answer parsed into a `telegram.Message`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from telegram import Bot, InlineKeyboardMarkup, Message
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import BaseRateLimiter

from bot.telegram.pacing import Pace

UPLOAD_TIMEOUT = aiohttp.ClientTimeout(total=600, sock_connect=10, sock_read=120)


def error_from(payload: dict[str, Any] | None, status: int) -> TelegramError:
    """The PTB exception for a Bot API error answer, mapped the way PTB's own request layer maps it."""
    payload = payload or {}
    description = str(payload.get("description") or f"HTTP {status}")
    parameters = payload.get("parameters") or {}
    if "retry_after" in parameters:
        return RetryAfter(int(parameters["retry_after"]))
    if "migrate_to_chat_id" in parameters:
        return ChatMigrated(int(parameters["migrate_to_chat_id"]))
    if status == 403:
        return Forbidden(description)
    if status in (401, 404):
        return InvalidToken(description)
    if status == 400:
        return BadRequest(description)
    if status == 409:
        return Conflict(description)
    return NetworkError(f"{description} (HTTP {status})")


class AudioUploader:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        api_url: str,
        token: str,
        bot: Bot,
        pacer: BaseRateLimiter[Any] | None,
    ) -> None:
        self._session = session
        self._url = f"{api_url}/bot{token}/sendAudio"
        self._bot = bot
        self._pacer = pacer

    async def send_audio(
        self,
        *,
        chat_id: int,
        path: Path,
        filename: str,
        title: str | None,
        performer: str | None,
        duration: int | None,
        caption: str | None,
        thumbnail: bytes | None,
        reply_markup: InlineKeyboardMarkup | None,
        followers: int = 0,
    ) -> Message:
        """Upload the file at `path` as the audio."""
        fields = _fields(chat_id, title, performer, duration, caption, thumbnail, reply_markup)

        def audio(data: aiohttp.FormData) -> None:
            # A recovered track may be M4A (provider-tools.md §14): typed as what it is named.
            mime = "audio/mp4" if filename.lower().endswith(".m4a") else "audio/mpeg"
            data.add_field("audio", path.open("rb"), filename=filename, content_type=mime)

        return await self._send(chat_id, fields, audio, thumbnail, followers)

    async def send_audio_by_url(
        self,
        *,
        chat_id: int,
        url: str,
        title: str | None,
        performer: str | None,
        duration: int | None,
        caption: str | None,
        thumbnail: bytes | None,
        reply_markup: InlineKeyboardMarkup | None,
        followers: int = 0,
    ) -> Message:
        """Have Telegram fetch the audio from `url`; only the thumbnail, if any, is uploaded beside it.

        The thumbnail is still a multipart part: Telegram takes thumbnails only as new uploads, and it
        applies one to a file it fetched by URL because it uploads that file anew itself.
        """
        fields = _fields(chat_id, title, performer, duration, caption, thumbnail, reply_markup)
        fields["audio"] = url
        return await self._send(chat_id, fields, None, thumbnail, followers)

    async def _send(
        self,
        chat_id: int,
        fields: dict[str, str],
        audio: Callable[[aiohttp.FormData], None] | None,
        thumbnail: bytes | None,
        followers: int,
    ) -> Message:
        def form() -> aiohttp.FormData:
            # Built afresh for every attempt: a retry after a 429 needs the file from its start.
            data = aiohttp.FormData()
            for name, value in fields.items():
                data.add_field(name, value)
            if audio is not None:
                audio(data)
            if thumbnail is not None:
                data.add_field("cover", thumbnail, filename="cover.jpg", content_type="image/jpeg")
            return data

        if self._pacer is None:
            result = await self._post(form)
        else:
            result = await self._pacer.process_request(
                self._post,
                (form,),
                {},
                "sendAudio",
                {"chat_id": chat_id},
                Pace.leading(followers) if followers else None,
            )
        message = Message.de_json(result, self._bot)  # type: ignore[arg-type]
        assert message is not None
        return message

    async def _post(self, form: Any) -> dict[str, Any]:
        try:
            async with self._session.post(self._url, data=form(), timeout=UPLOAD_TIMEOUT) as response:
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = None
                status = response.status
        except TimeoutError:
            raise TimedOut("sendAudio timed out") from None
        except aiohttp.ClientError as error:
            raise NetworkError(f"sendAudio failed: {type(error).__name__}") from None
        if isinstance(payload, dict) and payload.get("ok") and isinstance(payload.get("result"), dict):
            return payload["result"]
        raise error_from(payload if isinstance(payload, dict) else None, status)


def _fields(
    chat_id: int,
    title: str | None,
    performer: str | None,
    duration: int | None,
    caption: str | None,
    thumbnail: bytes | None,
    reply_markup: InlineKeyboardMarkup | None,
) -> dict[str, str]:
    fields: dict[str, str] = {"chat_id": str(chat_id)}
    for name, value in (("title", title), ("performer", performer), ("caption", caption)):
        if value:
            fields[name] = value
    if duration is not None:
        fields["duration"] = str(duration)
    if reply_markup is not None:
        fields["reply_markup"] = json.dumps(reply_markup.to_dict())
    if thumbnail is not None:
        fields["thumbnail"] = "attach://cover"
    return fields
