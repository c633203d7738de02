"""PTB persistence in the bot's own database, so an open question survives a restart.

Only what the question flows need is kept: the ConversationHandler states and each person's user_data (the
Draft of the question they are answering). bot_data holds the live services and chat_data is unused, so
neither is stored; callback data is not arbitrary (buttons carry their own short strings).

Everything is stored as JSON written explicitly (bot/chat/draft_json.py), never pickled: a row that a
later version cannot read is dropped with a WARNING and that person is simply asked to start again, which
is what happened to everybody on every restart before.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from telegram.ext import BasePersistence, PersistenceInput

from bot.chat.draft_json import StoredDraftInvalid, draft_from_json, draft_to_json
from bot.services import BotData, UserData
from storage.conversations import ConversationRepository, ConversationWrite, UserDataWrite, Write

log = logging.getLogger(__name__)

ConversationKey = tuple[int | str, ...]  # as PTB's own (private) alias in telegram.ext._utils.types

# PTB hands changes to the persistence every `update_interval` seconds (and once more at a clean stop),
# so a crash loses at most the last second of answers. A shorter interval buys little (a person types
# slower than that) and a longer one loses more. Idle rounds cost nothing worth counting: PTB's updater
# task does wake on its timer, but finds no person marked (it marks only those whose update a handler
# took) and no conversation state changed, gathers an empty set and calls nothing here, so the database
# is not touched while nobody is answering. update_user_data() below also skips people who had nothing
# stored and still have nothing, since PTB marks everyone who sent anything, /status included.
UPDATE_INTERVAL = 1.0


class StoragePersistence(BasePersistence[UserData, dict[Any, Any], BotData]):
    def __init__(
        self,
        conversations: ConversationRepository,
        *,
        update_interval: float = UPDATE_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            store_data=PersistenceInput(bot_data=False, chat_data=False, user_data=True, callback_data=False),
            update_interval=update_interval,
        )
        self._repository = conversations
        self._clock = clock
        # What has a row, so that "still nothing to keep" costs no DELETE. The housekeeping sweep may
        # remove rows behind our back: then these hold a few stale entries, whose DELETE is a no-op.
        self._stored_users: set[int] = set()
        self._stored_conversations: set[tuple[str, str]] = set()
        self._pending: list[tuple[Write, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    # ---- loading, once at start ---------------------------------------------------------------------

    async def get_user_data(self) -> dict[int, UserData]:
        restored: dict[int, UserData] = {}
        for row in await self._repository.user_data():
            try:
                restored[row.user_id] = user_data_from_json(row.data)
            except (ValueError, TypeError) as error:  # json's and draft_json's errors are ValueErrors
                # The reason only: the stored text is the person's own (titles, lyrics).
                log.warning("dropping the stored question of user %s, unreadable: %s", row.user_id, error)
                await self._write(UserDataWrite(row.user_id, None))
        self._stored_users = set(restored)
        if restored:
            log.info("restored the open questions of %d people", len(restored))
        return restored

    async def get_conversations(self, name: str) -> dict[ConversationKey, object]:
        restored: dict[ConversationKey, object] = {}
        for row in await self._repository.conversations(name):
            try:
                restored[_key_from_json(row.conversation)] = _state_from_json(row.state)
            except (ValueError, TypeError) as error:
                log.warning("dropping stored state of conversation %s %s (%s)", name, row.conversation, error)
                await self._write(ConversationWrite(name, row.conversation, None))
            else:
                self._stored_conversations.add((name, row.conversation))
        return restored

    async def get_bot_data(self) -> BotData:
        return BotData()  # not stored (see store_data): PTB never asks

    async def get_chat_data(self) -> dict[int, dict[Any, Any]]:
        return {}

    async def get_callback_data(self) -> None:
        return None

    # ---- one person, before each of their updates (replicas: bot/telegram/shared_state.py) ----------

    async def load_person(
        self, user_id: int, conversations: dict[str, ConversationKey]
    ) -> tuple[UserData, dict[str, object | None]]:
        """What the database holds for one person: their user_data and, per handler name, the state of
        their conversation (None: no question open). Another replica may have written it since this
        one last saw them, so what this process remembers having stored is set from it too."""
        keys = {name: json.dumps(list(key), separators=(",", ":")) for name, key in conversations.items()}
        data_text, rows = await self._repository.person(user_id, list(keys.items()))
        data = UserData()
        if data_text is not None:
            self._stored_users.add(user_id)
            try:
                data = user_data_from_json(data_text)
            except (ValueError, TypeError) as error:
                log.warning("ignoring the stored question of user %s, unreadable: %s", user_id, error)
        else:
            self._stored_users.discard(user_id)
        states: dict[str, object | None] = {}
        for name, conversation in keys.items():
            text = rows.get((name, conversation))
            states[name] = None
            if text is None:
                self._stored_conversations.discard((name, conversation))
                continue
            self._stored_conversations.add((name, conversation))
            try:
                states[name] = _state_from_json(text)
            except ValueError as error:
                log.warning("ignoring stored state of conversation %s %s (%s)", name, conversation, error)
        return data, states

    # ---- changes, every update_interval ----------------------------------------------------------

    async def update_user_data(self, user_id: int, data: UserData) -> None:
        text = user_data_to_json(data)
        if text is None and user_id not in self._stored_users:
            return
        await self._write(UserDataWrite(user_id, text))
        if text is None:
            self._stored_users.discard(user_id)
        else:
            self._stored_users.add(user_id)

    async def drop_user_data(self, user_id: int) -> None:
        await self._write(UserDataWrite(user_id, None))
        self._stored_users.discard(user_id)

    async def update_conversation(self, name: str, key: ConversationKey, new_state: object | None) -> None:
        conversation = json.dumps(list(key), separators=(",", ":"))
        stored = (name, conversation)
        if new_state is None and stored not in self._stored_conversations:
            return
        state = None if new_state is None else json.dumps(new_state, allow_nan=False)
        await self._write(ConversationWrite(name, conversation, state))
        if state is None:
            self._stored_conversations.discard(stored)
        else:
            self._stored_conversations.add(stored)

    async def update_bot_data(self, data: BotData) -> None:
        pass

    async def refresh_bot_data(self, bot_data: BotData) -> None:
        pass

    async def update_chat_data(self, chat_id: int, data: dict[Any, Any]) -> None:
        pass

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[Any, Any]) -> None:
        pass

    async def drop_chat_data(self, chat_id: int) -> None:
        pass

    async def refresh_user_data(self, user_id: int, user_data: UserData) -> None:
        # Replicas read the person's row in bot/telegram/shared_state.py instead, in one read with their
        # conversation states (which PTB never refreshes); one process alone already holds the newest.
        pass

    async def update_callback_data(self, data: Any) -> None:
        pass

    async def flush(self) -> None:
        # Every update_* call returns only once its write is committed; this waits for a round still
        # in flight (PTB calls it at shutdown, after the last update_persistence).
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)

    # ---- group commit ----------------------------------------------------------------------------

    async def _write(self, write: Write) -> None:
        """Commit `write`, in one transaction with every other write of the same round.

        PTB starts a round's update_* calls together (asyncio.gather); the first starts the writer task,
        which runs after all of them have queued their write, so N people answering cost one commit.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((write, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending(), name="persistence-writer")
        await future

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                await self._repository.write([write for write, _ in batch], now=self._clock())
            except Exception as error:  # each caller raises it; PTB hands it to the error handler
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)


def user_data_to_json(data: UserData) -> str | None:
    """The JSON kept for a person, or None when there is nothing to keep (no open question)."""
    if data.draft is None:
        return None
    return json.dumps(
        {"draft": draft_to_json(data.draft)}, ensure_ascii=False, allow_nan=False, separators=(",", ":")
    )


def copy_user_data(source: UserData, into: UserData) -> None:
    """Make `into` (the object PTB hands the handlers) hold what `source` holds; a field of UserData
    needs a line here as in user_data_to_json."""
    into.draft = source.draft


def user_data_from_json(text: str) -> UserData:
    """The UserData `text` describes; ValueError if this version cannot use it."""
    value = json.loads(text)
    if not isinstance(value, dict) or set(value) != {"draft"}:
        raise StoredDraftInvalid("not a stored user_data object")
    data = UserData()
    data.draft = draft_from_json(value["draft"])
    return data


def _key_from_json(text: str) -> ConversationKey:
    value = json.loads(text)
    if not isinstance(value, list) or not all(_is_scalar(part) for part in value):
        raise ValueError("not a list of ids")
    return tuple(value)


def _state_from_json(text: str) -> object:
    value = json.loads(text)
    if not _is_scalar(value):
        raise ValueError("not a state")
    return value


def _is_scalar(value: object) -> bool:
    return isinstance(value, int | str) and not isinstance(value, bool)
