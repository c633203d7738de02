"""Running the real bot in-process against the emulators: shared by `python -m bot demo` and the tests."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app import build_app
from bot.services import Services
from bot.settings import Settings
from bot.web.keys import SERVICES, TELEGRAM

EMULATOR_BOT_TOKEN = "123456:EMULATOR-token"  # the emulator's own made-up token, not a real bot
EMULATOR_API_KEY = "emulator-suno-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def served(app: web.Application) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port for the duration of the block; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def emulator_settings(
    data_dir: Path,
    *,
    telegram_url: str,
    provider_url: str,
    webhook: bool = True,
    port: int | None = None,
    **overrides: Any,
) -> Settings:
    """Settings that point the bot at the emulators; nothing is read from the environment or .env."""
    port = port or free_port()
    values: dict[str, Any] = {
        "TELEGRAM_BOT_TOKEN": EMULATOR_BOT_TOKEN,
        "TELEGRAM_API_URL": telegram_url,
        "SUNO_API_KEY": EMULATOR_API_KEY,
        "SUNO_API_URL": provider_url,
        "SUNO_UPLOAD_URL": provider_url,
        "PUBLIC_URL": f"http://127.0.0.1:{port}" if webhook else None,
        "HOST": "127.0.0.1",
        "PORT": port,
        "DATABASE_PATH": data_dir / "bot.sqlite3",
        "DATA_DIR": data_dir,
        "SUNO_POLL_INTERVAL": 30,
        # The emulators serve on loopback over http, where the Telegram emulator can fetch tracks itself.
        "DELIVERY_URL_SCHEMES": "http,https",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class RunningBot:
    app: web.Application
    settings: Settings

    @property
    def services(self) -> Services:
        return self.app[SERVICES]

    @property
    def telegram(self) -> Any:
        return self.app[TELEGRAM]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.port}"


@asynccontextmanager
async def running_bot(settings: Settings) -> AsyncIterator[RunningBot]:
    """The whole bot (web server, PTB, storage, poller) on loopback, stopped cleanly on exit."""
    app = build_app(settings)
    runner = web.AppRunner(app, access_log=None)
    try:
        # Inside the try: a start-up that fails half way still closes what it had opened.
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        yield RunningBot(app, settings)
    finally:
        await runner.cleanup()
