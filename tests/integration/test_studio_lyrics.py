"""Lyrics: /lyrics' variants with Use these (into /custom), and Lyrics under a track (text and .lrc)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from emulators.telegram.state import ChatMessage
from tests.integration.studio_chat import ALICE, delivered_song, press_tool

BOB = 1002


def _variants(telegram: TelegramEmulator, user: int = ALICE) -> list[ChatMessage]:
    return [m for m in telegram.bot_messages(user) if any(d.startswith("uselyr:") for d in m.button_data())]


def _answers(telegram: TelegramEmulator) -> list[str]:
    return [str(c.params.get("text") or "") for c in telegram.calls("answerCallbackQuery")]


async def test_lyrics_variants_open_custom_with_the_lyrics_filled_in(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    await telegram.user_sends_text(ALICE, "/lyrics a peaceful night in the city")
    await telegram.wait_for(lambda: len(_variants(telegram)) == 2, timeout=15)
    await bot.services.tasks.idle()

    [sent] = provider.api_requests("lyrics")
    assert sent.json["prompt"] == "a peaceful night in the city"
    assert sent.json["callBackUrl"].startswith(bot.url + "/callbacks/")
    first = _variants(telegram)[0]
    assert first.text is not None and "[Verse]" in first.text and "Use these" in str(first.reply_markup)
    lyrics = first.text.split("\n\n", 1)[1]  # under the variant's title

    await telegram.user_presses_button(ALICE, first.message_id, first.button_data()[0])
    await telegram.wait_for(lambda: "What is the title?" in (telegram.bot_messages(ALICE)[-1].text or ""))
    ask_title = telegram.bot_messages(ALICE)[-1]
    await telegram.user_presses_button(ALICE, ask_title.message_id, ask_title.button_data()[0])  # its title
    await telegram.wait_for(lambda: "Which style?" in (telegram.bot_messages(ALICE)[-1].text or ""))
    await telegram.user_sends_text(ALICE, "dreamy synth-pop")
    await provider.wait_for(lambda: len(provider.api_requests("generate")) == 1)

    body = provider.api_requests("generate")[0].json
    assert body["customMode"] is True and body["prompt"] == lyrics
    assert body["title"] == first.text.split("\n\n", 1)[0] and body["style"] == "dreamy synth-pop"


@pytest.mark.parametrize(
    ("command", "expected"), [("/lyrics", "after /lyrics"), ("/lyrics " + "word " * 201, "at most 200")]
)
async def test_lyrics_refusals_say_what_to_change_and_spend_nothing(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, command: str, expected: str
) -> None:
    await telegram.user_sends_text(ALICE, command)
    await telegram.wait_for(lambda: any(expected in (m.text or "") for m in telegram.bot_messages(ALICE)))
    await bot.services.tasks.idle()
    assert provider.api_requests("lyrics") == []
    assert await bot.services.storage.tasks.recent_for_user(ALICE) == []


async def test_a_failed_lyrics_callback_is_shown_as_a_failure_and_use_these_is_only_yours(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.studio.fail_next(400, "Lyrics generation failed")
    await telegram.user_sends_text(ALICE, "/lyrics a storm at sea")

    def failed() -> bool:
        return any(
            "Lyrics" in (m.text or "") and "Failed" in (m.text or "") for m in telegram.bot_messages(ALICE)
        )

    await telegram.wait_for(failed, timeout=15)
    await bot.services.tasks.idle()
    assert _variants(telegram) == []

    await telegram.user_sends_text(ALICE, "/lyrics a quiet morning")
    await telegram.wait_for(lambda: len(_variants(telegram)) == 2, timeout=15)
    mine = _variants(telegram)[0]
    await telegram.user_sends_text(BOB, "/start")
    await telegram.wait_for(lambda: bool(telegram.bot_messages(BOB)))
    # Bob forges Alice's button under one of his own messages: her lyrics are not his to use.
    bobs = telegram.bot_messages(BOB)[-1]
    await telegram.user_presses_button(BOB, bobs.message_id, mine.button_data()[0], require_button=False)
    await telegram.wait_for(lambda: any("no longer available" in a for a in _answers(telegram)))


async def test_lyrics_under_a_track_come_as_text_and_an_lrc_file(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot, "/generate a calm lo-fi song about rain")
    track = await bot.services.storage.tasks.track(track_id)
    assert track is not None
    await press_tool(telegram, message_id, track_id, "lrc")
    await telegram.wait_for(lambda: any(m.document for m in telegram.bot_messages(ALICE)), timeout=15)
    await bot.services.tasks.idle()

    [sent] = provider.api_requests("generate/get-timestamped-lyrics")
    assert sent.json == {"taskId": provider.last_task.task_id, "audioId": track.audio_id}
    [document] = [m for m in telegram.bot_messages(ALICE) if m.document]
    assert document.document["file_name"] == f"{track.title} - lyrics.lrc"
    lrc = (await asyncio.to_thread(Path(document.document["path"]).read_text)).splitlines()
    # Each sung line at the time of its first word, in order; the section tags are left out.
    assert all(re.fullmatch(r"\[\d\d:\d\d\.\d\d\][^\[\]]+", line) for line in lrc), lrc
    assert [line[:10] for line in lrc] == sorted(line[:10] for line in lrc) and lrc[0] > "[00:00.50]"
    assert len(lrc) == len([line for line in track.prompt.splitlines() if line and not line.startswith("[")])
    [text] = [m for m in telegram.bot_messages(ALICE) if (m.text or "").startswith("[Verse]")]
    assert "singing all night long" in (text.text or "")


async def test_an_instrumental_says_it_has_no_lyrics_and_spends_nothing(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot, "/sound rain on a tin roof")
    await press_tool(telegram, message_id, track_id, "lrc")
    await telegram.wait_for(
        lambda: any("instrumental" in (m.text or "") for m in telegram.bot_messages(ALICE))
    )
    await bot.services.tasks.idle()
    assert provider.api_requests("generate/get-timestamped-lyrics") == []
    assert len(await bot.services.storage.tasks.recent_for_user(ALICE)) == 1  # the sound only


async def test_lyrics_polled_without_callbacks_arrive_too(
    make_settings, start_bot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    async with start_bot(make_settings(webhook=False, SUNO_POLL_INTERVAL=0.3)) as bot:
        await telegram.user_sends_text(ALICE, "/lyrics neon streets")
        await telegram.wait_for(lambda: len(_variants(telegram)) == 2, timeout=40)
        await bot.services.tasks.idle()
        assert provider.api_requests("lyrics/record-info")
