"""PostgreSQL's own faults: the server drops every connection of the bot while a song is made.

A restart of the database server, a failover or a proxy's idle timeout all look like this to the bot: its
pooled connections die between two uses (or during one). Nothing may be lost or sent twice.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from bot.settings import Settings
from emulators.provider.server import ProviderEmulator
from emulators.provider.tasks import EmulatedTask
from emulators.telegram.server import TelegramEmulator
from tests.integration.test_durability import delivered_and_done, failures_shown
from tests.integration.test_faults import ALICE, StartBot, assert_delivered_once, generate


def _drop_connections(url: str) -> int:
    """End every other session on the bot's database, as a server restart would; how many ended."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


async def test_connections_dropped_as_a_song_is_made_lose_nothing(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    backend: str,
) -> None:
    if backend != "postgresql":
        pytest.skip("a PostgreSQL server's fault")
    settings = make_settings()
    assert settings.database_url is not None
    url = settings.database_url.get_secret_value()
    dropped: list[int] = []

    async with start_bot(settings) as bot:

        async def drop_on_task(task: EmulatedTask) -> None:
            provider.on_task_created = None
            dropped.append(_drop_connections(url))  # while the submission's answer is on its way

        provider.on_task_created = drop_on_task
        await generate(telegram)
        await telegram.wait_for(lambda: bool(dropped), timeout=10)
        await telegram.wait_for(delivered_and_done(telegram), timeout=30)
        dropped.append(_drop_connections(url))  # and once more, idle, before the last checks
        await assert_delivered_once(bot, telegram)
        task = await bot.services.storage.tasks.require(1)
        assert task.provider_task_id == provider.last_task.task_id
    assert dropped[0] >= 1, "the bot had no connection to drop"
    assert len(provider.api_requests("generate")) == 1
    assert failures_shown(telegram, ALICE) == []
