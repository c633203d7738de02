"""/library [words]: the person's songs, a page at a time; a button re-sends one or removes it."""

from __future__ import annotations

import time

from telegram import Update

from bot.chat.library import PAGE_SIZE, render_page, resend
from bot.i18n import Texts
from bot.services import BotContext, services_of
from handlers.common import person_of, reply


async def library(update: Update, context: BotContext) -> None:
    person = await person_of(update, context)
    query = " ".join(context.args or [])
    page = await services_of(context).storage.library.page(person.user_id, query=query, limit=PAGE_SIZE)
    text, keyboard = render_page(Texts(person.locale), page, query=query, now=time.time())
    await reply(update, text, reply_markup=keyboard)


async def library_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    person = await person_of(update, context)
    texts = Texts(person.locale)
    storage = services_of(context).storage
    _, action, rest = query.data.split(":", 2)
    if action == "play":
        entry = await storage.library.entry(person.user_id, int(rest))
        if entry is None:
            await query.answer(texts("library.gone"))
            return
        await query.answer()
        chat = update.effective_chat
        assert chat is not None
        await resend(context.bot, chat.id, entry, texts)
        return
    if action == "del":
        track_id, offset_text, words = rest.split(":", 2)
        offset = int(offset_text)
        removed = await storage.library.hide(person.user_id, int(track_id), now=time.time())
        await query.answer(texts("library.removed" if removed else "library.gone"))
    else:  # "p": another page
        offset_text, words = rest.split(":", 1)
        offset = int(offset_text)
        await query.answer()
    page = await storage.library.page(person.user_id, query=words, offset=offset, limit=PAGE_SIZE)
    if not page.entries and offset > 0:  # the last song of the last page went: show the one before
        offset = max(0, offset - PAGE_SIZE)
        page = await storage.library.page(person.user_id, query=words, offset=offset, limit=PAGE_SIZE)
    text, keyboard = render_page(texts, page, query=words, now=time.time())
    await query.edit_message_text(text, reply_markup=keyboard)
