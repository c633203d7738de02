"""The first look at every update: what is not a person addressing the bot stops here, unanswered.

Runs before the access gate (handlers/access.py), so nothing is stored about what stops here: people
chatting in a group, edits, channel posts. Membership changes (my_chat_member) are noted here too.
"""

from __future__ import annotations

import time

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.ext import ApplicationHandlerStop

from bot.i18n import Texts
from bot.services import BotContext, services_of
from bot.telegram.addressing import addressed_to_bot
from handlers.commands import COMMANDS
from storage.work import Kind

_COMMAND_NAMES = frozenset(c.name for c in COMMANDS)
_GONE = (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)


async def screen(update: Update, context: BotContext) -> None:
    if update.my_chat_member is not None:
        await _membership_changed(update, context)
        raise ApplicationHandlerStop
    query = update.callback_query
    if query is not None:
        if query.message is None:
            # A button on a message sent in inline mode: ours carry only URL buttons (handlers/inline.py),
            # so this one is not ours, but Telegram shows a spinner until it is answered.
            language = query.from_user.language_code if query.from_user else None
            await query.answer(Texts(language)("button.unknown"))
            raise ApplicationHandlerStop
        return
    if update.inline_query is not None:
        return  # `@bot words` typed in any chat: handlers/inline.py answers with the person's own songs
    message = update.message
    # Edited messages never start or answer anything: an edited /generate is not a second song to pay
    # for, and answering edits of answers would only confuse. Channel posts have no person behind them.
    if message is None or message.chat.type == ChatType.CHANNEL:
        raise ApplicationHandlerStop
    if message.via_bot is not None:
        raise ApplicationHandlerStop  # a person posted an inline result: nothing was asked of us
    if not addressed_to_bot(
        message, bot_id=context.bot.id, username=context.bot.username, commands=_COMMAND_NAMES
    ):
        raise ApplicationHandlerStop


async def _membership_changed(update: Update, context: BotContext) -> None:
    """A person blocks or unblocks the bot (status "kicked" in a private chat), or a group removes or
    adds it ("left"/"kicked", then "member"/"administrator")."""
    change = update.my_chat_member
    assert change is not None
    services = services_of(context)
    storage = services.storage
    chat = change.chat
    gone = change.new_chat_member.status in _GONE
    back = change.old_chat_member.status in _GONE and not gone
    if chat.type == ChatType.PRIVATE:
        if change.new_chat_member.status == ChatMemberStatus.BANNED:
            await storage.people.mark_bot_blocked(chat.id)
        elif back:
            await storage.people.mark_bot_unblocked(chat.id)
            await services.tasks.welcome_back(change.from_user.id)
        return
    now = time.time()
    await storage.chats.set_removed(chat.id, chat.type, removed=gone, now=now)
    if back and await storage.work.reopen_failed(Kind.DELIVER, chat_id=chat.id, now=now):
        services.tasks.queue.wake()  # songs asked in the group before it removed the bot go there now
