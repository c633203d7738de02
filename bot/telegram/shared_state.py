"""Open questions shared by replicas: each update starts from the database and ends written to it.

PTB keeps conversation states and user_data in memory, loads them from the persistence once at start and
writes changes every second. With several replicas behind a balancer a person's next answer may reach
another replica, which must see the question as the last one left it. So, around each update of a person
(PerPersonUpdateProcessor runs a person's updates one at a time), `before` reads their user_data and their
conversation states from the database into PTB's memory, and `after` hands PTB's changes to the
persistence at once (Application.update_persistence, which writes only what the update touched).

One process on SQLite uses none of this: it is the only writer, so its memory is always the newest.
"""

from __future__ import annotations

import logging
from collections import UserDict
from collections.abc import MutableMapping
from typing import Any

from telegram import Update
from telegram.ext import Application, ConversationHandler

from bot.telegram.persistence import ConversationKey, StoragePersistence, copy_user_data

log = logging.getLogger(__name__)


def conversation_states(handler: ConversationHandler) -> MutableMapping[ConversationKey, object]:  # type: ignore[type-arg]
    """The dict in which PTB keeps `handler`'s conversation states, keyed as the persistence keys them.

    PTB offers no public way to set one conversation's state, so this reaches into a private attribute:
    `_conversations`, a TrackingDict since PTB 20 once persistence is initialised. Its `.data` is the
    plain dict underneath, written without marking the key for the next persistence round (what came
    from the database need not be written back). tests/unit/test_shared_state.py fails loudly if a PTB
    release changes either.
    """
    states = handler._conversations  # private: see the docstring
    if isinstance(states, UserDict):  # a TrackingDict, once the Application initialised the persistence
        states = states.data
    if type(states) is not dict:
        raise TypeError(f"PTB's ConversationHandler._conversations changed shape: {type(states).__name__}")
    return states


def conversation_key(handler: ConversationHandler, update: Update) -> ConversationKey | None:  # type: ignore[type-arg]
    """The key PTB gives this update's conversation in `handler` (per chat and per user, as ours are)."""
    chat, user = update.effective_chat, update.effective_user
    if handler.per_message or not handler.per_chat or not handler.per_user:
        raise ValueError(f"conversation {handler.name!r} is not keyed per chat and user")
    if chat is None or user is None:
        return None
    return (chat.id, user.id)


class SharedConversations:
    """The hooks PerPersonUpdateProcessor calls around each update when replicas share the database."""

    def __init__(
        self, application: Application[Any, Any, Any, Any, Any, Any], persistence: StoragePersistence
    ) -> None:
        self._application = application
        self._persistence = persistence
        self._handlers: list[ConversationHandler] | None = None  # type: ignore[type-arg]

    def _persistent_handlers(self) -> list[ConversationHandler]:  # type: ignore[type-arg]
        if self._handlers is None:  # handlers are all registered before the first update
            self._handlers = [
                handler
                for group in self._application.handlers.values()
                for handler in group
                if isinstance(handler, ConversationHandler) and handler.persistent and handler.name
            ]
        return self._handlers

    async def before(self, update: object) -> None:
        if not isinstance(update, Update) or update.effective_user is None:
            return
        user_id = update.effective_user.id
        keys = {}
        for handler in self._persistent_handlers():
            key = conversation_key(handler, update)
            if key is not None:
                keys[str(handler.name)] = (handler, key)
        try:
            data, states = await self._persistence.load_person(
                user_id, {name: key for name, (_, key) in keys.items()}
            )
        except Exception as error:  # the database away for a moment: carry on with what this replica holds
            log.warning(
                "could not read user %s's open question: %s: %s", user_id, type(error).__name__, error
            )
            return
        copy_user_data(data, self._application.user_data[user_id])
        for name, (handler, key) in keys.items():
            plain = conversation_states(handler)
            state = states.get(name)
            if state is None:
                plain.pop(key, None)
            else:
                plain[key] = state

    async def after(self, update: object) -> None:
        # PTB marks the person for the next round only once the update's handlers have returned: by now.
        await self._application.update_persistence()
