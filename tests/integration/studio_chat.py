"""What the studio's chat tests share: a delivered song, a tool pressed under it, the newest question."""

from __future__ import annotations

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from emulators.telegram.state import ChatMessage

ALICE = 1001
SONG = "/generate a calm lo-fi song about rain"


async def delivered_song(
    telegram: TelegramEmulator,
    bot: RunningBot,
    command: str = SONG,
    *,
    provider: ProviderEmulator | None = None,
    seconds: float | None = None,
) -> tuple[int, int]:
    """A song (or sound) made and delivered to Alice: its first audio's (message id, track id).

    `seconds` sets how long the provider's tracks are (a persona or a replaced part needs room)."""
    if seconds is not None:
        assert provider is not None, "the track length is the provider's"
        provider.track_seconds = seconds
    await telegram.user_sends_text(ALICE, command)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
    await bot.services.tasks.idle()
    audio = telegram.audios(ALICE)[0]
    more = next(d for d in audio.button_data() if d.startswith("more:"))
    return audio.message_id, int(more.removeprefix("more:"))


async def press_tool(telegram: TelegramEmulator, message_id: int, track_id: int, code: str) -> None:
    """The tool `st:<code>:` under the track, More… pressed first unless the tools are open already."""
    audio = next(m for m in telegram.bot_messages(ALICE) if m.message_id == message_id)
    if f"more:{track_id}" in audio.button_data():
        await telegram.user_presses_button(ALICE, message_id, f"more:{track_id}")
    await telegram.wait_for(lambda: f"st:{code}:{track_id}" in audio.button_data())
    await telegram.user_presses_button(ALICE, message_id, f"st:{code}:{track_id}")


async def asked(telegram: TelegramEmulator, words: str, after: int = 0) -> ChatMessage:
    """The newest message with these words, newer than message `after` (tracks may still arrive)."""

    def found() -> ChatMessage | None:
        return next((m for m in reversed(telegram.bot_messages(ALICE)) if words in (m.text or "")), None)

    await telegram.wait_for(lambda: (m := found()) is not None and m.message_id > after, timeout=10)
    message = found()
    assert message is not None
    return message
