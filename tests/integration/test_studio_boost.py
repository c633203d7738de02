"""Improve this style in /custom: boosted, then used or not, refused before spending, failed clearly."""

from __future__ import annotations

import pytest

from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.provider.studio.boost import boosted
from emulators.telegram.server import TelegramEmulator
from storage.models import Stage, TaskKind

DORA = 4004
MINE = "dreamy synth-pop"


@pytest.fixture
def dora(telegram: TelegramEmulator) -> ScriptedPerson:
    return ScriptedPerson(telegram, DORA, first_name="Dora", timeout=20)


async def _boost_asked(dora: ScriptedPerson) -> None:
    await dora.say("/custom")
    await dora.answer("What is the title?", text="Neon rain")
    await dora.answer("Which style?", button="✨ Improve this style")
    await dora.answer("Send the style you'd like improved", text=MINE)


async def _song_style(bot: RunningBot, provider: ProviderEmulator) -> str:
    await provider.wait_for(lambda: len(provider.api_requests("v1/generate")) == 1)
    await bot.services.tasks.idle()
    [song] = provider.api_requests("v1/generate")
    return str(song.json["style"])


@pytest.mark.parametrize(("button", "expected"), [("Use it", boosted(MINE)), ("Keep mine", MINE)])
async def test_the_boosted_style_is_offered_and_either_answer_goes_on(
    bot: RunningBot, dora: ScriptedPerson, provider: ProviderEmulator, button: str, expected: str
) -> None:
    await _boost_asked(dora)
    await dora.wait_for_text("✨ Improved style:")
    assert dora.bot_said(boosted(MINE)) and dora.bot_said(f"Yours was: {MINE}")
    [call] = provider.api_requests("style/generate")
    assert call.json["content"] == MINE
    await dora.answer("✨ Improved style:", button=button)
    await dora.answer("Send the lyrics", button="Instrumental")
    assert await _song_style(bot, provider) == expected
    kinds = [t.kind for t in await bot.services.storage.tasks.recent_for_user(DORA)]
    assert sorted(kinds) == sorted([TaskKind.BOOST_STYLE, TaskKind.CUSTOM])


async def test_a_style_too_long_to_boost_is_refused_before_anything_is_spent(
    bot: RunningBot, dora: ScriptedPerson, provider: ProviderEmulator
) -> None:
    await dora.say("/custom")
    await dora.answer("What is the title?", text="Neon rain")
    await dora.answer("Which style?", button="✨ Improve this style")
    await dora.answer("Send the style you'd like improved", text="x" * 1001)
    await dora.wait_for_text("too long: 1001 characters, at most 1000")
    await bot.services.tasks.idle()
    assert provider.api_requests("style/generate") == []
    assert await bot.services.storage.tasks.recent_for_user(DORA) == []


async def test_an_old_boost_button_cannot_answer_a_later_question(
    bot: RunningBot, dora: ScriptedPerson, provider: ProviderEmulator
) -> None:
    await _boost_asked(dora)
    await dora.answer("✨ Improved style:", button="Keep mine")
    await dora.wait_for_text("Send the lyrics")
    await dora.press("Use it")  # the style question is answered: this changes nothing
    await dora.telegram.wait_for(
        lambda: any(
            "already answered" in str(c.params.get("text") or "")
            for c in dora.telegram.calls("answerCallbackQuery")
        )
    )
    await dora.press("Instrumental")
    assert await _song_style(bot, provider) == MINE


async def test_a_failed_boost_says_so_and_the_style_question_stays_open(
    bot: RunningBot, dora: ScriptedPerson, provider: ProviderEmulator
) -> None:
    provider.studio.fail_next(500, "Style boost failed")
    await _boost_asked(dora)
    await dora.telegram.wait_for(
        lambda: any("Failed" in (m.text or "") for m in dora.telegram.bot_messages(DORA)), timeout=20
    )
    [task] = await bot.services.storage.tasks.recent_for_user(DORA)
    assert task.kind is TaskKind.BOOST_STYLE and task.stage is Stage.FAILED
    assert not dora.bot_said("Improved style:", since_last_action=False)
    await dora.say("city pop")  # typed as is now: the failed boost left the question open
    await dora.answer("Send the lyrics", button="Instrumental")
    assert await _song_style(bot, provider) == "city pop"
