"""The doctor says whether inline mode is on (getMe supports_inline_queries), and how to switch it on."""

from __future__ import annotations

from bot.settings import Settings
from emulators.telegram.server import TelegramEmulator
from tests.test_doctor import doctor, line_about


async def test_the_doctor_reports_inline_mode_off_then_on(
    settings: Settings, telegram: TelegramEmulator
) -> None:
    _, lines = await doctor(settings)
    off = line_about(lines, "inline mode is")
    assert off.startswith("!") and "off" in off and "/setinline" in off and "@BotFather" in off

    telegram.inline_mode = True  # as after /setinline
    _, lines = await doctor(settings)
    assert line_about(lines, "inline mode is").startswith("✓ inline mode is on")
