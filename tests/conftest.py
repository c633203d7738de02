"""Fixtures: the emulators as real loopback servers and the real bot wired to them."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
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
from emulators.postgres_server import PostgresServer, PostgresUnavailable
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.store import Storage

# The bot and the emulator agree on a faster per-chat pace than Telegram's one second, so conversations in
# tests take a quarter of the time; the emulator still counts every call that comes too soon.
CHAT_INTERVAL = 0.25


BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: a test of SQLite itself (its file, its locks)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that stores anything runs on both backends (the `backend` fixture's parameter)."""
    if "backend" in metafunc.fixturenames:
        only_sqlite = metafunc.definition.get_closest_marker("sqlite_only") is not None
        metafunc.parametrize("backend", ["sqlite"] if only_sqlite else list(BACKENDS), scope="function")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | str]:
    """One real PostgreSQL server for the whole run, or why there is none (then its tests skip).

    REQUIRE_POSTGRES=1 (set by .ci/run) turns that skip into a failure: CI must test both backends."""
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as error:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            raise
        yield str(error)
        return
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer | str) -> Iterator[str]:
    """A fresh, empty database on the session's PostgreSQL server (the test skips without one)."""
    if isinstance(postgres_server, str):
        pytest.skip(f"PostgreSQL unavailable: {postgres_server}")
    url = postgres_server.new_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, backend: str) -> str | None:
    """None for SQLite (DATABASE_PATH in the test's folder), else a fresh PostgreSQL database's URL."""
    return None if backend == "sqlite" else request.getfixturevalue("postgres_url")


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
    tmp_path: Path, telegram: TelegramEmulator, provider: ProviderEmulator, database_url: str | None
) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        overrides.setdefault("TELEGRAM_CHAT_INTERVAL", CHAT_INTERVAL)
        if database_url is not None:
            overrides.setdefault("DATABASE_URL", database_url)
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
async def storage(tmp_path: Path, database_url: str | None) -> AsyncIterator[Storage]:
    store = Storage(tmp_path / "unit.sqlite3", url=database_url)
    await store.open()
    yield store
    await store.close()
