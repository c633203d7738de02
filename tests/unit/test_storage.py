"""Storage: migrations, the forward-only `apply`, track delivery bookkeeping and the event log."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import psycopg
import pytest

from storage.db import Conn, UnsupportedDatabaseVersion, open_database
from storage.events import NewEvent
from storage.models import Stage, Task, TaskKind, TrackData
from storage.store import Storage

NOW = 1_700_000_000.0


async def new_task(storage: Storage, *, user_id: int = 1, submitted: bool = True) -> Task:
    task = await storage.tasks.create(
        user_id=user_id,
        chat_id=user_id,
        kind=TaskKind.GENERATE,
        params={"customMode": False, "model": "V4_5", "prompt": "rain"},
        model="V4_5",
        now=NOW,
    )
    if submitted:
        task = await storage.tasks.mark_submitted(task.id, f"provider-{task.id}", now=NOW + 1)
    return task


def track(n: int, *, audio: bool = True, stream: bool = True, title: str | None = None) -> TrackData:
    return TrackData(
        audio_id=f"audio-{n}",
        title=title if title is not None else f"Song {n}",
        tags="lo-fi",
        duration=120.0 if audio else None,
        audio_url=f"https://cdn.example.com/{n}.mp3" if audio else None,
        stream_url=f"https://cdn.example.com/stream/{n}" if stream else None,
        image_url=f"https://cdn.example.com/{n}.jpeg" if audio else None,
    )


async def apply(
    storage: Storage,
    task: Task,
    stage: Stage,
    tracks: list[TrackData] | None = None,
    *,
    now: float = NOW + 10,
    code: int | None = None,
):
    event_id = await storage.events.add(NewEvent(task.id, "callback", stage, "{}", now))
    return await storage.tasks.apply(
        event_id=event_id,
        task_id=task.id,
        reported=stage,
        tracks=tracks or [],
        error_code=code,
        error_text="failed" if code else None,
        now=now,
    )


async def test_the_model_a_retry_was_accepted_on_replaces_the_stored_one(storage: Storage) -> None:
    kept = await new_task(storage)
    assert kept.model == "V4_5"  # no model given: the stored one stays
    task = await new_task(storage, submitted=False)
    task = await storage.tasks.mark_submitted(task.id, "provider-x", now=NOW + 1, model="V6")
    assert (task.model, task.provider_task_id, task.stage) == ("V6", "provider-x", Stage.SUBMITTED)


# ---- migrations ------------------------------------------------------------------------------------


async def test_migrations_are_idempotent(tmp_path: Path, database_url: str | None) -> None:
    path = tmp_path / "db.sqlite3"
    first = Storage(path, url=database_url)
    await first.open()
    version = await first.db.version()
    assert version >= 1
    task = await new_task(first)
    assert await first.db.migrate() == version  # running again changes nothing
    await first.close()

    again = Storage(path, url=database_url)
    await again.open()
    assert await again.db.version() == version
    assert (await again.tasks.require(task.id)).provider_task_id == task.provider_task_id
    await again.close()


@pytest.mark.sqlite_only
async def test_wal_mode(storage: Storage) -> None:
    row = await storage.db.fetchone("PRAGMA journal_mode")
    assert row is not None and str(row[0]).lower() == "wal"


async def test_newer_schema_is_refused(tmp_path: Path, database_url: str | None) -> None:
    path = tmp_path / "future.sqlite3"
    if database_url is None:
        async with aiosqlite.connect(path) as conn:
            await conn.execute("PRAGMA user_version = 999")
            await conn.commit()
    else:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO schema_version VALUES (999)")
    db = open_database(path=path, url=database_url)
    await db.open()
    try:
        with pytest.raises(
            UnsupportedDatabaseVersion, match="DATABASE_PATH" if database_url is None else "DATABASE_URL"
        ):
            await db.migrate()
        assert await db.version() == 999  # untouched
    finally:
        await db.close()


async def test_run_transaction_commits_its_work_in_one_go_or_nothing(storage: Storage) -> None:
    task = await new_task(storage)

    def fail_task(conn: Conn) -> int:
        conn.execute("UPDATE tasks SET stage = 'failed' WHERE id = ?", (task.id,))
        return int(conn.execute("SELECT COUNT(*) FROM tasks WHERE stage = 'failed'").fetchone()[0])

    def fail_then_break(conn: Conn) -> None:
        conn.execute("UPDATE tasks SET stage = 'complete' WHERE id = ?", (task.id,))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await storage.db.run_transaction(fail_then_break)
    assert (await storage.tasks.require(task.id)).stage is Stage.SUBMITTED
    assert await storage.db.run_transaction(fail_task) == 1  # its own writes are visible inside
    assert (await storage.tasks.require(task.id)).stage is Stage.FAILED
    # The connection is back in autocommit mode: a plain write after it is committed on its own.
    await storage.tasks.touch(task.id, now=NOW + 5)
    assert (await storage.tasks.require(task.id)).last_event_at == NOW + 5


async def test_a_task_comes_with_its_persons_locale(storage: Storage) -> None:
    await storage.people.seen(7, 7, first_name="Ana", username=None, language="pt-br", now=NOW)
    task = await new_task(storage, user_id=7)
    stranger = await new_task(storage, user_id=8)  # no people row (an admin's task for someone, say)
    assert await storage.tasks.with_locale(task.id) == (await storage.tasks.require(task.id), "pt-br")
    await storage.people.set_language(7, "de")
    assert (await storage.tasks.with_locale(task.id))[1] == "de"  # the person's own choice wins
    assert (await storage.tasks.with_locale(stranger.id))[1] is None
    with pytest.raises(LookupError):
        await storage.tasks.with_locale(999_999)


# ---- apply -----------------------------------------------------------------------------------------


async def test_full_progression(storage: Storage) -> None:
    task = await new_task(storage)
    text = await apply(storage, task, Stage.TEXT, now=NOW + 10)
    assert text.changed and text.previous is Stage.SUBMITTED and text.task.stage is Stage.TEXT
    assert text.task.text_at == NOW + 10
    first = await apply(storage, task, Stage.FIRST, [track(0, audio=False)], now=NOW + 20)
    assert first.task.stage is Stage.FIRST and first.task.first_at == NOW + 20
    assert first.task.stream_url == "https://cdn.example.com/stream/0"
    done = await apply(storage, task, Stage.COMPLETE, [track(0), track(1)], now=NOW + 30)
    assert done.task.stage is Stage.COMPLETE and done.task.finished_at == NOW + 30
    tracks = await storage.tasks.tracks(task.id)
    assert [t.audio_id for t in tracks] == ["audio-0", "audio-1"]
    assert [t.position for t in tracks] == [0, 1]
    assert all(t.audio_url for t in tracks)
    # The task an apply returns is built in memory: it must equal what was written.
    assert done.task == await storage.tasks.require(task.id)
    assert await storage.events.unapplied_for_task(task.id) == []


async def test_duplicate_changes_nothing(storage: Storage) -> None:
    task = await new_task(storage)
    await apply(storage, task, Stage.COMPLETE, [track(0), track(1)], now=NOW + 30)
    before_task = await storage.tasks.require(task.id)
    before_tracks = await storage.tasks.tracks(task.id)
    again = await apply(storage, task, Stage.COMPLETE, [track(0), track(1)], now=NOW + 40)
    assert not again.changed
    after = await storage.tasks.require(task.id)
    assert after.stage is Stage.COMPLETE and after.finished_at == before_task.finished_at
    assert await storage.tasks.tracks(task.id) == before_tracks


async def test_late_first_after_complete_changes_nothing(storage: Storage) -> None:
    task = await new_task(storage)
    await apply(storage, task, Stage.COMPLETE, [track(0), track(1)], now=NOW + 30)
    before = await storage.tasks.tracks(task.id)
    # The late `first` knows only a stream URL for the first song and an older title.
    late = await apply(
        storage, task, Stage.FIRST, [track(0, audio=False, title="Old title"), track(9)], now=NOW + 40
    )
    assert not late.changed
    after_task = await storage.tasks.require(task.id)
    assert after_task.stage is Stage.COMPLETE and after_task.first_at is None
    after = await storage.tasks.tracks(task.id)
    assert after == before  # no URL overwritten, no title changed, no extra track from a stale report
    late_text = await apply(storage, task, Stage.TEXT, now=NOW + 50)
    assert not late_text.changed and (await storage.tasks.require(task.id)).stage is Stage.COMPLETE


async def test_late_report_after_failure_changes_nothing(storage: Storage) -> None:
    task = await new_task(storage)
    failed = await apply(storage, task, Stage.FAILED, code=501, now=NOW + 30)
    assert failed.task.stage is Stage.FAILED and failed.task.error_code == 501
    assert failed.task == await storage.tasks.require(task.id)
    late = await apply(storage, task, Stage.COMPLETE, [track(0), track(1)], now=NOW + 40)
    assert not late.changed
    assert (await storage.tasks.require(task.id)).stage is Stage.FAILED
    assert await storage.tasks.tracks(task.id) == []


async def test_failure_after_complete_changes_nothing(storage: Storage) -> None:
    task = await new_task(storage)
    await apply(storage, task, Stage.COMPLETE, [track(0), track(1)])
    late = await apply(storage, task, Stage.FAILED, code=500)
    assert not late.changed
    task = await storage.tasks.require(task.id)
    assert task.stage is Stage.COMPLETE and task.error_code is None


async def test_skipped_stages_are_fine(storage: Storage) -> None:
    task = await new_task(storage)
    done = await apply(storage, task, Stage.COMPLETE, [track(0), track(1)])
    assert done.changed and done.previous is Stage.SUBMITTED and done.task.stage is Stage.COMPLETE
    assert len(await storage.tasks.tracks(task.id)) == 2
    assert done.task == await storage.tasks.require(task.id)
    assert done.task.stream_url == "https://cdn.example.com/stream/0"


async def test_tracks_are_merged_not_duplicated(storage: Storage) -> None:
    task = await new_task(storage)
    await apply(storage, task, Stage.FIRST, [track(0, audio=False)], now=NOW + 20)
    (only,) = await storage.tasks.tracks(task.id)
    assert only.audio_url is None and only.stream_url
    await apply(storage, task, Stage.COMPLETE, [track(0), track(1)], now=NOW + 30)
    merged = await storage.tasks.tracks(task.id)
    assert len(merged) == 2
    assert merged[0].id == only.id and merged[0].audio_url == "https://cdn.example.com/0.mp3"
    assert merged[0].duration == 120.0


async def test_later_report_without_a_url_keeps_the_known_one(storage: Storage) -> None:
    task = await new_task(storage)
    await apply(storage, task, Stage.FIRST, [track(0)], now=NOW + 20)
    await apply(storage, task, Stage.COMPLETE, [track(0, stream=False, title=""), track(1)], now=NOW + 30)
    first = (await storage.tasks.tracks(task.id))[0]
    assert first.stream_url == "https://cdn.example.com/stream/0" and first.title == "Song 0"


async def test_mark_track_sent_only_once(storage: Storage) -> None:
    task = await new_task(storage)
    await apply(storage, task, Stage.COMPLETE, [track(0), track(1)])
    first, second = await storage.tasks.tracks(task.id)
    assert await storage.tasks.mark_track_sent(first.id, file_id="F1", message_id=10, now=NOW + 50)
    assert not await storage.tasks.mark_track_sent(first.id, file_id="F2", message_id=11, now=NOW + 60)
    stored = await storage.tasks.track(first.id)
    assert stored is not None
    assert stored.telegram_file_id == "F1" and stored.telegram_message_id == 10 and stored.sent_at == NOW + 50
    undelivered = await storage.tasks.with_undelivered_tracks()
    assert [t.id for t in undelivered] == [task.id]
    assert await storage.tasks.mark_track_sent(second.id, file_id="F3", message_id=12, now=NOW + 70)
    assert await storage.tasks.with_undelivered_tracks() == []


async def test_a_sent_track_is_never_rewritten(storage: Storage) -> None:
    task = await new_task(storage)
    await apply(storage, task, Stage.COMPLETE, [track(0)])
    (sent,) = await storage.tasks.tracks(task.id)
    await storage.tasks.mark_track_sent(sent.id, file_id="F1", message_id=10, now=NOW)
    changed = track(0).model_copy(update={"audio_url": "https://cdn.example.com/other.mp3"})
    await apply(storage, task, Stage.COMPLETE, [changed])
    (after,) = await storage.tasks.tracks(task.id)
    assert after.audio_url == "https://cdn.example.com/0.mp3" and after.telegram_file_id == "F1"


async def test_mark_failed_only_once(storage: Storage) -> None:
    task = await new_task(storage)
    assert await storage.tasks.mark_failed(task.id, code=429, text="no credits", now=NOW)
    assert not await storage.tasks.mark_failed(task.id, code=500, text="later", now=NOW)
    assert (await storage.tasks.require(task.id)).error_code == 429


async def test_due_for_poll(storage: Storage) -> None:
    quiet = await new_task(storage)
    busy = await new_task(storage)
    await storage.tasks.touch(busy.id, now=NOW + 100)
    unsubmitted = await new_task(storage, submitted=False)
    done = await new_task(storage)
    await apply(storage, done, Stage.COMPLETE, [track(0)], now=NOW)
    due = await storage.tasks.due_for_poll(quiet_since=NOW + 50)
    assert [t.id for t in due] == [quiet.id]
    assert unsubmitted.id not in [t.id for t in await storage.tasks.due_for_poll(quiet_since=NOW + 1000)]


# ---- events ----------------------------------------------------------------------------------------


async def test_concurrent_adds_get_distinct_ids(storage: Storage) -> None:
    task = await new_task(storage)
    events = [NewEvent(task.id, "callback", Stage.TEXT, f'{{"n": {n}}}', NOW + n) for n in range(50)]
    ids = await asyncio.gather(*(storage.events.add(e) for e in events))
    assert len(set(ids)) == 50
    stored = await storage.events.for_task(task.id)
    by_id = {e.id: e.payload for e in stored}
    for event, event_id in zip(events, ids, strict=True):
        assert by_id[event_id] == event.payload  # each caller got the id of its own row


async def test_a_batch_gets_its_own_ids_after_the_newest_rows_were_deleted(storage: Storage) -> None:
    # A batch's ids are worked out from the last one SQLite gave: they must still be the rows' own when
    # the ids below it are not contiguous.
    task = await new_task(storage)
    first = await asyncio.gather(
        *(storage.events.add(NewEvent(task.id, "poll", Stage.TEXT, "{}", NOW)) for _ in range(5))
    )
    await storage.db.execute("DELETE FROM events WHERE id >= ?", (sorted(first)[2],))
    events = [NewEvent(task.id, "callback", Stage.FIRST, f'{{"n": {n}}}', NOW) for n in range(20)]
    ids = await asyncio.gather(*(storage.events.add(e) for e in events))
    assert min(ids) > max(first)  # never an id used before, not even a deleted one
    by_id = {e.id: e.payload for e in await storage.events.for_task(task.id)}
    assert [by_id[i] for i in ids] == [e.payload for e in events]


async def test_event_write_failure_reaches_every_waiter(storage: Storage) -> None:
    # Task 999 does not exist: the foreign key fails the whole batch, and nobody is told it was stored.
    bad = [NewEvent(999, "callback", Stage.TEXT, "{}", NOW) for _ in range(3)]
    results = await asyncio.gather(*(storage.events.add(e) for e in bad), return_exceptions=True)
    assert all(isinstance(r, Exception) for r in results)
    task = await new_task(storage)
    assert await storage.events.add(NewEvent(task.id, "poll", Stage.TEXT, "{}", NOW)) > 0


async def test_unapplied_and_prune(storage: Storage) -> None:
    task = await new_task(storage)
    old = await storage.events.add(NewEvent(task.id, "callback", Stage.TEXT, "{}", NOW - 1000))
    pending = await storage.events.add(NewEvent(task.id, "callback", Stage.FIRST, "{}", NOW - 1000))
    await storage.events.mark_applied(old, now=NOW)
    assert [e.id for e in await storage.events.unapplied()] == [pending]
    assert await storage.events.prune(older_than=NOW) == 1
    assert [e.id for e in await storage.events.for_task(task.id)] == [pending]  # unapplied never pruned
    assert await storage.events.last_received_at() == NOW - 1000


async def test_people_bot_blocked(storage: Storage) -> None:
    await storage.people.seen(5, 5, first_name="Eve", username=None, language="en", now=NOW)
    await storage.people.mark_bot_blocked(5)
    person = await storage.people.get(5)
    assert person is not None and person.bot_blocked


async def test_urgent_writes_go_before_queued_ones() -> None:
    from storage.sqlite import PriorityLock

    lock, order = PriorityLock(), []
    release = asyncio.Event()

    async def holder() -> None:
        async with lock.hold():
            await release.wait()

    async def writer(name: str, urgent: bool) -> None:
        async with lock.hold(urgent=urgent):
            order.append(name)

    first = asyncio.create_task(holder())
    await asyncio.sleep(0)
    waiters = [asyncio.create_task(writer(n, u)) for n, u in (("a", False), ("b", False), ("callback", True))]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(first, *waiters)
    assert order == ["callback", "a", "b"]
