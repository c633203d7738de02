"""SIGTERM stops the real `python -m bot run` process gracefully: calls under way finish, the rest waits
in storage, the exit status is 0, and the next start continues exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from emulators.harness import EMULATOR_API_KEY, EMULATOR_BOT_TOKEN, emulator_settings, free_port, running_bot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator

ALICE = 1001


def bot_environment(
    data_dir: Path, port: int, telegram: TelegramEmulator, provider: ProviderEmulator
) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV")}
    return {
        **keep,
        "TELEGRAM_BOT_TOKEN": EMULATOR_BOT_TOKEN,
        "TELEGRAM_API_URL": telegram.url,
        "SUNO_API_KEY": EMULATOR_API_KEY,
        "SUNO_API_URL": provider.url,
        "SUNO_UPLOAD_URL": provider.url,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_PATH": str(data_dir / "bot.sqlite3"),
        "DATA_DIR": str(data_dir),
        "TELEGRAM_CHAT_INTERVAL": "0.25",
        "DELIVERY_URL_SCHEMES": "",  # every track is uploaded: the upload is what SIGTERM interrupts
    }


async def test_sigterm_during_an_upload_exits_0_and_the_next_start_delivers_exactly_once(
    tmp_path: Path, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    data_dir, port = tmp_path / "bot-data", free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,  # no .env here: only the variables above
        env=bot_environment(data_dir, port, telegram, provider),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await telegram.wait_for(lambda: telegram.webhook.url != "", timeout=30)
        telegram.slow_next("sendAudio", 3.0)  # the first track's upload is still in flight at SIGTERM
        await telegram.user_sends_text(ALICE, "/generate a calm lo-fi song about rain")
        await telegram.wait_for(lambda: telegram.slowed == 1, timeout=30)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=40)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.stdout is not None
    output = (await process.stdout.read()).decode()
    assert code == 0, output
    assert "Traceback" not in output, output
    # The upload under way was allowed to finish; the second track waited in storage.
    assert len(telegram.audios(ALICE)) == 1, output

    settings = emulator_settings(
        data_dir, telegram_url=telegram.url, provider_url=provider.url, port=port, DELIVERY_URL_SCHEMES=""
    )
    async with running_bot(settings) as bot:
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
        await bot.services.tasks.idle()
        tracks = await bot.services.storage.tasks.tracks(1)
    assert len(telegram.calls("sendAudio")) == 2
    assert len({m.audio["sha256"] for m in telegram.audios(ALICE)}) == 2
    assert all(t.sent_at is not None for t in tracks)
    assert {t.telegram_message_id for t in tracks} == {m.message_id for m in telegram.audios(ALICE)}
