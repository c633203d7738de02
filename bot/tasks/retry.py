"""What a failed attempt means: retry (when, and waiting for what), or give up; and the backoff."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.provider.client import ProviderDownloadError
from bot.provider.errors import ProviderError
from storage.db import is_busy

log = logging.getLogger(__name__)
T = TypeVar("T")

# Telegram outages and provider hiccups last seconds to minutes: retries start fast and settle at a pace
# that costs nothing while waiting. Work that waits for Telegram is woken as soon as Telegram answers
# again (WorkQueue.telegram_back), so the cap does not delay recovery.
BACKOFF_BASE = 1.0
BACKOFF_CAP = 60.0
# A write takes milliseconds; one still waiting after this is stuck behind a busy database (whose own
# busy timeout, 5 s, ends an attempt later than that).
SLOW_RECORD_SECONDS = 2.0


def backoff(attempt: int, *, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Seconds before attempt `attempt + 1`: exponential, with jitter so retries do not march in step."""
    ceiling = min(cap, base * 2 ** max(0, attempt))
    return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class Verdict:
    """`retry_in` seconds (None: give up now); `waiting_for` names what must come back first."""

    retry_in: float | None
    reason: str
    waiting_for: str | None = None
    chat_gone: bool = False

    @property
    def permanent(self) -> bool:
        return self.retry_in is None


def chat_gone(error: BaseException) -> bool:
    """Telegram will never take messages for this chat again (until the person writes again)."""
    if isinstance(error, Forbidden):
        return True
    return isinstance(error, BadRequest) and "chat not found" in str(error).lower()


def judge(error: BaseException, attempts: int) -> Verdict:
    """The verdict on one failed attempt of chat work (a progress message, a track), `attempts` before it."""
    name = type(error).__name__
    if chat_gone(error):
        return Verdict(None, f"chat unreachable: {error}", chat_gone=True)
    if isinstance(error, RetryAfter):
        seconds = error.retry_after
        delay = seconds.total_seconds() if hasattr(seconds, "total_seconds") else float(seconds)
        return Verdict(delay + random.uniform(0, 1), f"telegram: {error}", waiting_for=None)
    if isinstance(error, BadRequest):
        return Verdict(None, f"telegram refused: {error}")
    if isinstance(error, NetworkError):  # TimedOut, connection resets, a proxy's 502 page
        return Verdict(backoff(attempts), f"telegram unreachable: {name}: {error}", waiting_for="telegram")
    if isinstance(error, TelegramError):
        return Verdict(backoff(attempts), f"telegram: {name}: {error}")
    if isinstance(error, ProviderDownloadError):
        # Too big stays too big; a file that is not there (an expired link) is not coming back by
        # waiting: the delivery gives up at once, which for a track means its audio is recovered.
        if error.too_big or error.gone:
            return Verdict(None, str(error))
        return Verdict(backoff(attempts, base=2.0), f"download: {error}") if attempts < 8 else _spent(error)
    if isinstance(error, ProviderError):
        return Verdict(backoff(attempts, base=2.0), str(error)) if attempts < 8 else _spent(error)
    if is_busy(error):
        return Verdict(backoff(attempts, base=0.5, cap=10.0), f"database busy: {error}")
    # Our own fault: retried a few times (it may depend on a state that passes), then left for a person.
    return Verdict(backoff(attempts), f"{name}: {error}") if attempts < 5 else _spent(error)


def _spent(error: BaseException) -> Verdict:
    return Verdict(None, f"gave up: {type(error).__name__}: {error}")


async def until_stored(write: Callable[[], Awaitable[T]], *, what: str) -> T:
    """Write what must not be lost because it already happened outside (Telegram took a message, the
    provider made a task): kept and written again, with backoff, until the database takes it.

    The log names it as soon as its record is slow, not only once an attempt fails: behind other writes
    in a locked database, the first attempt may wait many seconds and then succeed, and a process
    killed meanwhile must have left the ids in the log for an operator to reconcile."""
    attempt = 0
    while True:
        pending = asyncio.ensure_future(write())
        try:
            if attempt == 0:
                done, _ = await asyncio.wait({pending}, timeout=SLOW_RECORD_SECONDS)
                if not done:
                    log.warning("%s; recording it is slow (the database is busy), still trying", what)
            return await pending
        except asyncio.CancelledError:
            pending.cancel()
            raise
        except Exception as error:
            log.warning("%s, but recording it failed (%s); retrying", what, error)
            await asyncio.sleep(backoff(attempt, base=0.5, cap=5.0))
            attempt += 1
