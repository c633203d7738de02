"""Two bots on one PostgreSQL database hold Telegram's and the provider's limits together, as one does.

Both run in this process (emulators/harness.py running_bot) against one Telegram emulator and one provider
emulator, which count every call that arrives over a limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from telegram.error import RetryAfter

from bot.telegram.pacing import Pace
from emulators.harness import EMULATOR_API_KEY, RunningBot, emulator_settings, running_bot
from emulators.postgres_server import PostgresServer
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from tests.conftest import CHAT_INTERVAL

BUDGET, WINDOW = 4, 1.0  # the provider's budget, small so that a burst of a few songs runs into it
PEOPLE = [3001, 3002, 3003, 3004]


@pytest.fixture
async def provider() -> AsyncIterator[ProviderEmulator]:
    async with ProviderEmulator(
        EMULATOR_API_KEY,
        stage_delays=(0.05, 0.1, 0.15),
        track_seconds=2.0,
        budget=BUDGET,
        budget_window=WINDOW,
    ) as emulator:
        yield emulator


@pytest.fixture
async def replicas(
    tmp_path: Path,
    postgres_server: PostgresServer | str,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> AsyncIterator[tuple[RunningBot, RunningBot]]:
    if isinstance(postgres_server, str):
        pytest.skip(f"PostgreSQL unavailable: {postgres_server}")
    url = postgres_server.new_database()
    try:
        async with AsyncExitStack() as stack:
            bots = []
            for name in ("a", "b"):
                settings = emulator_settings(
                    tmp_path / name,
                    telegram_url=telegram.url,
                    provider_url=provider.url,
                    DATABASE_URL=url,
                    TELEGRAM_CHAT_INTERVAL=CHAT_INTERVAL,
                    SUNO_REQUESTS_PER_WINDOW=BUDGET,
                    SUNO_REQUEST_WINDOW=WINDOW,
                )
                bots.append(await stack.enter_async_context(running_bot(settings)))
            for person in PEOPLE:
                await telegram.user_sends_text(person, "/start")
            await telegram.wait_for(lambda: all(telegram.bot_messages(p) for p in PEOPLE), timeout=10)
            yield bots[0], bots[1]
    finally:
        postgres_server.drop_database(url)


async def test_a_burst_through_both_replicas_stays_within_every_limit(
    replicas: tuple[RunningBot, RunningBot], telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    first, second = replicas

    async def messages(replica: RunningBot) -> None:
        await asyncio.gather(
            *(
                replica.telegram.bot.send_message(chat_id=person, text=f"note {i}")
                for i in range(6)
                for person in PEOPLE
            )
        )

    async def balance_checks(replica: RunningBot) -> None:
        await asyncio.gather(*(replica.services.provider.credits() for _ in range(6)))

    # Songs too: whichever replica takes their work, submissions, polls and deliveries share the limits.
    for person in PEOPLE:
        await telegram.user_sends_text(person, "/generate a short song")
    await asyncio.wait_for(
        asyncio.gather(messages(first), messages(second), balance_checks(first), balance_checks(second)),
        timeout=60,
    )
    await telegram.wait_for(lambda: all(len(telegram.audios(p)) == 2 for p in PEOPLE), timeout=60)
    assert provider.violations == []
    assert telegram.violations == []
    # The grant is cheap: a few milliseconds at most even with both replicas asking at once.
    p50, _ = first.services.provider.budget.limits.grant_latency()  # type: ignore[attr-defined]
    assert 0 < p50 < 50


async def test_a_429_seen_by_one_replica_makes_the_other_wait(
    replicas: tuple[RunningBot, RunningBot], telegram: TelegramEmulator
) -> None:
    first, second = replicas
    chat = PEOPLE[0]
    telegram.fail_next("sendMessage", error_code=429, retry_after=2, chat_id=chat, times=1)
    with pytest.raises(RetryAfter):
        await first.telegram.bot.send_message(chat_id=chat, text="too soon", rate_limit_args=Pace(retries=0))
    refused = next(r for r in reversed(telegram.requests) if r.status == 429)
    asked = time.monotonic()
    await asyncio.wait_for(second.telegram.bot.send_message(chat_id=chat, text="later"), timeout=10)
    sent = next(r for r in reversed(telegram.requests) if r.method == "sendMessage" and r.status == 200)
    assert sent.params["text"] == "later"
    assert sent.time - refused.time >= 2.0 - 0.05, f"sent {sent.time - refused.time:.2f}s after the 429"
    assert time.monotonic() - asked < 5
