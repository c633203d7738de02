"""`python -m bot run`'s start-up probe of the provider is a provider request like any other (issue 14)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from tests.integration.test_startup_checks import START_TIMEOUT, bot_process, environment

WINDOW = 5.0  # longer than start-up to the first submission takes, so a probe outside the budget shows


async def test_the_start_up_probe_takes_its_slot_in_the_bots_provider_budget(
    tmp_path: Path, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    # One request per window, the bot configured to match: the balance probe at start-up and the first
    # song right after it must arrive a window apart, or the provider counts two in one window.
    provider.budget, provider.budget_window = 1, WINDOW
    env = environment(
        tmp_path,
        TELEGRAM_API_URL=telegram.url,  # polling mode
        SUNO_API_URL=provider.url,
        SUNO_UPLOAD_URL=provider.url,
        SUNO_REQUESTS_PER_WINDOW="1",
        SUNO_REQUEST_WINDOW=str(WINDOW),
    )
    process = await bot_process(tmp_path, env)
    lines: list[str] = []

    async def read_until_listening() -> None:
        assert process.stdout is not None
        while not any("listening on" in line for line in lines):
            line = await process.stdout.readline()
            if not line:
                raise AssertionError("the bot ended early:\n" + "".join(lines))
            lines.append(line.decode())

    def provider_paths() -> list[str]:
        return [r.path for r in provider.requests if r.host == "api"]

    try:
        await asyncio.wait_for(read_until_listening(), timeout=START_TIMEOUT)
        await telegram.wait_for(lambda: "/api/v1/generate/credit" in provider_paths(), timeout=30)
        await telegram.user_sends_text(4001, "/generate a song about a budget")
        await telegram.wait_for(lambda: "/api/v1/generate" in provider_paths(), timeout=30)
        process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=START_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = "".join(lines) + rest.decode()

    assert process.returncode == 0, output
    assert provider_paths()[:2] == ["/api/v1/generate/credit", "/api/v1/generate"], provider_paths()
    assert provider.violations == [], output
    assert "WARNING" not in output, output  # the probe found the provider fine, and said nothing
