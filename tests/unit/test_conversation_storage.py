"""Open questions in the database: the repository's rows and the PTB persistence built on them."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from telegram.ext import PersistenceInput

from bot.chat.forms import Draft
from bot.ops.housekeeping import QUESTION_RETENTION, sweep
from bot.services import UserData
from bot.telegram.persistence import StoragePersistence, user_data_to_json
from storage.conversations import ConversationWrite, StoredConversation, StoredUserData, UserDataWrite
from storage.store import Storage

NOW = 1_700_000_000.0


def draft(title: str = "Night Drive") -> Draft:
    return Draft(flow="custom", model="V4_5PLUS", answers={"title": title}, step=1)


def person(with_draft: Draft | None) -> UserData:
    data = UserData()
    data.draft = with_draft
    return data


class Clock:
    """time.time for the persistence, counting its commits (it reads the clock once per commit)."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return NOW


# ---- the repository --------------------------------------------------------------------------------


async def test_writes_apply_in_order_in_one_batch(storage: Storage) -> None:
    repo = storage.conversations
    await repo.write(
        [
            ConversationWrite("forms", "[1,1]", "0"),
            ConversationWrite("forms", "[2,2]", "0"),
            ConversationWrite("other", "[1,1]", "5"),
            UserDataWrite(1, '{"a":1}'),
            UserDataWrite(2, '{"b":2}'),
        ],
        now=NOW,
    )
    await repo.write(
        [
            ConversationWrite("forms", "[2,2]", None),
            ConversationWrite("forms", "[1,1]", "1"),
            UserDataWrite(1, '{"a":2}'),
            UserDataWrite(2, None),
            UserDataWrite(3, None),  # nothing stored: a no-op
        ],
        now=NOW + 1,
    )
    assert await repo.conversations("forms") == [StoredConversation("[1,1]", "1")]
    assert await repo.conversations("other") == [StoredConversation("[1,1]", "5")]
    assert await repo.user_data() == [StoredUserData(1, '{"a":2}')]


async def test_a_failed_batch_writes_nothing(storage: Storage) -> None:
    with pytest.raises(Exception, match=r"(?i)not[ -]null"):
        await storage.conversations.write(
            [UserDataWrite(1, '{"a":1}'), ConversationWrite(None, "[1]", "0")],  # type: ignore[arg-type]
            now=NOW,
        )
    assert await storage.conversations.user_data() == []


async def test_prune_forgets_only_untouched_rows(storage: Storage) -> None:
    repo = storage.conversations
    await repo.write([ConversationWrite("forms", "[1,1]", "0"), UserDataWrite(1, "{}")], now=NOW)
    await repo.write([ConversationWrite("forms", "[2,2]", "0"), UserDataWrite(2, "{}")], now=NOW + 100)
    assert await repo.prune(older_than=NOW + 50) == 2
    assert await repo.conversations("forms") == [StoredConversation("[2,2]", "0")]
    assert [row.user_id for row in await repo.user_data()] == [2]


async def test_housekeeping_sweeps_abandoned_questions(storage: Storage, tmp_path: Path) -> None:
    repo = storage.conversations
    await repo.write([ConversationWrite("forms", "[1,1]", "0"), UserDataWrite(1, "{}")], now=NOW)
    await repo.write([ConversationWrite("forms", "[2,2]", "0"), UserDataWrite(2, "{}")], now=NOW + 86400)
    swept = await sweep(
        storage, tmp_path, upload_retention=3600, event_retention=86400, now=NOW + QUESTION_RETENTION + 1
    )
    assert swept.questions == 2
    assert [row.user_id for row in await repo.user_data()] == [2]


# ---- the persistence -------------------------------------------------------------------------------


async def test_questions_come_back_in_a_new_process(storage: Storage) -> None:
    first = StoragePersistence(storage.conversations)
    await first.get_user_data()
    await first.get_conversations("forms")
    await first.update_user_data(1001, person(draft()))
    await first.update_conversation("forms", (1001, 1001), 0)
    await first.flush()

    again = StoragePersistence(storage.conversations)
    restored = await again.get_user_data()
    assert list(restored) == [1001] and restored[1001].draft == draft()
    assert await again.get_conversations("forms") == {(1001, 1001): 0}
    assert await again.get_conversations("other") == {}


async def test_a_question_that_ends_leaves_no_row(storage: Storage) -> None:
    persistence = StoragePersistence(storage.conversations)
    await persistence.update_user_data(1001, person(draft()))
    await persistence.update_conversation("forms", (1001, 1001), 0)
    await persistence.update_user_data(1001, person(None))  # finished or cancelled
    await persistence.update_conversation("forms", (1001, 1001), None)  # END
    assert await storage.conversations.user_data() == []
    assert await storage.conversations.conversations("forms") == []


async def test_nothing_to_keep_costs_no_write(storage: Storage) -> None:
    # PTB marks everyone who sent anything; people with no open question must not each cost a DELETE.
    clock = Clock()
    persistence = StoragePersistence(storage.conversations, clock=clock)
    await persistence.get_user_data()
    await persistence.update_user_data(1, person(None))
    await persistence.update_conversation("forms", (1, 1), None)
    assert clock.reads == 0
    await persistence.update_user_data(1, person(draft()))
    await persistence.update_user_data(1, person(None))
    assert clock.reads == 2  # a row written, then removed


async def test_a_round_of_changes_is_one_commit(storage: Storage) -> None:
    clock = Clock()
    persistence = StoragePersistence(storage.conversations, clock=clock)
    # As Application.update_persistence hands a round over: all update_* calls gathered at once.
    await asyncio.gather(
        *(persistence.update_user_data(user, person(draft(f"Song {user}"))) for user in range(1, 51)),
        *(persistence.update_conversation("forms", (user, user), 0) for user in range(1, 51)),
    )
    assert clock.reads == 1
    assert len(await storage.conversations.user_data()) == 50


async def test_unreadable_rows_are_dropped_with_a_warning(
    storage: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    good = user_data_to_json(person(draft()))
    assert good is not None
    await storage.conversations.write(
        [
            UserDataWrite(1, good),
            UserDataWrite(2, "{not json"),
            UserDataWrite(3, '{"draft": {"format": 99}}'),  # written by a later version
            UserDataWrite(4, '{"draft": null, "mood": "happy"}'),
            ConversationWrite("forms", "[1,1]", "0"),
            ConversationWrite("forms", "not json", "0"),
            ConversationWrite("forms", "[3,3]", "[0]"),
        ],
        now=NOW,
    )
    persistence = StoragePersistence(storage.conversations)
    with caplog.at_level(logging.WARNING, logger="bot.telegram.persistence"):
        restored = await persistence.get_user_data()
        conversations = await persistence.get_conversations("forms")
    assert list(restored) == [1]
    assert conversations == {(1, 1): 0}
    dropped = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(dropped) == 5
    assert "Night Drive" not in caplog.text  # people's own words stay out of the logs
    # Dropped for good, so the next start does not warn again.
    assert [row.user_id for row in await storage.conversations.user_data()] == [1]
    assert await storage.conversations.conversations("forms") == [StoredConversation("[1,1]", "0")]


async def test_only_user_data_and_conversations_are_stored(storage: Storage) -> None:
    # bot_data holds the live services: storing it would try to copy database connections.
    assert StoragePersistence(storage.conversations).store_data == PersistenceInput(
        bot_data=False, chat_data=False, user_data=True, callback_data=False
    )


def test_user_data_holds_only_what_is_written() -> None:
    # user_data_to_json writes the draft alone: anything else kept in UserData would vanish on a restart.
    assert set(vars(UserData())) == {"draft"}
