"""A kind of work held to capacity waits for room without spinning, and takes more as soon as room frees.

Found by bench/outage_drain.py: with 1,000 deliveries due and 500 held (CAPACITY), the dispatcher saw due
work, claimed none (no room), found the earliest due time already past and went round again at once: one
core busy for as long as the backlog lasted, beside the deliveries it slowed down.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.chat.outbox import Outbox
from bot.ops.metrics import Metrics
from bot.tasks import work_queue
from bot.tasks.work_queue import ERROR_CHARS, WorkQueue, brief
from storage.store import Storage
from storage.work import Kind, NewWork

CAPACITY = 2
CHATS = 6


class _HeldDeliveries:
    """The outbox's collaborators, played by the test: each delivery waits until the test lets it go."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.done: list[int] = []
        self.go = asyncio.Event()

    async def show(self, task_id: int) -> None:
        raise AssertionError("no progress here")

    async def deliver(self, track_id: int, *, followers: int) -> None:
        self.started.append(track_id)
        await self.go.wait()
        self.done.append(track_id)

    async def give_up(self, track_id: int) -> None:
        raise AssertionError("no delivery gives up here")


async def _until(condition: object, timeout: float = 5.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def test_work_held_to_capacity_waits_for_room_without_spinning(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(work_queue.CAPACITY, Kind.DELIVER, CAPACITY)
    chat = _HeldDeliveries()
    queue = WorkQueue(storage.work)
    outbox = Outbox(queue=queue, progress=chat, deliveries=chat, people=storage.people, metrics=Metrics())
    queue.register(Kind.PROGRESS, outbox)
    queue.register(Kind.DELIVER, outbox)
    # Due now and leased to nobody, as deliveries are after an outage: the dispatcher claims them.
    now = time.time()
    items = [NewWork(Kind.DELIVER, track, None, 100 + track, now) for track in range(1, CHATS + 1)]
    await storage.work.want(items, now=now, lease=None)
    await queue.start()
    try:
        await _until(lambda: len(chat.started) == CAPACITY)

        # Full, with more due: nothing to do but wait for room. A dispatcher that goes round and round
        # instead keeps the process busy (its claims and reads run on SQLite's threads too).
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(0.3)
        busy = (time.process_time() - cpu) / (time.monotonic() - wall)
        assert busy < 0.3, f"the dispatcher kept {busy:.0%} of a core busy while it could take nothing"
        assert len(chat.started) == CAPACITY

        chat.go.set()  # room frees: the rest is claimed and delivered without waiting for a due time
        await _until(lambda: len(chat.done) == CHATS)
        await asyncio.wait_for(queue.idle(), 5)
    finally:
        await queue.stop(grace=1.0)
    assert sorted(chat.done) == list(range(1, CHATS + 1))


def test_an_attempts_error_is_logged_and_stored_in_brief() -> None:
    # aiohttp quotes a whole form field in some errors: a file's megabytes must not reach a log line.
    quoted = "Can not serialize value type: <class 'bytes'> value: b'" + "\\x00" * 3_000_000 + "'"
    assert len(brief(quoted)) == ERROR_CHARS and brief(quoted).endswith("…")
    assert brief("telegram unreachable") == "telegram unreachable"
