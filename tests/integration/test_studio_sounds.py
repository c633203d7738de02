"""The studio's worked example end to end: /sound, its options and refusals, its failure, and More…."""

from __future__ import annotations

import pytest

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.models import Stage

ALICE = 1001


def _answers(telegram: TelegramEmulator) -> list[str]:
    return [str(c.params.get("text") or "") for c in telegram.calls("answerCallbackQuery")]


async def test_sound_with_options_is_made_and_delivered_as_tracks(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    await telegram.user_sends_text(ALICE, "/sound rain on a tin roof loop=yes bpm=90 key=c#m")
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
    await bot.services.tasks.idle()

    [sent] = provider.api_requests("generate/sounds")
    body = sent.json
    assert body["prompt"] == "rain on a tin roof"
    assert (body["model"], body["soundLoop"], body["soundTempo"], body["soundKey"]) == ("V5", True, 90, "C#m")
    assert body["callBackUrl"].startswith(bot.url + "/callbacks/")
    progress = telegram.bot_messages(ALICE)[0]
    assert "Sound effect" in progress.text and "Done!" in progress.text
    for audio in telegram.audios(ALICE):
        assert "More…" in str(audio.reply_markup)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/sound thunder bpm=400", "must be from 1 to 300"),
        ("/sound thunder key=Db", "must be one of"),
        ("/sound thunder model=V4_5", "The model must be one of: V5"),
        ("/sound thunder speed=3", "I don't understand “speed=3”"),
        ("/sound", "Describe the sound after /sound"),
        ("/sound " + "x" * 501, "at most 500"),
    ],
)
async def test_sound_refusals_say_what_to_change_and_spend_nothing(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, command: str, expected: str
) -> None:
    await telegram.user_sends_text(ALICE, command)
    await telegram.wait_for(lambda: any(expected in (m.text or "") for m in telegram.bot_messages(ALICE)))
    await bot.services.tasks.idle()
    assert provider.api_requests("generate/sounds") == []
    assert await bot.services.storage.tasks.recent_for_user(ALICE) == []


async def test_a_failed_sound_says_so_and_gives_the_credits_back(
    make_settings, start_bot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    settings = make_settings(STARS_PACKS="10:50", FREE_CREDITS=20, CREDITS_PER_TASK=5)
    async with start_bot(settings) as bot:
        provider.script(hold=True)
        await telegram.user_sends_text(ALICE, "/sound a door creaking")
        await provider.wait_for(lambda: len(provider.tasks) == 1)
        provider.fail_now(provider.last_task.task_id, 501, "Sound generation failed")

        async def failed() -> bool:
            task = await bot.services.storage.tasks.get(1)
            return task is not None and task.stage is Stage.FAILED

        await telegram.wait_for(
            lambda: any("Failed" in (m.text or "") for m in telegram.bot_messages(ALICE)[:1]), timeout=10
        )
        await bot.services.tasks.idle()
        assert await failed()
        assert await bot.services.storage.ledger.balance(ALICE) == 20  # the hold was released
        assert telegram.audios(ALICE) == []


async def test_more_opens_the_tools_in_place_and_back_restores_the_buttons(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    await telegram.user_sends_text(ALICE, "/sound birdsong at dawn")
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
    await bot.services.tasks.idle()
    audio = telegram.audios(ALICE)[0]
    more = next(d for d in audio.button_data() if d.startswith("more:"))
    track_id = more.removeprefix("more:")
    messages = len(telegram.bot_messages(ALICE))

    await telegram.user_presses_button(ALICE, audio.message_id, more)
    await telegram.wait_for(lambda: f"back:{track_id}" in audio.button_data())
    await telegram.user_presses_button(ALICE, audio.message_id, f"back:{track_id}")
    await telegram.wait_for(lambda: more in audio.button_data())
    assert len(telegram.bot_messages(ALICE)) == messages  # edited in place: no new message

    # A forged or stale button (another track, garbage) gets an answer, not a traceback.
    for forged in ("more:999999", "more:abc", "st:zz:1", f"st:nope:{track_id}"):
        await telegram.user_presses_button(ALICE, audio.message_id, forged, require_button=False)
    await telegram.wait_for(lambda: sum("no longer available" in a for a in _answers(telegram)) == 4)
