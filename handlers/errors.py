"""The last resort: log the error with its traceback, tell the person to try again, never show details."""

from __future__ import annotations

import logging

from telegram import Update

from bot.i18n import Texts
from bot.services import BotContext

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    language = update.effective_user.language_code if update.effective_user else None
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await context.bot.send_message(update.effective_chat.id, Texts(language)("error.internal"))
    except Exception:  # the chat may be unreachable; the error is logged above already
        log.warning("could not tell chat %s about the error", update.effective_chat.id)
