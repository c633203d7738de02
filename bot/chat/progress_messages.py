"""Showing a task's newest state in its one progress message: sent once, then edited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from telegram import Bot
from telegram.error import BadRequest

from bot.chat.progress import render_progress
from bot.i18n import Texts
from bot.tasks.retry import until_stored
from bot.telegram.pacing import ChatPacer, Pace
from storage.models import Stage, Task, TaskKind, Track
from storage.store import Storage

SHOWN_TEXTS_KEPT = 20_000
TRACKS_PER_TASK = 2  # the provider makes two songs for every generation, cover or extension


def undelivered(tracks: list[Track]) -> list[Track]:
    return [t for t in tracks if t.sent_at is None and t.audio_url]


class ProgressMessages:
    def __init__(
        self,
        *,
        storage: Storage,
        bot: Bot,
        pacer: ChatPacer | None,
        queue_position: Callable[[int], int | None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._storage = storage
        self._bot = bot
        self._pacer = pacer
        self._queue_position = queue_position
        self._now = clock
        # What recent tasks' progress messages show, as this process edited them. Edits are not written
        # back (storage keeps the text sent first): the text holds the elapsed time, so after a restart an
        # unfinished task's message is due for an edit anyway.
        self._shown: dict[int, str] = {}

    async def show(self, task_id: int) -> None:
        """Send or edit the task's progress message to show its state now (nothing if it shows it)."""
        task, locale, name = await self._storage.tasks.with_asker(task_id)
        if task.kind is TaskKind.RECOVERY:
            # A recovery has no message of its own: the song's says that it is under way, then no more.
            parent = await self._storage.recovery.parent(task)
            if parent is not None and parent.progress_message_id is not None:
                await self.show(parent.id)
            return
        texts = Texts(locale)
        tracks = await self._storage.tasks.tracks(task_id) if task.stage is Stage.COMPLETE else []
        waiting = [t for t in tracks if t.sent_at is None and not t.audio_url]
        recovering = len(waiting) if waiting and await self._storage.recovery.running_for(task) else 0
        text = render_progress(
            task,
            texts,
            now=self._now(),
            queue_position=self._queue_position(task_id),
            track_count=len(tracks),
            recovering=recovering,
            # In a group several people make songs side by side: each message says whose it is.
            asked_by=(name or "?") if task.chat_id != task.user_id else None,
        )
        pacing = self._pacing(task, tracks)
        if task.progress_message_id is None:
            await self._send(task, text, pacing)
            return
        if text == self._shown.get(task_id, task.progress_text):
            return
        try:
            await self._bot.edit_message_text(
                text, chat_id=task.chat_id, message_id=task.progress_message_id, **pacing
            )
        except BadRequest as error:
            reason = str(error).lower()
            if "not modified" in reason:
                pass  # the message already shows this: success
            elif "message to edit not found" in reason:
                await self._send(task, text, {})  # deleted by the person
                return
            else:
                raise
        self._remember(task, text)

    async def _send(self, task: Task, text: str, pacing: dict[str, Any]) -> None:
        message = await self._bot.send_message(task.chat_id, text, **pacing)
        # Sent: a second send would leave the person two progress messages.
        await until_stored(
            lambda: self._storage.tasks.set_progress(task.id, message_id=message.message_id, text=text),
            what=f"task {task.id}: progress message {message.message_id} sent",
        )
        self._remember(task, text)

    def _remember(self, task: Task, text: str) -> None:
        self._shown.pop(task.id, None)
        self._shown[task.id] = text  # newest last
        if len(self._shown) > SHOWN_TEXTS_KEPT:
            self._shown.pop(next(iter(self._shown)))  # the longest unchanged: most likely finished

    def _pacing(self, task: Task, tracks: list[Track]) -> dict[str, Any]:
        """How the pacer should rank a progress call (nothing without our ChatPacer).

        The calls that others of the chat wait for go first: the first message (the final state and the
        tracks follow it) and the final state before the tracks. An intermediate edit yields to mandatory
        calls and may be overtaken (the outbox then shows the newest state).
        """
        if self._pacer is None:
            return {}
        if not task.stage.terminal:
            if task.progress_message_id is not None:
                return {"rate_limit_args": Pace.low()}
            followers = 1 + TRACKS_PER_TASK
        else:
            followers = len(undelivered(tracks))
        return {"rate_limit_args": Pace.leading(followers)} if followers else {}
