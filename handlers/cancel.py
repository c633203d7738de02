"""/cancel: leave whatever question the bot asked."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler

from bot.services import BotContext
from handlers.common import reply, texts_of


async def cancel(update: Update, context: BotContext) -> int:
    await reply(update, (await texts_of(update, context))("cancelled"))
    return ConversationHandler.END


async def nothing_to_cancel(update: Update, context: BotContext) -> None:
    await reply(update, (await texts_of(update, context))("nothing_to_cancel"))
