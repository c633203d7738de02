"""/generate from the chat to delivered audio, through the real server, PTB and both emulators."""

from __future__ import annotations

import hashlib

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator

ALICE = 1001


async def test_generate_delivers_two_tracks_and_edits_progress(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    # Stages further apart than Telegram's one message per second per chat, so no edit is coalesced away.
    provider.script(delays=(1.2, 2.4, 3.6))
    await telegram.user_sends_text(ALICE, "/generate a calm lo-fi song about rain")
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
    await bot.services.tasks.idle()

    progress = telegram.bot_messages(ALICE)[0]
    assert "a calm lo-fi song about rain" in progress.edits[0]
    history = "\n---\n".join(progress.edits)
    for label in ("Writing the song", "Lyrics ready", "First track ready", "Done!"):
        assert label in history, f"{label!r} never shown in:\n{history}"
    assert "Listen while it finishes" in history

    sent = provider.api_requests("generate")
    assert len(sent) == 1
    body = sent[0].json
    assert body["customMode"] is False and body["prompt"] == "a calm lo-fi song about rain"
    assert body["callBackUrl"].startswith(bot.url + "/callbacks/")

    task = provider.last_task
    audios = telegram.audios(ALICE)
    expected = {hashlib.sha256(t.audio).hexdigest() for t in task.tracks}
    for message in audios:
        assert message.audio["duration"] >= 1
        assert message.audio["title"]
        assert message.reply_markup and "Extend" in str(message.reply_markup)
    assert {m.audio["sha256"] for m in audios} == expected  # the very bytes the provider made
    stored = await bot.services.storage.tasks.tracks(1)
    assert all(t.telegram_file_id for t in stored)
    assert telegram.violations == []


async def test_a_progress_state_already_shown_is_not_sent_again(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.script(delays=(0.1, 0.2, 0.3))
    await telegram.user_sends_text(ALICE, "/generate a short song")
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
    tasks = bot.services.tasks
    await tasks.idle()
    stored = await bot.services.storage.tasks.require(1)
    progress = telegram.bot_messages(ALICE)[0]
    assert "Done!" in progress.text and stored.progress_message_id == progress.message_id
    calls = len(telegram.requests)

    await tasks.show_progress(stored)  # as a resume or a repeated report would ask
    await tasks.idle()
    assert len(telegram.requests) == calls  # not even an edit Telegram would refuse as "not modified"
