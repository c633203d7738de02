"""/cancel with no question open (inside a question flow, handlers/forms.py answers it)."""

from __future__ import annotations

from telegram import Update

from bot.services import BotContext
from handlers.common import reply, texts_of


async def nothing_to_cancel(update: Update, context: BotContext) -> None:
    await reply(update, (await texts_of(update, context))("nothing_to_cancel"))
