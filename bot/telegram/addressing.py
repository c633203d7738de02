"""Which messages in a group are meant for the bot: the rest is people talking among themselves.

Telegram delivers a bot in privacy mode (the default) only part of a group's messages, but a bot an
admin made a group administrator, or whose privacy mode is off, receives every message; so the bot
decides itself. In a private chat everything is for the bot.
"""

from __future__ import annotations

from collections.abc import Collection

from telegram import Message, MessageEntity
from telegram.constants import ChatType


def addressed_to_bot(message: Message, *, bot_id: int, username: str, commands: Collection[str]) -> bool:
    """True for a private message, and in a group for one of: a command to this bot by name
    (`/generate@bot`), one of `commands` without a name (Telegram sends a bare command to the bot it
    was last talking with), a reply to one of the bot's messages, or a mention of the bot."""
    if message.chat.type == ChatType.PRIVATE:
        return True
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return True
    name = username.lower()
    found = message.parse_entities() if message.text else message.parse_caption_entities()
    for entity, text in found.items():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            command, _, target = text[1:].lower().partition("@")
            if target == name or (not target and command in commands):
                return True
        mentioned = (entity.type == MessageEntity.MENTION and text.lower() == f"@{name}") or (
            entity.type == MessageEntity.TEXT_MENTION and entity.user is not None and entity.user.id == bot_id
        )
        if mentioned:
            return True
    return False
