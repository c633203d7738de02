"""No secret and no signed token in the logs, at DEBUG, through a whole song and errors in the routes.

The logs are what the operator's root handler writes (set up as `python -m bot run` does) and what any
other handler sees (pytest's caplog stands for one a library might add): both are searched.
"""

from __future__ import annotations

import io
import logging
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager

import aiohttp
import psycopg
import pytest

from bot.ops.logging_setup import setup_logging
from bot.settings import Settings
from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator

ALICE = 1001
StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[Settings], io.StringIO]]:
    """Configure logging as the bot's command line does, into a buffer; the root logger is put back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def configure(settings: Settings) -> io.StringIO:
        setup_logging(settings.log_level, settings.log_format, secrets=settings.secrets)
        buffer = io.StringIO()
        root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
        root.addHandler(caplog.handler)  # setup_logging keeps only its own handler
        caplog.set_level(logging.DEBUG)
        return buffer

    try:
        yield configure
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


async def test_no_secret_or_token_is_logged_at_debug(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    debug_logs: Callable[[Settings], io.StringIO],
) -> None:
    settings = make_settings(LOG_LEVEL="DEBUG")  # no WEBHOOK_SECRET: the bot generates its own
    assert settings.webhook_secret is None
    output = debug_logs(settings)
    async with start_bot(settings) as bot:
        await telegram.user_sends_text(ALICE, "/generate a calm lo-fi song about rain")
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
        await bot.services.tasks.idle()

        signer = bot.services.signer
        callback_token = signer.callback_token(1)
        file_token = signer.file_token(1)
        master = await bot.services.storage.kv.get("webhook_secret")
        assert master
        # Unhandled errors in both token routes: the tables they need are gone from under them.
        if settings.database_url is None:
            with sqlite3.connect(settings.database_path) as conn:
                conn.execute("DROP TABLE events")
                conn.execute("DROP TABLE uploads")
        else:
            with psycopg.connect(settings.database_url.get_secret_value(), autocommit=True) as pg:
                pg.execute("DROP TABLE events CASCADE")
                pg.execute("DROP TABLE uploads CASCADE")
        task_id = provider.last_task.task_id
        body = {"code": 200, "msg": "ok", "data": {"callbackType": "text", "task_id": task_id, "data": []}}
        async with http.post(f"{bot.url}/callbacks/{callback_token}", json=body) as response:
            assert response.status == 500
        async with http.get(f"{bot.url}/files/{file_token}") as response:
            assert response.status == 500

    logs = "\n".join(
        [output.getvalue(), caplog.text]
        + [f"{r.getMessage()}\n{r.exc_text or ''}\n{r.stack_info or ''}" for r in caplog.records]
    )
    # The capture works, at DEBUG, and holds what the operator needs instead of the secrets.
    assert "Calling Bot API endpoint `setWebhook`" in logs and "secret_token" in logs
    assert "unhandled error on POST /callbacks/{token} (task 1)" in logs
    assert "unhandled error on GET /files/{token} (upload 1)" in logs
    assert "no such table" in logs or "does not exist" in logs  # the tracebacks are there, masked

    token = settings.telegram_bot_token.get_secret_value()
    secrets = {
        "bot token": token,
        "bot token's secret part": token.split(":", 1)[1],
        "provider key": settings.suno_api_key.get_secret_value(),
        "master secret": master,
        "Telegram secret token": bot.services.telegram_secret,
        "callback token": callback_token,
        "callback token's MAC": callback_token.rsplit(".", 1)[1],
        "file token": file_token,
        "file token's MAC": file_token.rsplit(".", 1)[1],
    }
    leaked = [name for name, value in secrets.items() if value in logs]
    assert leaked == []
