"""One track's delivery, exactly once: checked before, sent, and recorded whatever the database does.

A delivery item names one track. It is sent only while the track has no `sent_at`; once Telegram has
taken it, its file id is written until the database takes it (a busy database never causes a second
send). The one window left is a process killed between Telegram's answer and that write: the track is
then sent again by the next process (a duplicate rather than a loss).

A track whose audio keeps failing to download is recovered first (storage/recovery.py): the provider's
fresh link is delivered as the track, and only when that cannot help is the link given instead. What a
recovery could not bring back is told here too, in one message (`deliver:files:<recovery task>`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from telegram import Bot

from bot.chat.delivery import TrackDelivery, extend_button
from bot.chat.progress import task_summary
from bot.i18n import Texts
from bot.studio.delivery import FileDelivery
from bot.studio.recovery import reason_key
from bot.tasks.retry import until_stored
from bot.telegram.pacing import ChatPacer
from storage.models import Task, TaskKind, Track
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
        wake: Callable[[], None] | None = None,
        recoveries_started: Callable[[int], None] | None = None,
    ) -> None:
        """`wake`: the work queue's, for the work a recovery records; `recoveries_started`: counts them."""
        self._wake = wake
        self._recoveries_started = recoveries_started
        self._files = files
        self._storage = storage
        self._bot = bot
        self._delivery = delivery
        self._pacer = pacer
        self._now = clock

    async def deliver(self, track_id: int, *, followers: int) -> None:
        """Send the track unless it was sent; `followers`: the chat's tracks still to come after it."""
        track = await self._storage.tasks.track(track_id)
        # No audio: the track waits for its recovery (storage/recovery.py), which delivers or tells.
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
        """Downloading kept failing: the provider recovers the track first (its fresh link is delivered as
        a new item); when that cannot help, the person gets the link instead, so nothing is silently lost."""
        outcome, recorded, created = await self._storage.recovery.after_download_failure(
            track_id, now=self._now()
        )
        if created and self._recoveries_started is not None:
            self._recoveries_started(created)
        if recorded and self._wake is not None:
            self._wake()  # recorded unleased: the dispatcher takes it
        if outcome != "give_up":
            log.info("track %s would not download: %s", track_id, outcome)
            return
        track = await self._storage.tasks.track(track_id)
        url = (track.audio_url or track.lost_url) if track is not None else None
        if track is None or track.sent_at is not None or not url:
            return
        task, locale = await self._storage.tasks.with_locale(track.task_id)
        await self._as_link(task, track, url, Texts(locale))

    async def _as_link(self, task: Task, track: Track, url: str, texts: Texts) -> None:
        message = await self._bot.send_message(
            task.chat_id, texts("audio.unavailable", url=url), reply_markup=extend_button(texts, track)
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
        task = await self._storage.tasks.get(task_id)
        if task is not None and self._pacer is not None:
            await self._pacer.wait_ready(task.chat_id)
        if task is not None and task.kind is TaskKind.RECOVERY:
            await self._tell_recovery(task)
            return
        if self._files is None:
            raise RuntimeError("no studio file delivery configured")
        await self._files.deliver(task_id)

    async def give_up_files(self, task_id: int) -> None:
        task = await self._storage.tasks.get(task_id)
        if task is not None and task.kind is TaskKind.RECOVERY:
            await self._tell_recovery(task)  # it downloads nothing: there is nothing to give up on
        elif self._files is not None:
            await self._files.give_up(task_id)

    async def _tell_recovery(self, recovery: Task) -> None:
        """What a recovery left without audio, told once: a link that would not download is given as
        before; the tracks that are lost are named in one message, with the reason and any credits back."""
        outcome = await self._storage.recovery.outcome(recovery)
        if outcome is None:
            return
        _, locale = await self._storage.tasks.with_locale(recovery.id)
        texts = Texts(locale)
        parent = outcome.parent
        lost: list[tuple[Track, str]] = []
        for track, reason in outcome.lost:
            if track.lost_url:
                await self._as_link(parent, track, track.lost_url, texts)
            else:
                lost.append((track, reason))
        lines = [
            texts(
                "recovery.lost",
                position=track.position + 1,
                title=track.title or task_summary(parent),
                reason=texts(reason_key(reason)),
            )
            for track, reason in lost
        ]
        if lost and outcome.given_back:
            lines.append(texts("recovery.given_back", credits=outcome.given_back))
        message_id = 0
        if lines:
            message = await self._bot.send_message(parent.chat_id, "\n".join(lines))
            message_id = message.message_id
        await until_stored(
            lambda: self._storage.recovery.told(
                recovery.id, [t.id for t, _ in lost], message_id=message_id, now=self._now()
            ),
            what=f"task {parent.id}: {len(lost)} lost track(s) told in message {message_id}",
        )
        log.info("task %s: recovery %s told %d lost track(s)", parent.id, recovery.id, len(lost))
