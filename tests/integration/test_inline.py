"""Inline mode through the real bot and the Telegram emulator: only the asker's own songs, paged."""

from __future__ import annotations

import time

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.events import NewEvent
from storage.models import Stage, TaskKind, TrackData
from storage.store import Storage
from tests.integration.test_library import make_songs

ALICE = 1001
BOB = 1002
GROUP = -100500


async def seed_delivered(storage: Storage, user_id: int, file_id: str, count: int) -> set[int]:
    """`count` more delivered songs for the person (as a long-time user has), reusing a real file id."""
    ids = set()
    now = time.time() - 3600  # older than the songs the test makes through the bot
    for n in range(count):
        task = await storage.tasks.create(
            user_id=user_id,
            chat_id=user_id,
            kind=TaskKind.GENERATE,
            params={"customMode": False, "model": "V4_5", "prompt": f"old song {n}"},
            model="V4_5",
            now=now + n,
        )
        await storage.tasks.mark_submitted(task.id, f"seeded-{task.id}", now=now + n)
        event_id = await storage.events.add(NewEvent(task.id, "callback", Stage.COMPLETE, "{}", now + n))
        await storage.tasks.apply(
            event_id=event_id,
            task_id=task.id,
            reported=Stage.COMPLETE,
            tracks=[
                TrackData(audio_id=f"seeded-{task.id}", title=f"Old Song {n}", tags="ambient", duration=60)
            ],
            error_code=None,
            error_text=None,
            now=now + n,
        )
        [track] = await storage.tasks.tracks(task.id)
        await storage.tasks.mark_track_sent(track.id, file_id=file_id, message_id=1, now=now + n)
        ids.add(track.id)
    return ids


async def answer(telegram: TelegramEmulator, user_id: int, words: str, offset: str = ""):  # type: ignore[no-untyped-def]
    query_id = await telegram.user_types_inline(user_id, words, offset=offset)
    await telegram.wait_for(lambda: telegram.inline_answer(query_id) is not None)
    found = telegram.inline_answer(query_id)
    assert found is not None
    return query_id, found


async def test_inline_results_are_the_askers_own_songs_paged(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    telegram.inline_mode = True
    provider.script(delays=(0.05, 0.1, 0.15))
    await make_songs(bot, telegram, ALICE, ["rain over tokyo"])
    await make_songs(bot, telegram, BOB, ["rain on the window"])
    storage = bot.services.storage
    alice_tracks = {t.id for t in await storage.tasks.tracks(1)}
    bob_tracks = {t.id for t in await storage.tasks.tracks(2)}
    file_id = telegram.audios(ALICE)[0].audio["file_id"]  # type: ignore[index]
    alice_tracks |= await seed_delivered(storage, ALICE, file_id, 23)  # 25 songs: two pages of 20

    _, first = await answer(telegram, ALICE, "")
    assert first.is_personal and first.cache_time is not None and first.cache_time <= 60
    assert len(first.results) == 20 and first.next_offset == "20"
    assert all(r["type"] == "audio" and "audio_file_id" in r for r in first.results)
    newest = {str(t.id) for t in await storage.tasks.tracks(1)}
    assert set(first.result_ids()[:2]) == newest  # the songs just made come first
    _, second = await answer(telegram, ALICE, "", offset=first.next_offset)
    assert len(second.results) == 5 and second.next_offset == ""
    shown = {int(i) for i in first.result_ids() + second.result_ids()}
    assert shown == alice_tracks and not shown & bob_tracks

    _, rain = await answer(telegram, ALICE, "rain")
    assert {int(i) for i in rain.result_ids()} == {t.id for t in await storage.tasks.tracks(1)}
    _, bobs = await answer(telegram, BOB, "rain")
    assert {int(i) for i in bobs.result_ids()} == bob_tracks
    _, none = await answer(telegram, BOB, "old song")
    assert none.results == [] and none.next_offset == ""
    assert telegram.violations == []


async def test_choosing_a_result_posts_the_song_with_a_make_your_own_button(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    telegram.inline_mode = True
    telegram.inline_feedback = True
    provider.script(delays=(0.05, 0.1, 0.15))
    await make_songs(bot, telegram, ALICE, ["rain over tokyo"])
    telegram.create_group(GROUP, added_by=ALICE)
    query_id, found = await answer(telegram, ALICE, "tokyo")
    chosen = found.results[0]
    posted = await telegram.user_chooses_inline_result(ALICE, query_id, chosen["id"], GROUP)
    assert posted.audio is not None and posted.audio["file_id"] == chosen["audio_file_id"]
    assert posted.raw["via_bot"]["username"] == telegram.store.bot_username
    [[button]] = posted.reply_markup["inline_keyboard"]  # type: ignore[index]
    assert button["text"] == "Make your own"
    assert button["url"].startswith(f"https://t.me/{telegram.store.bot_username}")
    # The bot hears of the choice (inline feedback) and of the post, and says nothing in the group.
    await telegram.wait_for(lambda: not telegram.pending_updates)
    await bot.services.tasks.idle()
    assert telegram.bot_messages(GROUP) == []
    assert telegram.violations == []
