"""Groups, supergroups and channels in the Telegram emulator, and what people do there besides writing.

``GroupActions`` is mixed into ``TelegramEmulator``. The updates it queues are built as the Bot API
describes them (telegram-bot-api.json): a group's ``Chat`` has a negative id, a type and a title; the
bot's joining or leaving is a ``my_chat_member`` update from the person who did it (``ChatMemberMember``
/ ``ChatMemberLeft`` / ``ChatMemberBanned`` with the bot as ``user``); an edit is an ``edited_message``
carrying the whole new message with ``edit_date``; a channel post is a ``channel_post`` whose message
has ``sender_chat`` and no ``from``; a photo is an array of ``PhotoSize``.

Writing in a group and pressing buttons there are ``user_sends_text(..., chat_id=group)`` and
``user_presses_button(..., chat_id=group)`` on the emulator itself.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from emulators.telegram.state import (
    ChatInfo,
    ChatMessage,
    ChatStore,
    ChatType,
    EventKind,
    command_entities,
)

# A JPEG's first bytes are enough: nothing downloads a person's photo in the tests.
_PHOTO_BYTES = b"\xff\xd8\xff\xe0" + b"\x00" * 60


def removed_from(chat: ChatInfo) -> str:
    """The real server's 403 for a chat the bot is no longer in."""
    kind = "channel" if chat.type == "channel" else "group"
    if chat.bot_status == "kicked":
        return f"Forbidden: bot was kicked from the {kind} chat"
    return f"Forbidden: bot is not a member of the {kind} chat"


class GroupActions:
    """See the module docstring. Uses the emulator's chat store, update queue and change events."""

    store: ChatStore
    _enqueue_update: Callable[[str, dict[str, Any]], None]
    _emit: Callable[[EventKind, int, ChatMessage | None, str | None], None]
    _ensure_person: Callable[[int, str | None, str | None], ChatInfo]
    _chat_and_sender: Callable[[int, str | None, str | None, int | None], tuple[ChatInfo, ChatInfo | None]]

    def create_group(
        self, chat_id: int, *, added_by: int, title: str = "Music fans", kind: ChatType = "supergroup"
    ) -> ChatInfo:
        """A group `added_by` created and added the bot to; the bot hears of it (my_chat_member)."""
        if chat_id >= 0 or kind not in ("group", "supergroup"):
            raise ValueError("a group has a negative id and the type group or supergroup")
        if kind == "supergroup" and not str(chat_id).startswith("-100"):
            raise ValueError("supergroup ids start with -100, as Telegram's do")
        if chat_id in self.store.chats:
            raise ValueError(f"chat {chat_id} exists already")
        group = ChatInfo(chat_id, "", None, type=kind, title=title, blocked=True, bot_status="left")
        self.store.chats[chat_id] = group
        self.store.messages[chat_id] = []
        self.add_bot(chat_id, by=added_by)
        return group

    def add_bot(self, chat_id: int, *, by: int) -> None:
        """Someone (re-)adds the bot to a group it is not in."""
        group = self._group(chat_id)
        if not group.blocked:
            raise ValueError(f"the bot is in group {chat_id} already")
        old = group.bot_status
        group.blocked, group.bot_status = False, "member"
        actor = self._ensure_person(by, None, None)
        self._enqueue_update("my_chat_member", self.store.member_change(group, old, "member", actor=actor))

    def remove_bot(self, chat_id: int, *, by: int, ban: bool = False) -> None:
        """Someone removes the bot from a group (`ban`: and bans it, status "kicked")."""
        group = self._group(chat_id)
        if group.blocked:
            raise ValueError(f"the bot is not in group {chat_id}")
        new = "kicked" if ban else "left"
        group.blocked, group.bot_status = True, new
        actor = self._ensure_person(by, None, None)
        self._enqueue_update("my_chat_member", self.store.member_change(group, "member", new, actor=actor))

    async def user_edits_message(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """The person edits a text message of theirs; the bot gets the whole new message as
        `edited_message`, with `edit_date`."""
        where = user_id if chat_id is None else chat_id
        message = self.store.message(where, message_id)
        if message is None or message.from_bot or message.raw.get("from", {}).get("id") != user_id:
            raise ValueError(f"user {user_id} has no message {message_id} in chat {where} to edit")
        if message.kind != "text":
            raise ValueError("the emulator edits text messages only")
        entities = command_entities(text)
        message.edits.append(text)
        message.text, message.entities = text, entities
        message.raw["text"] = text
        if entities:
            message.raw["entities"] = entities
        else:
            message.raw.pop("entities", None)
        message.raw["edit_date"] = int(time.time())
        self._emit("user_message", where, message, text)
        self._enqueue_update("edited_message", dict(message.raw))
        return message.raw

    async def channel_posts(self, channel_id: int, text: str, *, title: str = "News") -> dict[str, Any]:
        """A post in a channel where the bot is an administrator (else it would not hear of it)."""
        channel = self.store.chats.get(channel_id)
        if channel is None:
            if not str(channel_id).startswith("-100"):
                raise ValueError("channel ids start with -100, as Telegram's do")
            channel = ChatInfo(channel_id, "", None, type="channel", title=title)
            self.store.chats[channel_id] = channel
            self.store.messages[channel_id] = []
        elif channel.type != "channel":
            raise ValueError(f"chat {channel_id} is a {channel.type}, not a channel")
        raw: dict[str, Any] = {
            "message_id": channel.next_message_id,
            "sender_chat": channel.api_dict(),
            "chat": channel.api_dict(),
            "date": int(time.time()),
            "text": text,
        }
        entities = command_entities(text)
        if entities:
            raw["entities"] = entities
        message = self.store.add_message(channel, raw, from_bot=False, text=text, entities=entities)
        self._emit("user_message", channel_id, message, text)
        self._enqueue_update("channel_post", raw)
        return raw

    async def user_sends_photo(
        self, user_id: int, *, chat_id: int | None = None, caption: str | None = None
    ) -> dict[str, Any]:
        """A photo, as Telegram sends one: the sizes it made of it, smallest first."""
        chat, sender = self._chat_and_sender(user_id, None, None, chat_id)
        sizes = []
        for side in (90, 320):
            stored = self.store.new_file(
                "photo",
                size=len(_PHOTO_BYTES),
                sha256=hashlib.sha256(_PHOTO_BYTES).hexdigest(),
                file_name=None,
                mime_type="image/jpeg",
            )
            stored.data, stored.width, stored.height = _PHOTO_BYTES, side, side
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": side,
                    "height": side,
                    "file_size": stored.size,
                }
            )
        raw = self.store.user_message_raw(chat, sender)
        raw["photo"] = sizes
        if caption:
            raw["caption"] = caption
        message = self.store.add_message(chat, raw, from_bot=False, text=caption)
        self._emit("user_message", chat.id, message, caption)
        self._enqueue_update("message", raw)
        return raw

    def _group(self, chat_id: int) -> ChatInfo:
        group = self.store.chats.get(chat_id)
        if group is None or group.type not in ("group", "supergroup"):
            raise ValueError(f"no group {chat_id}: create it with create_group() first")
        return group
