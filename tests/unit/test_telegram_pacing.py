"""ChatPacer: one call per second per chat, a global cap, and a 429 that pauses only its own chat."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.telegram.pacing import ChatPacer


class FakeApi:
    """Stands in for PTB's request: records when each call reached 'Telegram', fails when scripted."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, float]] = []
        self.fail_next: dict[Any, int] = {}  # chat -> retry_after seconds for its next call

    def call(self, chat_id: Any) -> Any:
        async def callback() -> dict[str, Any]:
            self.calls.append((chat_id, time.monotonic()))
            retry_after = self.fail_next.pop(chat_id, None)
            if retry_after is not None:
                raise RetryAfter(retry_after)
            return {"ok": True}

        return callback

    def times(self, chat_id: Any) -> list[float]:
        return [t for chat, t in self.calls if chat == chat_id]


async def send(pacer: ChatPacer, api: FakeApi, chat_id: Any, endpoint: str = "sendMessage") -> Any:
    data = {"chat_id": chat_id, "text": "hi"} if chat_id is not None else {}
    return await pacer.process_request(api.call(chat_id), (), {}, endpoint, data, None)


async def test_calls_to_one_chat_are_spaced_by_the_interval() -> None:
    pacer, api = ChatPacer(per_chat_interval=0.2), FakeApi()
    await asyncio.wait_for(asyncio.gather(*(send(pacer, api, 1) for _ in range(4))), 5)
    times = api.times(1)
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.2 - 0.01, gaps


async def test_different_chats_do_not_wait_for_each_other() -> None:
    pacer, api = ChatPacer(per_chat_interval=0.5), FakeApi()
    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(send(pacer, api, chat) for chat in range(10))), 5)
    assert time.monotonic() - started < 0.3
    assert len(api.calls) == 10


async def test_global_limit() -> None:
    pacer, api = ChatPacer(global_per_second=5, per_chat_interval=0.01), FakeApi()
    await asyncio.wait_for(asyncio.gather(*(send(pacer, api, chat) for chat in range(10))), 10)
    times = sorted(t for _, t in api.calls)
    # No 1-second window holds more than 5 calls (a slot frees a second after the call returned).
    for i in range(len(times) - 5):
        assert times[i + 5] - times[i] >= 1.0 - 0.01


async def test_retry_after_delays_only_that_chat() -> None:
    seen: list[tuple[int | None, float]] = []
    pacer = ChatPacer(
        per_chat_interval=0.05, on_retry_after=lambda chat, seconds: seen.append((chat, seconds))
    )
    api = FakeApi()
    api.fail_next["A"] = 1
    started = time.monotonic()
    a = asyncio.create_task(send(pacer, api, "A"))
    await asyncio.sleep(0.05)  # A got its 429 and is waiting
    b_results = await asyncio.wait_for(asyncio.gather(*(send(pacer, api, "B") for _ in range(3))), 5)
    b_done = time.monotonic()
    assert b_results == [{"ok": True}] * 3
    assert b_done - started < 0.6, "chat B waited for chat A's 429"
    assert not a.done()
    assert await asyncio.wait_for(a, 5) == {"ok": True}
    a_times = api.times("A")
    assert len(a_times) == 2 and a_times[1] - a_times[0] >= 1.0
    assert seen == [(None, 1.0)]  # the chat id is reported when it is numeric


async def test_retry_after_also_holds_back_the_same_chats_next_calls() -> None:
    pacer, api = ChatPacer(per_chat_interval=0.05), FakeApi()
    api.fail_next[7] = 1
    first = asyncio.create_task(send(pacer, api, 7, "editMessageText"))
    await asyncio.sleep(0.05)
    second = asyncio.create_task(send(pacer, api, 7))
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    times = api.times(7)
    assert len(times) == 3
    assert times[2] > times[1] >= times[0] + 1.0  # nothing reached the chat during its retry_after


async def test_gives_up_after_max_retries() -> None:
    pacer, api = ChatPacer(per_chat_interval=0.01, max_retries=0), FakeApi()
    api.fail_next[3] = 1
    with pytest.raises(RetryAfter):
        await send(pacer, api, 3)
    assert len(api.times(3)) == 1


async def test_calls_without_a_chat_and_uncounted_calls_are_not_paced() -> None:
    pacer, api = ChatPacer(per_chat_interval=1.0), FakeApi()
    started = time.monotonic()
    await asyncio.wait_for(
        asyncio.gather(
            *(send(pacer, api, None, "getMe") for _ in range(3)),
            *(send(pacer, api, 9, "answerCallbackQuery") for _ in range(3)),
            *(send(pacer, api, 9, "sendChatAction") for _ in range(3)),
        ),
        5,
    )
    assert time.monotonic() - started < 0.5
    assert len(api.calls) == 9
