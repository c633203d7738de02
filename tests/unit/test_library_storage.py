"""The library's queries: only delivered, unhidden tracks of the person, newest first, found by words."""

from __future__ import annotations

from storage.events import NewEvent
from storage.models import Stage, TaskKind, TrackData
from storage.store import Storage

NOW = 1_700_000_000.0


async def delivered(storage: Storage, user_id: int, title: str, *, at: float, sent: bool = True) -> int:
    task = await storage.tasks.create(
        user_id=user_id,
        chat_id=user_id,
        kind=TaskKind.GENERATE,
        params={"customMode": False, "model": "V4_5", "prompt": title.lower()},
        model="V4_5",
        now=at,
    )
    await storage.tasks.mark_submitted(task.id, f"p-{task.id}", now=at)
    event_id = await storage.events.add(NewEvent(task.id, "callback", Stage.COMPLETE, "{}", at))
    await storage.tasks.apply(
        event_id=event_id,
        task_id=task.id,
        reported=Stage.COMPLETE,
        tracks=[TrackData(audio_id=f"a-{task.id}", title=title, tags="lo-fi", duration=90)],
        error_code=None,
        error_text=None,
        now=at,
    )
    [track] = await storage.tasks.tracks(task.id)
    if sent:
        await storage.tasks.mark_track_sent(track.id, file_id=f"F{track.id}", message_id=1, now=at)
    return track.id


async def test_pages_are_the_persons_delivered_songs_newest_first(storage: Storage) -> None:
    ids = [await delivered(storage, 1, f"Song {n}", at=NOW + n) for n in range(7)]
    await delivered(storage, 1, "Never sent", at=NOW + 100, sent=False)
    await delivered(storage, 2, "Someone else's", at=NOW + 200)
    first = await storage.library.page(1, limit=5)
    assert first.total == 7 and [e.track.id for e in first.entries] == ids[::-1][:5]
    second = await storage.library.page(1, offset=5, limit=5)
    assert [e.track.id for e in second.entries] == ids[1::-1]


async def test_search_needs_every_word_and_treats_wildcards_literally(storage: Storage) -> None:
    rain = await delivered(storage, 1, "Rain Over Tokyo", at=NOW)
    await delivered(storage, 1, "Tokyo Nights", at=NOW + 1)
    hundred = await delivered(storage, 1, "100% Sun", at=NOW + 2)
    assert [e.track.id for e in (await storage.library.page(1, query="tokyo RAIN")).entries] == [rain]
    assert [e.track.id for e in (await storage.library.page(1, query="%")).entries] == [hundred]
    assert (await storage.library.page(1, query="_")).entries == []


async def test_hiding_is_for_the_owner_only_and_keeps_the_task(storage: Storage) -> None:
    track_id = await delivered(storage, 1, "Mine", at=NOW)
    assert not await storage.library.hide(2, track_id, now=NOW)
    assert await storage.library.entry(1, track_id) is not None
    assert await storage.library.hide(1, track_id, now=NOW)
    assert not await storage.library.hide(1, track_id, now=NOW)  # already gone
    assert await storage.library.entry(1, track_id) is None
    assert (await storage.library.page(1)).total == 0
    assert await storage.tasks.track(track_id) is not None  # hidden, not deleted
