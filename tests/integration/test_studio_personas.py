"""Personas: Make a persona under a track (name, description, vocal window), then its voice offered."""

from __future__ import annotations

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from tests.integration.studio_chat import ALICE, asked, delivered_song, press_tool

SONG_SECONDS = 35.0  # a persona takes a 10-30 s window of the voice


def _last(telegram: TelegramEmulator):  # type: ignore[no-untyped-def]
    return telegram.bot_messages(ALICE)[-1]


async def _press_first(telegram: TelegramEmulator) -> None:
    question = _last(telegram)
    await telegram.user_presses_button(ALICE, question.message_id, question.button_data()[0])


async def _make_persona(telegram: TelegramEmulator, bot: RunningBot, provider: ProviderEmulator) -> int:
    message_id, track_id = await delivered_song(telegram, bot, provider=provider, seconds=SONG_SECONDS)
    await press_tool(telegram, message_id, track_id, "per")
    await asked(telegram, "What should this voice be called?")
    await telegram.user_sends_text(ALICE, "Velvet")
    await asked(telegram, "Describe the voice")
    await telegram.user_sends_text(ALICE, "warm breathy alto, jazzy phrasing")
    await asked(telegram, "Which 10 to 30 seconds")
    await telegram.user_sends_text(ALICE, "0:05-0:30")
    await telegram.wait_for(lambda: "is saved" in (_last(telegram).text or ""), timeout=10)
    await bot.services.tasks.idle()
    return track_id


async def test_a_persona_is_made_from_a_track_and_saved_for_the_person(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    track_id = await _make_persona(telegram, bot, provider)
    track = await bot.services.storage.tasks.track(track_id)
    assert track is not None

    [sent] = provider.api_requests("generate/generate-persona")
    assert sent.json == {
        "taskId": provider.tasks[next(iter(provider.tasks))].task_id,
        "audioId": track.audio_id,
        "name": "Velvet",
        "description": "warm breathy alto, jazzy phrasing",
        "vocalStart": 5.0,
        "vocalEnd": 30.0,
    }
    [persona] = await bot.services.storage.results.personas(ALICE)
    assert (persona.name, persona.track_id) == ("Velvet", track_id)
    assert persona.persona_id in provider.studio.personas
    assert "The persona “Velvet” is saved" in (_last(telegram).text or "")

    # One per track: a second is refused before anything is sent.
    audio = telegram.audios(ALICE)[0]
    await telegram.user_presses_button(ALICE, audio.message_id, f"st:per:{track_id}", require_button=False)
    await asked(telegram, "already has a persona")
    assert len(provider.api_requests("generate/generate-persona")) == 1


async def test_custom_and_generate_offer_the_personas_voice(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    await _make_persona(telegram, bot, provider)
    [persona] = await bot.services.storage.results.personas(ALICE)

    await telegram.user_sends_text(ALICE, "/custom")
    await asked(telegram, "What is the title?")
    await telegram.user_sends_text(ALICE, "Night Drive")
    await asked(telegram, "Which style?")
    await telegram.user_sends_text(ALICE, "synthwave")
    await asked(telegram, "Send the lyrics")
    await telegram.user_sends_text(ALICE, "[Verse]\nneon on the rain")
    question = await asked(telegram, "In whose voice?")
    assert "In the voice of Velvet" in str(question.reply_markup)
    await telegram.user_presses_button(ALICE, question.message_id, question.button_data()[1])
    await provider.wait_for(lambda: len(provider.api_requests("generate")) == 2)
    custom = provider.api_requests("generate")[1].json
    assert (custom["personaId"], custom["personaModel"], custom["customMode"]) == (
        persona.persona_id,
        "style_persona",
        True,
    )

    await telegram.user_sends_text(ALICE, "/generate a song about the sea")
    question = await asked(telegram, "In whose voice?", after=question.message_id)
    await telegram.user_presses_button(ALICE, question.message_id, question.button_data()[1])
    await provider.wait_for(lambda: len(provider.api_requests("generate")) == 3)
    generated = provider.api_requests("generate")[2].json
    assert generated["personaId"] == persona.persona_id and generated["customMode"] is True
    assert generated["prompt"] == "a song about the sea"

    await telegram.user_sends_text(ALICE, "/generate a song about the hills")
    question = await asked(telegram, "In whose voice?", after=question.message_id)
    await telegram.user_presses_button(ALICE, question.message_id, question.button_data()[0])  # the usual
    await provider.wait_for(lambda: len(provider.api_requests("generate")) == 4)
    usual = provider.api_requests("generate")[3].json
    assert "personaId" not in usual and usual["customMode"] is False


async def test_persona_refusals_say_what_to_change_and_spend_nothing(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot, provider=provider, seconds=SONG_SECONDS)
    await press_tool(telegram, message_id, track_id, "per")
    await asked(telegram, "What should this voice be called?")
    await _press_first(telegram)  # the track's title
    await asked(telegram, "Describe the voice")
    await _press_first(telegram)  # the track's style
    await asked(telegram, "Which 10 to 30 seconds")
    for window, expected in (
        ("0-5", "10 to 30 seconds long"),
        ("20-40", "10 to 30 seconds long"),
        ("soon", "start-end"),
    ):
        await telegram.user_sends_text(ALICE, window)
        await asked(telegram, expected)
    assert provider.api_requests("generate/generate-persona") == []
    assert await bot.services.storage.results.personas(ALICE) == []


async def test_a_track_too_short_for_a_persona_is_refused(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot, provider=provider, seconds=3.0)
    await press_tool(telegram, message_id, track_id, "per")
    await asked(telegram, "too short for a persona")
    assert provider.api_requests("generate/generate-persona") == []


async def test_a_failed_persona_answer_is_shown_as_a_failure(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot, provider=provider, seconds=SONG_SECONDS)
    provider.studio.fail_next(451, "failed to fetch the music data")
    await press_tool(telegram, message_id, track_id, "per")
    await asked(telegram, "What should this voice be called?")
    await telegram.user_sends_text(ALICE, "Velvet")
    await asked(telegram, "Describe the voice")
    await telegram.user_sends_text(ALICE, "warm alto")
    await asked(telegram, "Which 10 to 30 seconds")
    await _press_first(telegram)

    def failed() -> bool:
        return any(
            "Persona" in (m.text or "") and "Failed" in (m.text or "") for m in telegram.bot_messages(ALICE)
        )

    await telegram.wait_for(failed, timeout=15)
    await bot.services.tasks.idle()
    assert await bot.services.storage.results.personas(ALICE) == []
