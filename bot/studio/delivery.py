"""Delivering a studio task's files (storage/results.py), each once, in the form people expect.

One delivery item covers all of a task's files, so that audios go out together: one audio alone, two to
ten as one album (sendMediaGroup), more than an album holds as one .zip document. Documents (a WAV) and
videos are sent one by one; texts as messages. A file is checked against Telegram's 50 MB upload limit
before it is downloaded (a HEAD), and once more while it downloads; one over it is given as a link,
saying so. Each file is recorded as sent as soon as Telegram has it, so a retry never sends it twice.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import zipfile
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    InputMediaAudio,
    InputMediaPhoto,
    Message,
)
from telegram.constants import FileSizeLimit, MediaGroupLimit, MessageLimit

from bot.i18n import Texts
from bot.ops.metrics import Metrics
from bot.provider.client import ProviderDownloadError
from bot.provider.media import MediaFetcher
from bot.studio import cover
from bot.studio.persona import saved_persona
from bot.studio.registry import tool_for
from bot.tasks.retry import until_stored
from storage.models import ResultFile, Task, TaskKind
from storage.store import Storage

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = int(FileSizeLimit.FILESIZE_UPLOAD)  # 50 MB by multipart upload
MAX_PHOTO_BYTES = int(FileSizeLimit.PHOTOSIZE_UPLOAD)  # 10 MB: a bigger image goes as a document
ALBUM_MIN, ALBUM_MAX = int(MediaGroupLimit.MIN_MEDIA_LENGTH), int(MediaGroupLimit.MAX_MEDIA_LENGTH)


def file_name(track_title: str, name: str) -> str:
    """What the person sees: the track's title and the result's own name ("Rain - Vocals.mp3")."""
    title = re.sub(r"[^\w\- ]+", "", track_title, flags=re.UNICODE).strip()[:50]
    clean = re.sub(r"[^\w\-. ]+", "", name, flags=re.UNICODE).strip()[:60] or "file"
    return f"{title} - {clean}" if title else clean


def use_lyrics_keyboard(texts: Texts, result: ResultFile) -> InlineKeyboardMarkup:
    """Use these: /custom with this variant's lyrics filled in (handlers/forms.py `use_lyrics`)."""
    button = InlineKeyboardButton(texts("button.use_lyrics"), callback_data=f"uselyr:{result.id}")
    return InlineKeyboardMarkup([[button]])


class TooBig(Exception):
    pass


class FileDelivery:
    def __init__(
        self,
        *,
        storage: Storage,
        bot: Bot,
        media: MediaFetcher,
        tmp_dir: Path,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._bot = bot
        self._media = media
        self._tmp_dir = tmp_dir
        self._metrics = metrics
        self._now = clock

    async def deliver(self, task_id: int) -> None:
        task, locale = await self._storage.tasks.with_locale(task_id)
        texts = Texts(locale)
        files = [f for f in await self._storage.results.files(task_id) if f.sent_at is None]
        title = await self._track_title(task)
        audios = [f for f in files if f.media == "audio" and f.url]
        photos = [f for f in files if f.media == "photo" and f.url]
        for result in files:
            if result not in audios and result not in photos:
                await self._send_one(task, texts, title, result)
        if photos:
            await self._send_photos(task, texts, photos)
        if len(audios) == 1:
            await self._send_one(task, texts, title, audios[0])
        elif ALBUM_MIN <= len(audios) <= ALBUM_MAX:
            await self._send_album(task, texts, title, audios)
        elif audios:
            await self._send_zip(task, texts, title, audios)

    async def give_up(self, task_id: int) -> None:
        """Downloading kept failing: the links instead, so nothing is silently lost."""
        task, locale = await self._storage.tasks.with_locale(task_id)
        texts = Texts(locale)
        for result in await self._storage.results.files(task_id):
            if result.sent_at is None and result.url:
                message = await self._bot.send_message(
                    task.chat_id, texts("studio.file_unavailable", name=result.name, url=result.url)
                )
                await self._sent(task, [result], message, "link")

    async def _track_title(self, task: Task) -> str:
        audio_id = task.params.get("audioId")
        track = await self._storage.tasks.track_by_audio_id(str(audio_id)) if audio_id else None
        return track.title if track is not None else ""

    async def _send_one(self, task: Task, texts: Texts, title: str, result: ResultFile) -> None:
        if task.kind is TaskKind.PERSONA:
            await self._save_persona(task, texts, result)
            return
        if result.media == "text" or (result.url is None and result.text is None):
            tool = tool_for(task.kind)
            if tool is not None and tool.present is not None:
                body, markup = tool.present(texts, task, result.text or "")
            else:
                body = f"{result.title}\n\n{result.text}" if result.title and result.text else result.text
                markup = use_lyrics_keyboard(texts, result) if task.kind is TaskKind.LYRICS else None
            message = await self._bot.send_message(
                task.chat_id, (body or result.title)[: MessageLimit.MAX_TEXT_LENGTH], reply_markup=markup
            )
            await self._sent(task, [result], message, "text")
            return
        name = file_name(title, result.name)
        caption = (title or None) if result.media == "video" else None
        if result.url is None:  # a file the bot wrote itself (an LRC)
            data = (result.text or "").encode()
            message = await self._bot.send_document(
                task.chat_id, document=InputFile(data, filename=name), caption=caption
            )
            await self._sent(task, [result], message, "written")
            return
        with ExitStack() as stack:
            try:
                path = await self._download(task, result, stack)
            except TooBig:
                message = await self._bot.send_message(
                    task.chat_id, texts("studio.file_too_big", name=name, url=result.url)
                )
                await self._sent(task, [result], message, "too_big")
                return
            handle = stack.enter_context(path.open("rb"))
            upload = InputFile(handle, filename=name)
            if result.media == "audio":
                message = await self._bot.send_audio(task.chat_id, audio=upload, title=title or None)
            elif result.media == "video":
                caption = caption[: MessageLimit.CAPTION_LENGTH] if caption else None
                message = await self._bot.send_video(task.chat_id, video=upload, caption=caption)
            elif result.media == "photo":
                message = await self._bot.send_photo(task.chat_id, photo=upload)
            else:
                message = await self._bot.send_document(task.chat_id, document=upload)
        await self._sent(task, [result], message, result.media)

    async def _save_persona(self, task: Task, texts: Texts, result: ResultFile) -> None:
        """The persona saved for the person (once, whatever the retries), then the person told."""
        saved = saved_persona(result.text)
        if saved is None:
            raise ValueError(f"task {task.id}: a persona result that names no persona")
        audio_id = task.params.get("audioId")
        track = await self._storage.tasks.track_by_audio_id(str(audio_id)) if audio_id else None
        await until_stored(
            lambda: self._storage.results.add_persona(
                user_id=task.user_id,
                persona_id=saved["personaId"],
                name=saved["name"] or str(task.params.get("name") or ""),
                description=saved["description"] or str(task.params.get("description") or ""),
                track_id=track.id if track is not None else None,
                task_id=task.id,
                now=self._now(),
            ),
            what=f"task {task.id}: persona {saved['personaId']}",
        )
        name = saved["name"] or str(task.params.get("name") or "")
        message = await self._bot.send_message(task.chat_id, texts("persona.saved", name=name))
        await self._sent(task, [result], message, "persona")

    async def _send_album(self, task: Task, texts: Texts, title: str, audios: list[ResultFile]) -> None:
        with ExitStack() as stack:
            items = []
            for result in audios:
                path = await self._download(task, result, stack)
                handle = stack.enter_context(path.open("rb"))
                name = file_name(title, result.name)
                # attach=True: an album's files are parts the JSON names (attach://); without it PTB
                # sends no media field at all, and Telegram refuses the album.
                upload = InputFile(handle, filename=name, attach=True)
                items.append(InputMediaAudio(upload, title=result.title or None))
            messages = await self._bot.send_media_group(task.chat_id, media=items)
        for result, message in zip(audios, messages, strict=False):
            await self._sent(task, [result], message, "album")

    async def _send_photos(self, task: Task, texts: Texts, photos: list[ResultFile]) -> None:
        """Images (cover art): one as a photo with its button, more as albums followed by one message
        with a button per image (an album's photos cannot carry buttons); one over Telegram's 10 MB photo
        limit as a document. Images are recorded as sent only once their buttons are out too, so a retry
        never leaves images without them."""
        track = await cover.track_of(self._storage, task) if task.kind is TaskKind.COVER_ART else None
        for start in range(0, len(photos), ALBUM_MAX):
            chunk = photos[start : start + ALBUM_MAX]
            alone = len(chunk) == 1  # one image carries its own button; more get a message of buttons
            markup = cover.use_cover_keyboard(texts, chunk, track.id) if track is not None else None
            sent: list[tuple[ResultFile, Message, str]] = []
            with ExitStack() as stack:
                small = []
                for result in chunk:
                    path = await self._download(task, result, stack)
                    handle = stack.enter_context(path.open("rb"))
                    if path.stat().st_size <= MAX_PHOTO_BYTES:
                        small.append((result, handle))
                        continue
                    # Telegram refuses a photo over 10 MB; the same image as a document still arrives whole.
                    message = await self._bot.send_document(
                        task.chat_id,
                        document=InputFile(handle, filename=result.name),
                        reply_markup=markup if alone else None,
                    )
                    sent.append((result, message, "document"))
                if len(small) == 1:
                    result, handle = small[0]
                    upload = InputFile(handle, filename=result.name)
                    message = await self._bot.send_photo(
                        task.chat_id, photo=upload, reply_markup=markup if alone else None
                    )
                    sent.append((result, message, "photo"))
                elif small:
                    messages = await self._bot.send_media_group(
                        task.chat_id,
                        media=[InputMediaPhoto(InputFile(h, filename=r.name, attach=True)) for r, h in small],
                    )
                    sent += [(r, m, "album") for (r, _), m in zip(small, messages, strict=False)]
            if markup is not None and not alone:
                await self._bot.send_message(
                    task.chat_id,
                    texts("cover.choose", title=track.title if track else ""),
                    reply_markup=markup,
                )
            for result, message, how in sent:
                await self._sent(task, [result], message, how)

    async def _send_zip(self, task: Task, texts: Texts, title: str, audios: list[ResultFile]) -> None:
        with ExitStack() as stack:
            paths = [(await self._download(task, r, stack), file_name(title, r.name)) for r in audios]
            archive = self._tmp_dir / f"studio-{task.id}.zip"
            stack.callback(archive.unlink, missing_ok=True)
            await asyncio.to_thread(_zip, archive, paths)
            if archive.stat().st_size > MAX_UPLOAD_BYTES:
                raise ProviderDownloadError("the stems are too big for one archive", too_big=True)
            handle = stack.enter_context(archive.open("rb"))
            name = file_name(title, "stems.zip")
            message = await self._bot.send_document(task.chat_id, document=InputFile(handle, filename=name))
        await self._sent(task, audios, message, "zip")

    async def _download(self, task: Task, result: ResultFile, stack: ExitStack) -> Path:
        assert result.url is not None
        size = await self._media.size_of(result.url)
        if size is not None and size > MAX_UPLOAD_BYTES:
            raise TooBig(result.name)
        self._tmp_dir.mkdir(parents=True, exist_ok=True)
        path = self._tmp_dir / f"studio-{task.id}-{result.id}"
        stack.callback(path.unlink, missing_ok=True)
        try:
            await self._media.download(result.url, path, max_bytes=MAX_UPLOAD_BYTES)
        except ProviderDownloadError as error:
            if error.too_big:
                raise TooBig(result.name) from None
            raise
        return path

    async def _sent(self, task: Task, results: list[ResultFile], message: Message, how: str) -> None:
        await until_stored(
            lambda: self._storage.results.mark_sent(
                [r.id for r in results], message_id=message.message_id, now=self._now()
            ),
            what=f"task {task.id}: files {[r.id for r in results]} sent as message {message.message_id}",
        )
        self._metrics.studio_files.labels(kind=task.kind.value, how=how).inc(len(results))
        log.info("task %s: %d file(s) sent (%s)", task.id, len(results), how)


def _zip(archive: Path, paths: list[tuple[Path, str]]) -> None:
    # Stored, not deflated: MP3s do not compress, and the work would only cost time.
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as out:
        for path, name in paths:
            out.write(path, arcname=name)
