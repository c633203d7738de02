"""Callbacks that arrive while the applier is applying an earlier batch are applied too, not only
after the next restart (a batch smaller than the applier's limit once dropped them from its queue)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import aiohttp

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator

ALICE = 1001


async def test_callbacks_arriving_during_an_apply_are_all_applied(
    bot: RunningBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    http: aiohttp.ClientSession,
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    provider.script(hold=True)
    await telegram.user_sends_text(ALICE, "/generate a calm lo-fi song about rain")
    await provider.wait_for(lambda: bool(provider.tasks) and provider.last_task.held, timeout=10)
    task = provider.last_task

    async def post(index: int) -> int:
        body = {
            "code": 200,
            "msg": f"Text generation completed ({index})",  # every payload new: none is a known repeat
            "data": {"callbackType": "text", "task_id": task.task_id, "data": []},
        }
        async with http.post(task.callback_url, json=body) as response:
            return response.status

    statuses: list[int] = []
    for wave in range(6):  # waves overlap the applier's batches: some arrive while one is applied
        statuses += await asyncio.gather(*(post(wave * 50 + i) for i in range(50)))
    assert statuses == [200] * 300
    await bot.services.tasks.idle()
    db = bot.services.storage.db

    async def all_applied() -> bool:
        row = await db.fetchone("SELECT COUNT(*) FROM events WHERE applied_at IS NULL")
        return row is not None and row[0] == 0

    await wait_until(all_applied, timeout=5)
    row = await db.fetchone("SELECT COUNT(*) FROM events WHERE source = 'callback'")
    assert row is not None and row[0] >= 300
