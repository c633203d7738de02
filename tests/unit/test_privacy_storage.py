"""The privacy rules in storage: prompts and lyrics pruned after retention, a person forgotten, and the
person's row keeping only their private chat."""

from __future__ import annotations

from pathlib import Path

from bot.ops.housekeeping import sweep
from storage.conversations import ConversationWrite, UserDataWrite
from storage.models import Stage, TaskKind, TrackData
from storage.store import Storage
from tests.unit.test_storage import NOW, apply, new_task

DAY = 86400.0
RETENTION = 30 * DAY


def lyrics_track() -> TrackData:
    return TrackData(
        audio_id="audio-1",
        title="Rain",
        tags="lo-fi",
        prompt="[Verse] the rain on my window",
        duration=120.0,
        audio_url="https://cdn.example.com/1.mp3",
    )


async def old_and_running(storage: Storage) -> tuple[int, int]:
    """A task that ended at NOW + 10 with a track's lyrics, and one still being made."""
    ended = await new_task(storage)
    await apply(storage, ended, Stage.COMPLETE, [lyrics_track()], now=NOW + 10)
    running = await new_task(storage)
    await apply(storage, running, Stage.TEXT, [lyrics_track().model_copy(update={"audio_id": "a-2"})])
    return ended.id, running.id


async def swept_at(storage: Storage, tmp_path: Path, now: float) -> int:
    swept = await sweep(
        storage,
        tmp_path,
        upload_retention=DAY,
        event_retention=365 * DAY,
        prompt_retention=RETENTION,
        now=now,
    )
    return swept.prompts


async def test_prompts_and_lyrics_are_pruned_after_retention_but_never_of_a_running_task(
    storage: Storage, tmp_path: Path
) -> None:
    ended, running = await old_and_running(storage)
    assert await swept_at(storage, tmp_path, NOW + RETENTION - DAY) == 0  # not yet
    assert (await storage.tasks.require(ended)).params["prompt"] == "rain"

    assert await swept_at(storage, tmp_path, NOW + RETENTION + DAY) == 1
    task = await storage.tasks.require(ended)
    assert task.params == {} and task.stage is Stage.COMPLETE and task.user_id == 1
    assert [t.prompt for t in await storage.tasks.tracks(ended)] == [""]
    assert [t.title for t in await storage.tasks.tracks(ended)] == ["Rain"]  # what was sent stays
    assert await storage.events.for_task(ended) == []  # the provider's answers repeat the lyrics
    # The running task keeps everything: its request is still needed.
    assert (await storage.tasks.require(running)).params["prompt"] == "rain"
    assert [t.prompt for t in await storage.tasks.tracks(running)] == ["[Verse] the rain on my window"]
    assert await storage.events.for_task(running) != []
    # Counting stays possible: quotas and /stats read the rows.
    assert await storage.tasks.count_created_since(1, NOW - 1) == 2
    assert await swept_at(storage, tmp_path, NOW + RETENTION + 2 * DAY) == 0  # once is enough


async def test_forget_deletes_the_person_and_keeps_only_counts(storage: Storage, tmp_path: Path) -> None:
    await storage.people.seen(1, 1, first_name="Ana", username="ana", language="pt", now=NOW)
    await storage.people.seen(2, 2, first_name="Bea", username=None, language="en", now=NOW)
    ended = await new_task(storage)
    await apply(storage, ended, Stage.COMPLETE, [lyrics_track()], now=NOW + 10)
    upload_file = tmp_path / "upload.mp3"
    upload_file.write_bytes(b"ID3")
    upload = await storage.uploads.add(
        user_id=1,
        chat_id=1,
        path=str(upload_file),
        file_name="my take.mp3",
        mime_type="audio/mpeg",
        size=3,
        duration=12.0,
        sha256="0" * 64,
        telegram_file_id=None,
        now=NOW,
    )
    with_upload = await storage.tasks.create(
        user_id=1,
        chat_id=-1001,
        kind=TaskKind.UPLOAD_COVER,
        params={"title": "Mine"},
        model="V4_5",
        upload_id=upload.id,
        now=NOW,
    )
    await storage.tasks.mark_failed(with_upload.id, code=400, text="refused: Mine", now=NOW + 5)
    await storage.conversations.write(
        [
            ConversationWrite("forms", "[-1001,1]", "0"),
            ConversationWrite("forms", "[1,1]", "0"),
            ConversationWrite("forms", "[2,2]", "0"),
            UserDataWrite(1, '{"draft": {}}'),
        ],
        now=NOW,
    )

    forgotten = await storage.privacy.forget(1)

    assert (forgotten.tasks, forgotten.tracks, forgotten.uploads, forgotten.running) == (2, 1, 1, 0)
    assert forgotten.upload_paths == [str(upload_file)]
    assert await storage.people.get(1) is None
    assert await storage.uploads.get(upload.id) is None
    for task_id in (ended.id, with_upload.id):
        task = await storage.tasks.require(task_id)
        assert task.params == {} and task.error_text is None and task.upload_id is None
        assert await storage.tasks.tracks(task_id) == []
        assert await storage.events.for_task(task_id) == []
    assert (await storage.tasks.require(with_upload.id)).error_code == 400  # failures still count
    assert await storage.tasks.count_created_since(1, NOW - 1) == 2
    assert [c.conversation for c in await storage.conversations.conversations("forms")] == ["[2,2]"]
    assert [u.user_id for u in await storage.conversations.user_data()] == []
    assert await storage.people.get(2) is not None  # nobody else is touched


async def test_forget_waits_for_a_running_task_and_keeps_an_admins_decision(storage: Storage) -> None:
    await storage.people.seen(1, 1, first_name="Ana", username="ana", language="pt", now=NOW)
    await storage.people.set_access(1, "allowed", now=NOW)
    running = await new_task(storage)
    refused = await storage.privacy.forget(1)
    assert refused.running == 1 and refused.tasks == 0
    assert (await storage.tasks.require(running.id)).params["prompt"] == "rain"

    await storage.tasks.mark_failed(running.id, code=500, text="boom", now=NOW + 1)
    assert (await storage.privacy.forget(1)).tasks == 1
    person = await storage.people.get(1)
    assert person is not None and person.access == "allowed"  # or /forget would undo an /allow
    assert (person.first_name, person.username, person.language) == ("", None, None)


async def test_a_group_never_replaces_the_private_chat_kept_for_a_person(storage: Storage) -> None:
    await storage.people.seen(1, None, first_name="Ana", username=None, language="en", now=NOW)
    person = await storage.people.get(1)
    assert person is not None and person.chat_id is None
    await storage.people.seen(1, 1, first_name="Ana", username=None, language="en", now=NOW + 1)
    await storage.people.mark_bot_blocked(1)
    await storage.people.seen(1, None, first_name="Ana", username=None, language="en", now=NOW + 2)
    person = await storage.people.get(1)
    assert person is not None and person.chat_id == 1
    assert person.bot_blocked  # writing in a group does not unblock the private chat
