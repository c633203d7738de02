"""One person flooding the bot does not hold up anybody else: the real bot, PTB and the emulators at
Telegram's own pace of one message a second per chat."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from bot.settings import Settings
from emulators.harness import EMULATOR_BOT_TOKEN, RunningBot
from emulators.telegram.server import TelegramEmulator

ALICE = 1001
BOB = 1002
BURST = 30


@pytest.fixture
async def telegram(tmp_path: Path) -> AsyncIterator[TelegramEmulator]:
    # Telegram's real per-chat pace (the shared fixture is 4x faster): each of Alice's answers then keeps
    # her next update waiting a whole second, which is what stalled everyone behind her.
    async with TelegramEmulator(
        EMULATOR_BOT_TOKEN, files_dir=tmp_path / "telegram-files", per_chat_interval=1.0
    ) as emulator:
        yield emulator


async def test_a_burst_from_one_person_does_not_delay_another(
    telegram: TelegramEmulator,
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
) -> None:
    settings = make_settings(TELEGRAM_CHAT_INTERVAL=1.0)
    async with start_bot(settings):
        started = time.monotonic()
        for _ in range(BURST):
            await telegram.user_sends_text(ALICE, "/help")
        # Every one of Alice's updates has reached the bot before Bob's, in well under a second.
        await telegram.wait_for(lambda: len(telegram.webhook_deliveries) >= BURST, timeout=5)
        assert all(d.status == 200 for d in telegram.webhook_deliveries)
        assert time.monotonic() - started < 1.0

        asked = time.monotonic()
        await telegram.user_sends_text(BOB, "/start", first_name="Bob")
        await telegram.wait_for(lambda: len(telegram.bot_messages(BOB)) == 1, timeout=2)
        assert time.monotonic() - asked < 2.0
        assert "Bob" in telegram.bot_messages(BOB)[0].text
        assert len(telegram.bot_messages(ALICE)) < BURST // 2  # Alice's burst was still being answered

        # Alice loses nothing (her line is below its bound) and is answered at her chat's pace.
        await telegram.wait_for(lambda: len(telegram.bot_messages(ALICE)) == BURST, timeout=BURST + 15)
        assert telegram.violations == []
