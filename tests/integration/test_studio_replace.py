"""Replace a section under a track: which part, its new lyrics, the whole song's; refusals; failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.provider.models import limits_for
from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.models import Stage, TaskKind
from tests.integration.studio_chat import ALICE, asked, delivered_song, press_tool

SONG_SECONDS = 40.0  # room for a 10-20 s part (at most half the song)
CREDITS = {"STARS_PACKS": "10:50", "FREE_CREDITS": 20, "CREDITS_PER_TASK": 5}
NEW_PART = "[Verse]\nthe rain has stopped\nthe streets are gold"


async def _answer_all(
    telegram: TelegramEmulator, window: str = "0:10-0:25", full_lyrics: str | None = None
) -> None:
    """The three questions; the whole song's lyrics typed, or (None) the Keep button pressed."""
    await asked(telegram, "Which part should be replaced?")
    await telegram.user_sends_text(ALICE, window)
    await asked(telegram, "Send the new lyrics for that part")
    await telegram.user_sends_text(ALICE, NEW_PART)
    question = await asked(telegram, "the whole song's lyrics")
    if full_lyrics is None:
        await telegram.user_presses_button(ALICE, question.message_id, question.button_data()[0])
    else:
        await telegram.user_sends_text(ALICE, full_lyrics)


def _progress(telegram: TelegramEmulator, *words: str) -> Callable[[], bool]:
    def shown() -> bool:
        return any(
            "Replacing a section" in (m.text or "") and all(w in (m.text or "") for w in words)
            for m in telegram.bot_messages(ALICE)
        )

    return shown


async def test_a_section_is_replaced_and_the_new_version_delivered_like_a_song(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot, provider=provider, seconds=SONG_SECONDS)
    track = await bot.services.storage.tasks.track(track_id)
    assert track is not None and track.prompt
    source_task = provider.last_task

    await press_tool(telegram, message_id, track_id, "rep")
    await _answer_all(telegram)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 4, timeout=20)
    await bot.services.tasks.idle()

    [sent] = provider.api_requests("generate/replace-section")
    body: dict[str, Any] = dict(sent.json)
    assert body.pop("callBackUrl").startswith(bot.url + "/callbacks/")
    assert body == {
        "taskId": source_task.task_id,
        "audioId": track.audio_id,
        "prompt": NEW_PART,
        "tags": track.tags,
        "title": track.title,
        "infillStartS": 10.0,
        "infillEndS": 25.0,
        "fullLyrics": f"{track.prompt}\n\n[Replaced]\n{NEW_PART}",
    }
    assert sent.ignored_fields == ()
    assert _progress(telegram, "Done!")()
    [task] = [t for t in await bot.services.storage.tasks.recent_for_user(ALICE) if t.id != track.task_id]
    assert task.kind is TaskKind.REPLACE_SECTION and task.model == "V4_5"
    made = await bot.services.storage.tasks.tracks(task.id)
    assert len(made) == 2
    for new in made:  # the same song: its title and length, the edited lyrics
        assert new.title == track.title and new.prompt == body["fullLyrics"]
        assert new.duration is not None and abs(new.duration - (track.duration or 0)) < 1
    for audio in telegram.audios(ALICE)[2:]:
        assert "More…" in str(audio.reply_markup) and "Extend" in str(audio.reply_markup)


async def test_a_track_the_provider_gave_no_style_is_replaced_in_a_neutral_one(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.script(no_tags=True)  # a simple-mode song: nobody asked for a style, and none came back
    message_id, track_id = await delivered_song(telegram, bot, provider=provider, seconds=SONG_SECONDS)
    track = await bot.services.storage.tasks.track(track_id)
    assert track is not None and track.tags == ""

    await press_tool(telegram, message_id, track_id, "rep")
    await _answer_all(telegram)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 4, timeout=20)
    [sent] = provider.api_requests("generate/replace-section")
    assert sent.json["tags"] == "same style as the original"
    assert not any("missing" in (m.text or "") for m in telegram.bot_messages(ALICE))


async def test_window_and_lyrics_refusals_ask_again_and_spend_nothing(
    make_settings, start_bot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    async with start_bot(make_settings(SUNO_MODEL="V4", **CREDITS)) as bot:
        message_id, track_id = await delivered_song(telegram, bot, provider=provider, seconds=SONG_SECONDS)
        balance = await bot.services.storage.ledger.balance(ALICE)
        await press_tool(telegram, message_id, track_id, "rep")
        window_question = await asked(telegram, "Which part should be replaced?")
        assert "0:40 long, so at most 20 s" in (window_question.text or "")
        for window, expected in (
            ("0:05-0:10", "5 s long: it must be at least 10 s"),
            ("0-1:05", "65 s long: at most 60 s can be replaced"),
            ("0:00-0:25", "at most half the song (20 s)"),
            ("0:30-0:45", "only 0:40 long: the part must end by then"),
            ("0:30-0:20", "must end after it starts"),
            ("soon", "as start-end, e.g. 0:40-1:05 or 40-65"),
        ):
            last = telegram.bot_messages(ALICE)[-1].message_id
            await telegram.user_sends_text(ALICE, window)
            await asked(telegram, expected, after=last)
        await telegram.user_sends_text(ALICE, "10-25.5")
        await asked(telegram, "Send the new lyrics for that part")
        limit = limits_for("V4").prompt
        last = telegram.bot_messages(ALICE)[-1].message_id
        await telegram.user_sends_text(ALICE, "la " * (limit // 3 + 1))
        await asked(telegram, f"at most {limit}", after=last)
        await telegram.user_sends_text(ALICE, "/cancel")
        await asked(telegram, "ancel")

        await bot.services.tasks.idle()
        assert provider.api_requests("generate/replace-section") == []
        assert len(await bot.services.storage.tasks.recent_for_user(ALICE)) == 1  # the song only
        assert await bot.services.storage.ledger.balance(ALICE) == balance


@pytest.mark.parametrize(
    ("command", "seconds", "expected"),
    [
        ("/sound rain on a tin roof", SONG_SECONDS, "This track is instrumental: there are no lyrics"),
        ("/generate a calm lo-fi song about rain", 15.0, "at least 20 seconds long"),
    ],
    ids=["instrumental", "too-short"],
)
async def test_a_track_that_cannot_have_a_section_replaced_is_refused_at_once(
    bot: RunningBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    command: str,
    seconds: float,
    expected: str,
) -> None:
    message_id, track_id = await delivered_song(telegram, bot, command, provider=provider, seconds=seconds)
    await press_tool(telegram, message_id, track_id, "rep")
    await asked(telegram, expected)
    await bot.services.tasks.idle()
    assert provider.api_requests("generate/replace-section") == []
    assert len(await bot.services.storage.tasks.recent_for_user(ALICE)) == 1
    assert not any("Which part" in (m.text or "") for m in telegram.bot_messages(ALICE))


async def test_a_failure_callback_is_shown_on_the_progress_message_and_the_credits_come_back(
    make_settings, start_bot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    async with start_bot(make_settings(**CREDITS)) as bot:
        message_id, track_id = await delivered_song(telegram, bot, provider=provider, seconds=SONG_SECONDS)
        balance = await bot.services.storage.ledger.balance(ALICE)
        provider.script(fail_with=(501, "Generation failed"))
        await press_tool(telegram, message_id, track_id, "rep")
        await _answer_all(telegram)
        await telegram.wait_for(_progress(telegram, "Failed", "failed on the provider's side"), timeout=15)
        await bot.services.tasks.idle()
        [task] = [t for t in await bot.services.storage.tasks.recent_for_user(ALICE) if t.id != 1]
        assert (task.stage, task.error_code) == (Stage.FAILED, 501)
        assert [c.stage for c in provider.last_task.callbacks] == ["error"]
        assert await bot.services.storage.ledger.balance(ALICE) == balance  # the hold was released
        assert len(telegram.audios(ALICE)) == 2


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (408, "timed out"),
        (501, "failed on the provider's side"),
        (505, "switched this feature off"),
    ],
)
async def test_the_endpoints_own_failure_codes_are_told_plainly(
    make_settings,
    start_bot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    code: int,
    words: str,
) -> None:
    async with start_bot(make_settings(**CREDITS)) as bot:
        message_id, track_id = await delivered_song(telegram, bot, provider=provider, seconds=SONG_SECONDS)
        balance = await bot.services.storage.ledger.balance(ALICE)
        provider.fail_next_request("generate/replace-section", code, "Scripted failure")
        await press_tool(telegram, message_id, track_id, "rep")
        await _answer_all(telegram)
        await telegram.wait_for(_progress(telegram, "Failed", words), timeout=15)
        await bot.services.tasks.idle()
        assert len(provider.api_requests("generate/replace-section")) == 1  # never sent again
        assert await bot.services.storage.ledger.balance(ALICE) == balance


async def test_a_lost_callback_is_made_up_for_by_polling(
    make_settings, start_bot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    async with start_bot(make_settings(SUNO_POLL_INTERVAL=0.3)) as bot:
        message_id, track_id = await delivered_song(telegram, bot, provider=provider, seconds=SONG_SECONDS)
        provider.script(drop_callbacks=True)
        await press_tool(telegram, message_id, track_id, "rep")
        whole = "[Verse]\nthe rain has stopped\n\n[Chorus]\ngold, gold"
        await _answer_all(telegram, window="5-20", full_lyrics=whole)
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 4, timeout=20)
        await bot.services.tasks.idle()
        replaced = provider.last_task
        assert replaced.kind == "replace_section" and replaced.callbacks == []
        assert replaced.body["fullLyrics"] == whole
        assert (replaced.body["infillStartS"], replaced.body["infillEndS"]) == (5.0, 20.0)
        polled = [r for r in provider.api_requests("generate/record-info") if r.task_id == replaced.task_id]
        assert polled
