"""/forget: after a confirmation button, delete what the bot keeps about the person."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from bot.services import BotContext, services_of
from handlers.common import person_of, reply, texts_of

log = logging.getLogger(__name__)

CONFIRM = "forget:yes"
KEEP = "forget:no"


async def forget(update: Update, context: BotContext) -> None:
    texts = await texts_of(update, context)
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        # In a group anyone could press the button, and the answer would be public.
        await reply(update, texts("privacy.private_only"))
        return
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts("privacy.yes"), callback_data=CONFIRM),
                InlineKeyboardButton(texts("privacy.no"), callback_data=KEEP),
            ]
        ]
    )
    text = texts("privacy.confirm")
    if services_of(context).settings.payments_on:  # the ledger is not deleted: say so before they agree
        text = f"{text}\n\n{texts('privacy.ledger_kept')}"
    await reply(update, text, reply_markup=buttons)


async def forget_chosen(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    person = await person_of(update, context)
    texts = await texts_of(update, context)
    await query.answer()
    if query.data != CONFIRM:
        await query.edit_message_text(texts("privacy.kept"))
        return
    services = services_of(context)
    forgotten = await services.storage.privacy.forget(person.user_id)
    if forgotten.running:
        await query.edit_message_text(texts("privacy.busy"))
        return
    for path in forgotten.upload_paths:
        await asyncio.to_thread(Path(path).unlink, missing_ok=True)
    context.user_data.draft = None  # the open question's copy in memory, which persistence would write back
    log.info(
        "user %s forgotten: %d tasks scrubbed, %d uploads deleted",
        person.user_id,
        forgotten.tasks,
        forgotten.uploads,
    )
    await query.edit_message_text(texts("privacy.done", tasks=forgotten.tasks, uploads=forgotten.uploads))
