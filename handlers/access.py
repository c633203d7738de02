"""The gate in front of every handler: remember the person, refuse those who may not use the bot."""

from __future__ import annotations

import time

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.ext import ApplicationHandlerStop

from bot.access import may_use
from bot.i18n import Texts
from bot.services import BotContext, services_of


async def gate(update: Update, context: BotContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None or user.is_bot:
        raise ApplicationHandlerStop
    services = services_of(context)
    if update.my_chat_member is not None:
        await _membership_changed(update, context)
        raise ApplicationHandlerStop
    before = await services.storage.people.get(user.id)
    person = await services.storage.people.seen(
        user.id,
        chat.id,
        first_name=user.first_name,
        username=user.username,
        language=user.language_code,
        now=time.time(),
    )
    if may_use(person, services.settings):
        if before is not None and before.bot_blocked:
            await services.tasks.welcome_back(user.id)
        return
    services.metrics.tasks_refused.labels(reason="access").inc()
    texts = Texts(person.locale)
    if update.callback_query is not None:
        await update.callback_query.answer(texts("access.denied", user_id=user.id), show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(texts("access.denied", user_id=user.id))
    raise ApplicationHandlerStop


async def _membership_changed(update: Update, context: BotContext) -> None:
    """Telegram tells us when a person blocks (status "kicked") or unblocks the bot in a private chat."""
    change = update.my_chat_member
    assert change is not None
    services = services_of(context)
    if change.new_chat_member.status == ChatMemberStatus.BANNED:
        await services.storage.people.mark_bot_blocked(change.chat.id)
    elif change.old_chat_member.status == ChatMemberStatus.BANNED:
        await services.storage.people.mark_bot_unblocked(change.chat.id)
        await services.tasks.welcome_back(change.from_user.id)
