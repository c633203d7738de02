"""Stems and the music video under More…: albums, a .zip, a video with the title, and their failures."""

from __future__ import annotations

import asyncio
import io
import zipfile
from pathlib import Path

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from tests.integration.studio_chat import ALICE, delivered_song, press_tool


def _album(telegram: TelegramEmulator) -> list:
    return [m for m in telegram.bot_messages(ALICE) if m.media_group_id is not None]


async def test_separate_vocals_is_an_album_of_two_named_audios(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot)
    track = await bot.services.storage.tasks.track(track_id)
    assert track is not None
    await press_tool(telegram, message_id, track_id, "voc")
    await telegram.wait_for(lambda: len(_album(telegram)) == 2, timeout=15)
    await bot.services.tasks.idle()

    [sent] = provider.api_requests("vocal-removal/generate")
    assert (sent.json["type"], sent.json["audioId"]) == ("separate_vocal", track.audio_id)
    album = _album(telegram)
    assert len({m.media_group_id for m in album}) == 1
    names = [m.audio["file_name"] for m in album if m.audio]
    assert names == [f"{track.title} - Vocals.mp3", f"{track.title} - Instrumental.mp3"]
    assert len(telegram.calls("sendMediaGroup")) == 1
    progress = [m for m in telegram.bot_messages(ALICE) if "Vocals and instrumental" in (m.text or "")]
    assert len(progress) == 1 and "Done!" in (progress[0].text or "")


async def test_all_stems_over_an_album_come_as_one_zip(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot)
    track = await bot.services.storage.tasks.track(track_id)
    assert track is not None
    await press_tool(telegram, message_id, track_id, "stm")
    await telegram.wait_for(lambda: any(m.document for m in telegram.bot_messages(ALICE)), timeout=15)
    await bot.services.tasks.idle()

    [sent] = provider.api_requests("vocal-removal/generate")
    assert sent.json["type"] == "split_stem"
    [document] = [m for m in telegram.bot_messages(ALICE) if m.document]
    assert document.document["file_name"] == f"{track.title} - stems.zip"
    data = await asyncio.to_thread(Path(document.document["path"]).read_bytes)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert (
        len(names) == 12 and f"{track.title} - Drums.mp3" in names and f"{track.title} - Vocals.mp3" in names
    )
    assert _album(telegram) == []


async def test_a_failed_separation_callback_is_shown_as_a_failure(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot)
    provider.studio.fail_next(451, "Failed to download the source audio")
    await press_tool(telegram, message_id, track_id, "voc")

    def failed() -> bool:
        return any(
            "Vocals and instrumental" in (m.text or "") and "Failed" in (m.text or "")
            for m in telegram.bot_messages(ALICE)
        )

    await telegram.wait_for(failed, timeout=15)
    await bot.services.tasks.idle()
    assert _album(telegram) == []


async def test_stems_polled_without_callbacks_arrive_too(
    make_settings, start_bot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    async with start_bot(make_settings(webhook=False, SUNO_POLL_INTERVAL=0.3)) as bot:
        message_id, track_id = await delivered_song(telegram, bot)
        await press_tool(telegram, message_id, track_id, "voc")
        await telegram.wait_for(lambda: len(_album(telegram)) == 2, timeout=20)
        assert provider.api_requests("vocal-removal/record-info")


async def test_the_music_video_is_sent_as_a_video_with_the_title(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot)
    track = await bot.services.storage.tasks.track(track_id)
    assert track is not None
    await press_tool(telegram, message_id, track_id, "mp4")
    await telegram.wait_for(lambda: any(m.video for m in telegram.bot_messages(ALICE)), timeout=15)
    await bot.services.tasks.idle()

    assert provider.api_requests("mp4/generate")[0].json["audioId"] == track.audio_id
    [video] = [m for m in telegram.bot_messages(ALICE) if m.video]
    assert video.text == track.title and video.video["file_name"] == f"{track.title} - video.mp4"


async def test_a_failed_video_callback_is_shown_as_a_failure(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot)
    provider.studio.fail_next(500, "MP4 generation failed")
    await press_tool(telegram, message_id, track_id, "mp4")

    def failed() -> bool:
        return any(
            "Music video" in (m.text or "") and "Failed" in (m.text or "")
            for m in telegram.bot_messages(ALICE)
        )

    await telegram.wait_for(failed, timeout=15)
    await bot.services.tasks.idle()
    assert not any(m.video for m in telegram.bot_messages(ALICE))
