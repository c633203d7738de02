"""Pacing for every Bot API call: Telegram's global and per-chat limits, and 429s per chat.

PTB's AIORateLimiter has no per-private-chat limit and, on a 429, halts every request of the bot. A music
bot edits progress messages in many chats at once, so one person's 429 must not stall everyone else:
this limiter keeps a sliding window per chat and honours `retry_after` for that chat alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.sliding_window import SlidingWindowBudget

log = logging.getLogger(__name__)

# Calls that carry a chat_id but do not post into the chat, so Telegram does not count them.
_UNCOUNTED = frozenset({"sendChatAction", "getChat", "answerCallbackQuery", "getFile"})
_IDLE_CHAT_SECONDS = 60.0


class ChatPacer(BaseRateLimiter[int]):
    def __init__(
        self,
        *,
        global_per_second: int = 30,
        per_chat_interval: float = 1.0,
        max_retries: int = 3,
        on_retry_after: Callable[[int | None, float], None] | None = None,
    ) -> None:
        self._global = SlidingWindowBudget(global_per_second, 1.0)
        self._per_chat_interval = per_chat_interval
        self._chats: dict[int | str, tuple[SlidingWindowBudget, float]] = {}
        self._max_retries = max_retries
        self._on_retry_after = on_retry_after

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
            entry = (SlidingWindowBudget(1, self._per_chat_interval), now)
        self._chats[chat_id] = (entry[0], now)
        return entry[0]

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
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        if chat_id is None or endpoint in _UNCOUNTED:
            return await callback(*args, **kwargs)
        chat = self._chat_budget(chat_id)
        retries = rate_limit_args if rate_limit_args is not None else self._max_retries
        # The chat's slot is held across retries: a 429 pauses this chat only.
        async with chat.slot():
            for attempt in range(retries + 1):
                try:
                    async with self._global.slot():
                        return await callback(*args, **kwargs)
                except RetryAfter as error:
                    if attempt == retries:
                        raise
                    delay = error.retry_after
                    seconds = delay.total_seconds() if hasattr(delay, "total_seconds") else float(delay)
                    log.warning("Telegram asked chat %s to wait %.1fs (%s)", chat_id, seconds, endpoint)
                    if self._on_retry_after:
                        self._on_retry_after(chat_id if isinstance(chat_id, int) else None, seconds)
                    await asyncio.sleep(seconds + 0.1)
        raise AssertionError("unreachable")
