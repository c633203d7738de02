"""The gate in front of every handler: refuse those who may not use the bot, remember the others."""

from __future__ import annotations

import time

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot.access import may_use
from bot.i18n import Texts
from bot.services import BotContext, services_of
from storage.models import Person


async def gate(update: Update, context: BotContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    # An inline query comes from a person in no chat of ours (handlers/inline.py).
    if user is None or user.is_bot or (chat is None and update.inline_query is None):
        raise ApplicationHandlerStop
    services = services_of(context)
    now = time.time()
    before = await services.storage.people.get(user.id)
    # Decided before anything is stored: of a person refused, only the metric's count is kept.
    if not may_use(before or Person(user_id=user.id, created_at=now, last_seen_at=now), services.settings):
        services.metrics.tasks_refused.labels(reason="access").inc()
        texts = Texts((before.locale if before else None) or user.language_code)
        if update.callback_query is not None:
            await update.callback_query.answer(texts("access.denied", user_id=user.id), show_alert=True)
        elif update.inline_query is not None:
            await update.inline_query.answer([], cache_time=60, is_personal=True)
        elif update.effective_message is not None:
            await update.effective_message.reply_text(texts("access.denied", user_id=user.id))
        raise ApplicationHandlerStop
    private = chat is not None and chat.type == ChatType.PRIVATE
    await services.storage.people.seen(
        user.id,
        chat.id if private and chat is not None else None,
        first_name=user.first_name,
        username=user.username,
        language=user.language_code,
        now=now,
    )
    if private and before is not None and before.bot_blocked:
        await services.tasks.welcome_back(user.id)
