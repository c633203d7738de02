"""Privacy through the emulators: /forget, strangers the access list refuses, and polling's callBackUrl."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from urllib.parse import urlsplit

from bot.settings import Settings
from emulators.audio_fixtures import make_mp3
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.models import Upload
from storage.store import Storage

ALICE = 7001
MALLORY = 7666
GROUP = -1001000000001

StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]


async def edited_to(telegram: TelegramEmulator, fragment: str) -> None:
    """The confirmation message is edited into the outcome: wait for any bot message saying it."""
    await telegram.wait_for(lambda: any(fragment in (m.text or "") for m in telegram.bot_messages(ALICE)))


async def bytes_kept(storage: Storage, upload: Upload) -> bool:
    """The file's bytes are still somewhere: on disk (SQLite) or in the database (PostgreSQL)."""
    if upload.path:
        return await asyncio.to_thread(Path(upload.path).exists)
    return await storage.uploads.chunk(upload.id, 0) is not None


async def test_forget_deletes_what_the_bot_keeps_after_a_confirmation(
    bot: RunningBot, telegram: TelegramEmulator
) -> None:
    alice = ScriptedPerson(telegram, ALICE, timeout=20)
    await alice.say("/generate a song about my cat Felix")
    await alice.wait_for_audios(2)
    await alice.send_audio(make_mp3(12.0), file_name="felix.mp3")
    await alice.answer("What should I do with it?", button="Cover")
    await alice.wait_for_text("Which style?")  # a question is open, with the file's name as a default
    storage = bot.services.storage
    upload = await storage.uploads.get(1)
    assert upload is not None and await bytes_kept(storage, upload)

    await alice.say("/forget")
    await alice.wait_for_text("Delete it now?")
    assert await storage.people.get(ALICE) is not None  # nothing goes before the confirmation
    await alice.press("Delete my data")
    await edited_to(telegram, "Done: I deleted what I kept about you (songs: 1, audio files: 1)")

    assert await storage.people.get(ALICE) is None
    task = await storage.tasks.require(1)
    assert task.params == {} and task.user_id == ALICE  # the count stays, the words go
    assert await storage.tasks.tracks(1) == []
    assert await storage.events.for_task(1) == []
    assert await storage.uploads.get(upload.id) is None
    assert not await bytes_kept(storage, upload)
    assert await storage.conversations.user_data() == []
    assert await storage.tasks.count_created_since(ALICE, 0) == 1  # the daily quota still counts it
    # The open question went too: an answer now is text with no question.
    await alice.say("disco")
    await alice.wait_for_text("I make songs")


async def test_forget_waits_for_a_song_still_being_made_and_can_be_declined(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    alice = ScriptedPerson(telegram, ALICE, timeout=20)
    provider.script(hold=True)
    await alice.say("/generate a song about waiting")
    await provider.wait_for(lambda: bool(provider.tasks) and provider.last_task.held, timeout=10)
    await alice.say("/forget")
    await alice.wait_for_text("Delete it now?")
    await alice.press("Delete my data")
    await edited_to(telegram, "still being made")
    assert (await bot.services.storage.tasks.require(1)).params["prompt"] == "a song about waiting"
    await alice.say("/forget")
    await alice.wait_for_text("Delete it now?")
    await alice.press("Keep it")
    await edited_to(telegram, "Nothing was deleted")
    assert await bot.services.storage.people.get(ALICE) is not None


async def test_forget_in_a_group_points_to_the_private_chat(
    bot: RunningBot, telegram: TelegramEmulator
) -> None:
    telegram.create_group(GROUP, added_by=ALICE)
    await telegram.user_sends_text(ALICE, "/forget@music_test_bot", chat_id=GROUP)
    await telegram.wait_for(
        lambda: any("private chat" in (m.text or "") for m in telegram.bot_messages(GROUP))
    )
    assert all(not m.inline_markup for m in telegram.bot_messages(GROUP))


async def test_a_stranger_the_access_list_refuses_leaves_only_a_count(
    make_settings: Callable[..., Settings], start_bot: StartBot, telegram: TelegramEmulator
) -> None:
    async with start_bot(make_settings(ALLOWED_USER_IDS=str(ALICE))) as bot:
        await telegram.user_sends_text(MALLORY, "/start", first_name="Mallory")
        await telegram.wait_for(
            lambda: any("this bot is private" in (m.text or "") for m in telegram.bot_messages(MALLORY))
        )
        assert await bot.services.storage.people.get(MALLORY) is None
        refused = bot.services.metrics.tasks_refused.labels(reason="access")
        assert refused._value.get() == 1


async def test_in_polling_mode_callbacks_are_sent_to_a_name_that_never_resolves(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    async with start_bot(make_settings(webhook=False, SUNO_POLL_INTERVAL=0.3)):
        await telegram.user_sends_text(ALICE, "/generate a private song")
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
    (sent,) = provider.api_requests("generate")
    host = urlsplit(sent.json["callBackUrl"]).hostname or ""
    assert host.endswith(".invalid")  # RFC 2606: reserved, so no third party ever receives them
