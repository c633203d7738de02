"""The last handlers: what no other handler took gets a short answer fitting what the person did."""

from __future__ import annotations

from telegram import Update

from bot.services import BotContext
from handlers.common import reply, texts_of


async def unknown_text(update: Update, context: BotContext) -> None:
    """Text with no question open: the person asked nothing, so say what the bot can do."""
    await reply(update, (await texts_of(update, context))("unknown.text"))


async def unknown_command(update: Update, context: BotContext) -> None:
    await reply(update, (await texts_of(update, context))("unknown.command"))


async def unknown_media(update: Update, context: BotContext) -> None:
    """A photo, a sticker, a non-audio document...: the bot only works with audio and words."""
    await reply(update, (await texts_of(update, context))("unknown.media"))


async def closed_question_button(update: Update, context: BotContext) -> None:
    """A question's button when that question is no longer open (answered, cancelled or replaced)."""
    query = update.callback_query
    assert query is not None
    await query.answer((await texts_of(update, context))("form.closed"), show_alert=True)


async def unknown_button(update: Update, context: BotContext) -> None:
    """Any other button: one from an older version of the bot, say. Answered so the spinner stops."""
    query = update.callback_query
    assert query is not None
    await query.answer((await texts_of(update, context))("button.unknown"))
