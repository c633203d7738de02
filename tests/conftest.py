"""Fixtures: the emulators as real loopback servers and the real bot wired to them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest

from bot.settings import Settings
from emulators.harness import (
    EMULATOR_API_KEY,
    EMULATOR_BOT_TOKEN,
    RunningBot,
    emulator_settings,
    running_bot,
)
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.store import Storage

# The bot and the emulator agree on a faster per-chat pace than Telegram's one second, so conversations in
# tests take a quarter of the time; the emulator still counts every call that comes too soon.
CHAT_INTERVAL = 0.25


@pytest.fixture
async def telegram(tmp_path: Path) -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(
        EMULATOR_BOT_TOKEN, files_dir=tmp_path / "telegram-files", per_chat_interval=CHAT_INTERVAL
    ) as emulator:
        yield emulator


@pytest.fixture
async def provider() -> AsyncIterator[ProviderEmulator]:
    async with ProviderEmulator(
        EMULATOR_API_KEY, stage_delays=(0.05, 0.1, 0.15), track_seconds=2.0
    ) as emulator:
        yield emulator


@pytest.fixture
def make_settings(
    tmp_path: Path, telegram: TelegramEmulator, provider: ProviderEmulator
) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        overrides.setdefault("TELEGRAM_CHAT_INTERVAL", CHAT_INTERVAL)
        return emulator_settings(
            tmp_path / "bot-data", telegram_url=telegram.url, provider_url=provider.url, **overrides
        )

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def start_bot() -> Callable[[Settings], AbstractAsyncContextManager[RunningBot]]:
    return running_bot


@pytest.fixture
async def bot(settings: Settings) -> AsyncIterator[RunningBot]:
    async with running_bot(settings) as running:
        yield running


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    store = Storage(tmp_path / "unit.sqlite3")
    await store.open()
    yield store
    await store.close()
