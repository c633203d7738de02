"""Callbacks that arrive while the applier is applying an earlier batch are applied too, in the same run.

Found by bench/outage_drain.py: with hundreds of `complete` callbacks arriving together, a few tasks
never completed. Their events were stored (and acknowledged) but dropped from the applier's queue in
memory, so they waited in storage for the next restart or the next poll (an hour in the bench).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.provider.tasks import STAGE_MESSAGES, EmulatedTask
from emulators.telegram.server import TelegramEmulator
from storage.models import Stage

PEOPLE = range(3001, 3013)
COPIES = 8
WaitUntil = Callable[..., Awaitable[None]]


def complete_payload(task: EmulatedTask, base_url: str) -> dict[str, Any]:
    """The `complete` callback the provider posts for a task, its tracks ready as the provider makes them."""
    for track in task.tracks:
        track.stream_ready = track.audio_ready = True
    items = [track.callback_item(base_url) for track in task.tracks]
    data = {"callbackType": "complete", "task_id": task.task_id, "data": items}
    return {"code": 200, "msg": STAGE_MESSAGES["complete"], "data": data}


async def test_callbacks_stored_while_a_batch_is_applied_are_applied_too(
    bot: RunningBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    http: aiohttp.ClientSession,
    wait_until: WaitUntil,
) -> None:
    for _ in PEOPLE:
        provider.script(hold=True)  # the tasks wait: their callbacks are posted here
    for user in PEOPLE:
        await telegram.user_sends_text(user, f"/generate a song for {user}")
    tasks = bot.services.storage.tasks
    db = bot.services.storage.db

    async def all_submitted() -> bool:
        row = await db.fetchone("SELECT COUNT(*) FROM tasks WHERE provider_task_id IS NOT NULL")
        return row is not None and row[0] == len(PEOPLE)

    await wait_until(all_submitted, timeout=15)
    await asyncio.wait_for(bot.services.tasks.idle(), 15)

    # The provider retries callbacks it is not sure were taken: every task's `complete` several times,
    # a few connections at a time, so callbacks keep being stored while the applier applies the first.
    gate = asyncio.Semaphore(4)

    async def post(task: EmulatedTask) -> None:
        async with gate, http.post(task.callback_url, json=complete_payload(task, provider.url)) as answer:
            assert answer.status == 200

    await asyncio.gather(*(post(t) for t in list(provider.tasks.values()) * COPIES))

    async def all_complete() -> bool:
        row = await db.fetchone("SELECT COUNT(*) FROM tasks WHERE stage = ?", (Stage.COMPLETE.value,))
        return row is not None and row[0] == len(PEOPLE)

    # Well within the poll interval (30 s): completing here means the callbacks did it, not a poll.
    await wait_until(all_complete, timeout=10)
    # The later copies are applied too (as repeats, changing nothing).
    await asyncio.wait_for(bot.services.tasks.idle(), 15)
    unapplied = await db.fetchone("SELECT COUNT(*) FROM events WHERE applied_at IS NULL")
    assert unapplied is not None and unapplied[0] == 0
    for task_id in range(1, len(PEOPLE) + 1):
        assert all(t.sent_at is not None for t in await tasks.tracks(task_id))
    assert telegram.violations == []
