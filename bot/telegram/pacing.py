"""Pacing for every Bot API call: Telegram's global and per-chat limits, and 429s per chat.

PTB's AIORateLimiter has no per-private-chat limit and, on a 429, halts every request of the bot. A music
bot edits progress messages in many chats at once, so one person's 429 must not stall everyone else:
this limiter keeps a sliding window per chat and honours `retry_after` for that chat alone.

Calls have a priority, carried by PTB's `rate_limit_args` (an int there still means max_retries):

- leading (`Pace.leading(n)`): a call that n more calls to its chat must wait for, each a second after
  the one before: the final state before the tracks (n = the tracks), a track before the next one. It
  goes before everything else, the longest chain first: the chat's remaining calls can then be spread
  over the burst. Served behind the uploads, the final edits of many chats piled up until the uploads
  ran out, and each of those chats then needed two or three more seconds alone at the end;
- UPLOAD: a file upload (sendAudio...). The caller holds a file in memory and one of the few delivery
  slots while it waits, so it goes before the rest;
- NORMAL: anything else a person must see (the first progress message, a failure, answers);
- LOW (`Pace.low()`): an intermediate progress edit. It is served only when no better call waits and
  more than `low_reserve` global slots are free, and while it waits for its slots it can be pre-empted:
  the outbox cancels it when newer work for the chat arrives (see `Preemptible`), so the newest state
  wins and intermediate states yield to mandatory calls instead of competing with them.

An optional edit can also take its slots *before* it decides what to say (`ahead`): the wait comes
first, then the newest state is read and rendered once, and the next call to that chat inside the block
spends the slots already held. Hundreds of chats waiting for the global budget then cost nothing while
they wait, instead of each rendering a state that is overtaken before it can be sent.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.provider.budget import SlidingWindowBudget

log = logging.getLogger(__name__)

# Calls that carry a chat_id but do not post into the chat, so Telegram does not count them.
_UNCOUNTED = frozenset({"sendChatAction", "getChat", "answerCallbackQuery", "getFile"})
_UPLOADS = frozenset({"sendAudio", "sendDocument", "sendVoice", "sendPhoto", "sendVideo"})
_IDLE_CHAT_SECONDS = 60.0


class Priority(IntEnum):
    UPLOAD = 0
    NORMAL = 1
    LOW = 2


@dataclass(frozen=True)
class Pace:
    """What a call passes as `rate_limit_args` to choose its priority (and, optionally, its retries).

    `followers`: how many more calls to the same chat wait for this one (see the module's docstring).
    """

    priority: Priority = Priority.NORMAL
    retries: int | None = None
    followers: int = 0

    @classmethod
    def low(cls) -> Pace:
        return cls(Priority.LOW)

    @classmethod
    def leading(cls, followers: int) -> Pace:
        return cls(Priority.NORMAL, followers=followers)


class Preemptible:
    """Set (through `PREEMPTIBLE`) by whoever may cancel a low-priority call while it waits for its slots.

    `waiting` is True only while a LOW call waits in the pacer; once its slots are granted it is False, so
    cancelling on `waiting` can never interrupt a request that Telegram may already have received.
    `overtaken` is set when newer work arrives at any moment: a step that was still reading or rendering
    then was not waiting, and it must not go on to wait (for as long as the budget is busy) with a state
    that is already old, so it is cancelled as soon as it would start to wait.
    """

    __slots__ = ("overtaken", "waiting")

    def __init__(self) -> None:
        self.waiting = False
        self.overtaken = False

    def wait_begins(self) -> None:
        if self.overtaken:
            # Given way here, synchronously: a cancel() would land at the next await, which may be the send.
            raise asyncio.CancelledError
        self.waiting = True


PREEMPTIBLE: contextvars.ContextVar[Preemptible | None] = contextvars.ContextVar("preemptible", default=None)


@dataclass
class _Held:
    """Slots taken by `ChatPacer.ahead` for the next call to one chat."""

    chat_id: int | str
    chat: SlidingWindowBudget
    spent: bool = False


_HELD: contextvars.ContextVar[_Held | None] = contextvars.ContextVar("held_slots", default=None)


class ChatPacer(BaseRateLimiter[int | Pace]):
    def __init__(
        self,
        *,
        global_per_second: int = 30,
        per_chat_interval: float = 1.0,
        max_retries: int = 3,
        on_retry_after: Callable[[int | None, float], None] | None = None,
        on_answer: Callable[[str, float], None] | None = None,
        low_reserve: int | None = None,
        budgets: Callable[[int | str | None, int, float], SlidingWindowBudget] | None = None,
    ) -> None:
        # `budgets` (chat id, or None for the global one; limit; window) makes the budgets: with several
        # replicas, budgets shared through the database (bot/provider/shared_budget.py).
        self._budgets = budgets or (lambda chat_id, limit, window: SlidingWindowBudget(limit, window))
        self._global = self._budgets(None, global_per_second, 1.0)
        # Low-priority calls leave a sixth of the global budget to calls that arrive after them.
        self._low_reserve = global_per_second // 6 if low_reserve is None else low_reserve
        self._per_chat_interval = per_chat_interval
        self._chats: dict[int | str, tuple[SlidingWindowBudget, float]] = {}
        self._max_retries = max_retries
        self._on_retry_after = on_retry_after
        self._on_answer = on_answer  # (endpoint, seconds the call took): how long each slot was in flight

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        self._chats.clear()

    def _chat_budget(self, chat_id: int | str) -> SlidingWindowBudget:
        now = time.monotonic()
        entry = self._chats.get(chat_id)
        if entry is None:
            if len(self._chats) > 1000:
                self._forget_idle(now)
            entry = (self._budgets(chat_id, 1, self._per_chat_interval), now)
        self._chats[chat_id] = (entry[0], now)
        return entry[0]

    async def wait_ready(self, chat_id: int | str) -> None:
        """Wait until a call to this chat would not have to wait for the chat's own limit.

        Deliveries wait here before they take a file into memory, so the per-chat second is spent
        outside the bounded delivery slots (nothing is reserved: the chat's single worker is the caller).
        """
        entry = self._chats.get(chat_id)
        if entry is None:
            return
        budget = entry[0]
        while True:
            delay = budget.next_free_in()
            if delay <= 0 and not budget.waiting:
                return
            await asyncio.sleep(max(delay, 0.01))

    @asynccontextmanager
    async def ahead(self, chat_id: int | str) -> AsyncIterator[None]:
        """Wait for this chat's slot and a low-priority global slot before deciding what to send.

        The next call to `chat_id` inside the block spends them without waiting; if none is made, they
        are returned unused (free at once, since nothing was sent). While it waits this is pre-emptible
        like a LOW call.
        """
        chat = self._chat_budget(chat_id)
        preemptible = PREEMPTIBLE.get()
        if preemptible is not None:
            preemptible.wait_begins()
        try:
            await chat.acquire()
            try:
                await self._global.acquire(priority=Priority.LOW, reserve=self._low_reserve)
            except BaseException:
                chat.release(unused=True)
                raise
        finally:
            if preemptible is not None:
                preemptible.waiting = False
        held = _Held(chat_id, chat)
        token = _HELD.set(held)
        try:
            yield
        finally:
            _HELD.reset(token)
            if not held.spent:
                self._global.release(unused=True)
                chat.release(unused=True)

    @property
    def global_waiting(self) -> int:
        return self._global.waiting

    def _forget_idle(self, now: float) -> None:
        for chat_id, (budget, last_used) in list(self._chats.items()):
            if now - last_used > _IDLE_CHAT_SECONDS and budget.waiting == 0:
                del self._chats[chat_id]

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | Pace | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        if chat_id is None or endpoint in _UNCOUNTED:
            return await callback(*args, **kwargs)
        pace = rate_limit_args if isinstance(rate_limit_args, Pace) else Pace(retries=rate_limit_args)
        retries = self._max_retries if pace.retries is None else pace.retries
        priority = pace.priority
        if priority is Priority.NORMAL and endpoint in _UPLOADS:
            priority = Priority.UPLOAD
        # The budget serves lower numbers first: a call with followers goes before all others, the longest
        # chain first.
        rank = -pace.followers if pace.followers > 0 else int(priority)
        reserve = self._low_reserve if priority is Priority.LOW else 0
        held = _HELD.get()
        prepaid = held is not None and not held.spent and held.chat_id == chat_id
        preemptible = PREEMPTIBLE.get() if priority is Priority.LOW else None
        if held is not None and prepaid:
            held.spent = True  # this call owns the held slots now, and releases them as its own
            chat = held.chat
        else:
            chat = self._chat_budget(chat_id)
            if preemptible is not None:
                preemptible.wait_begins()
            try:
                await chat.acquire()
            finally:
                if preemptible is not None:
                    preemptible.waiting = False
        # The chat's slot is held across retries: a 429 pauses this chat only.
        sent_any = False
        try:
            for attempt in range(retries + 1):
                if not prepaid:
                    if preemptible is not None:
                        preemptible.wait_begins()
                    try:
                        await self._global.acquire(priority=rank, reserve=reserve)
                    finally:
                        if preemptible is not None:
                            preemptible.waiting = False
                prepaid = False  # a retry waits for a new global slot like any call
                sent = time.monotonic()
                sent_any = True
                try:
                    return await callback(*args, **kwargs)
                except RetryAfter as error:
                    delay = error.retry_after
                    seconds = delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay)
                    chat.hold_off(seconds)  # whether or not this call tries again, the chat must wait
                    if attempt == retries:
                        raise
                finally:
                    self._global.release()
                    if self._on_answer is not None:
                        self._on_answer(endpoint, time.monotonic() - sent)
                log.warning("Telegram asked chat %s to wait %.1fs (%s)", chat_id, seconds, endpoint)
                if self._on_retry_after:
                    self._on_retry_after(chat_id if isinstance(chat_id, int) else None, seconds)
                await asyncio.sleep(seconds + 0.1)
        finally:
            chat.release(unused=not sent_any)  # given way before sending: the chat's second is not spent
        raise AssertionError("unreachable")
