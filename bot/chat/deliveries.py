"""One track's delivery, exactly once: checked before, sent, and recorded whatever the database does.

A delivery item names one track. It is sent only while the track has no `sent_at`; once Telegram has
taken it, its file id is written until the database takes it (a busy database never causes a second
send). The one window left is a process killed between Telegram's answer and that write: the track is
then sent again by the next process (a duplicate rather than a loss).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from telegram import Bot

from bot.chat.delivery import TrackDelivery, extend_button
from bot.i18n import Texts
from bot.studio.delivery import FileDelivery
from bot.tasks.retry import until_stored
from bot.telegram.pacing import ChatPacer
from storage.store import Storage

log = logging.getLogger(__name__)


class Deliveries:
    def __init__(
        self,
        *,
        storage: Storage,
        bot: Bot,
        delivery: TrackDelivery,
        pacer: ChatPacer | None,
        files: FileDelivery | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._files = files
        self._storage = storage
        self._bot = bot
        self._delivery = delivery
        self._pacer = pacer
        self._now = clock

    async def deliver(self, track_id: int, *, followers: int) -> None:
        """Send the track unless it was sent; `followers`: the chat's tracks still to come after it."""
        track = await self._storage.tasks.track(track_id)
        if track is None or track.sent_at is not None or not track.audio_url:
            return
        task, locale = await self._storage.tasks.with_locale(track.task_id)
        texts = Texts(locale)
        if self._pacer is not None:
            # Spend the chat's one-second wait before taking one of the few delivery (memory) slots.
            await self._pacer.wait_ready(task.chat_id)
        message = await self._delivery.send(task, track, texts, followers=followers)
        file_id = message.audio.file_id if message.audio else ""
        await until_stored(
            lambda: self._storage.tasks.mark_track_sent(
                track.id, file_id=file_id, message_id=message.message_id, now=self._now()
            ),
            what=f"task {task.id}: track {track.id} delivered as message {message.message_id}",
        )
        log.info("task %s: track %s delivered as message %s", task.id, track.id, message.message_id)

    async def give_up(self, track_id: int) -> None:
        """Downloading kept failing: the person gets the track's link instead, so nothing is silently lost."""
        track = await self._storage.tasks.track(track_id)
        if track is None or track.sent_at is not None or not track.audio_url:
            return
        task, locale = await self._storage.tasks.with_locale(track.task_id)
        texts = Texts(locale)
        message = await self._bot.send_message(
            task.chat_id,
            texts("audio.unavailable", url=track.audio_url),
            reply_markup=extend_button(texts, track),
        )
        await until_stored(
            lambda: self._storage.tasks.mark_track_sent(
                track.id, file_id="", message_id=message.message_id, now=self._now()
            ),
            what=f"task {task.id}: track {track.id} given as a link in message {message.message_id}",
        )

    async def deliver_cover(self, track_id: int, image_id: int) -> None:
        """Use as cover: the track's audio sent again, uploaded anew with the image as its thumbnail
        (Telegram takes a thumbnail only with an upload, never with a file_id). Nothing is recorded on
        the track: it was delivered already, and the work item is the record of this send."""
        track = await self._storage.tasks.track(track_id)
        image = await self._storage.results.file(image_id)
        if track is None or image is None or not image.url or not track.audio_url:
            return
        task, locale = await self._storage.tasks.with_locale(track.task_id)
        if self._pacer is not None:
            await self._pacer.wait_ready(task.chat_id)
        covered = track.model_copy(update={"image_url": image.url})
        message = await self._delivery.send(task, covered, Texts(locale), cover_required=True)
        log.info(
            "task %s: track %s sent again with cover %s as message %s",
            task.id,
            track.id,
            image_id,
            message.message_id,
        )

    async def give_up_cover(self, track_id: int) -> None:
        """The re-send kept failing: the person is told, so the press is not silently lost."""
        track = await self._storage.tasks.track(track_id)
        if track is None:
            return
        task, locale = await self._storage.tasks.with_locale(track.task_id)
        await self._bot.send_message(task.chat_id, Texts(locale)("cover.resend_failed", title=track.title))

    async def deliver_files(self, task_id: int) -> None:
        """A studio task's files (bot/studio/delivery.py), each sent once."""
        if self._files is None:
            raise RuntimeError("no studio file delivery configured")
        task = await self._storage.tasks.get(task_id)
        if task is not None and self._pacer is not None:
            await self._pacer.wait_ready(task.chat_id)
        await self._files.deliver(task_id)

    async def give_up_files(self, task_id: int) -> None:
        if self._files is not None:
            await self._files.give_up(task_id)
