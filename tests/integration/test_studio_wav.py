"""WAV under More…: the lossless file as a document, its failure callback, and the 50 MB limit."""

from __future__ import annotations

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from tests.integration.studio_chat import ALICE, delivered_song, press_tool


async def test_wav_is_sent_as_a_document_named_after_the_track(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot)
    track = await bot.services.storage.tasks.track(track_id)
    assert track is not None
    await press_tool(telegram, message_id, track_id, "wav")
    await telegram.wait_for(lambda: any(m.document for m in telegram.bot_messages(ALICE)), timeout=15)
    await bot.services.tasks.idle()

    [sent] = provider.api_requests("wav/generate")
    music = provider.tasks[sent.json["taskId"]]
    assert sent.json["audioId"] == track.audio_id and music.tracks[0].id == track.audio_id
    [document] = [m for m in telegram.bot_messages(ALICE) if m.document]
    assert document.document["file_name"] == f"{track.title} - lossless.wav"
    progress = [m for m in telegram.bot_messages(ALICE) if "Lossless WAV" in (m.text or "")]
    assert len(progress) == 1 and "Done!" in (progress[0].text or "")
    # Delivered once: the callback and a later poll report the same file.
    [task] = [t for t in await bot.services.storage.tasks.recent_for_user(ALICE) if t.kind.value == "wav"]
    await bot.services.tasks.show_progress(task)
    await bot.services.tasks.idle()
    assert len([m for m in telegram.bot_messages(ALICE) if m.document]) == 1


async def test_a_failed_wav_callback_is_shown_as_a_failure(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot)
    provider.studio.fail_next(400, "Unsupported source format")
    await press_tool(telegram, message_id, track_id, "wav")

    def failed() -> bool:
        return any(
            "Lossless WAV" in (m.text or "") and "Failed" in (m.text or "")
            for m in telegram.bot_messages(ALICE)
        )

    await telegram.wait_for(failed, timeout=15)
    await bot.services.tasks.idle()
    assert not any(m.document for m in telegram.bot_messages(ALICE))


async def test_wav_polled_without_callbacks_arrives_too(
    make_settings, start_bot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    async with start_bot(make_settings(webhook=False, SUNO_POLL_INTERVAL=0.3)) as bot:
        message_id, track_id = await delivered_song(telegram, bot)
        await press_tool(telegram, message_id, track_id, "wav")
        await telegram.wait_for(lambda: any(m.document for m in telegram.bot_messages(ALICE)), timeout=20)
        assert provider.api_requests("wav/record-info")
