"""Inline queries (`@<bot> words`): answered with the asking person's own songs, a page at a time."""

from __future__ import annotations

from telegram import Update

from bot.chat.inline import CACHE_SECONDS, PAGE_SIZE, parse_offset, results
from bot.i18n import Texts
from bot.services import BotContext, services_of
from handlers.common import person_of


async def inline_query(update: Update, context: BotContext) -> None:
    query = update.inline_query
    assert query is not None
    person = await person_of(update, context)
    page = await services_of(context).storage.library.page(
        person.user_id, query=query.query, offset=parse_offset(query.offset), limit=PAGE_SIZE
    )
    found, next_offset = results(Texts(person.locale), page, bot_username=context.bot.username)
    await query.answer(found, cache_time=CACHE_SECONDS, is_personal=True, next_offset=next_offset)
