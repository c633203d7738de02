"""/broadcast <text> (admins): shows the text and asks for a confirmation with a button; the sending is
bot/ops/broadcast.py's."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.ops.broadcast import MAX_BROADCAST_LENGTH
from bot.services import BotContext, services_of
from handlers.common import reply, texts_of

CALLBACK_PATTERN = r"^bc:(send|cancel):\d+$"


async def broadcast(update: Update, context: BotContext) -> None:
    texts = await texts_of(update, context)
    message = update.effective_message
    assert message is not None and update.effective_user is not None
    # The text as written, line breaks included (context.args would lose them).
    parts = (message.text or "").split(maxsplit=1)
    text = parts[1].strip() if len(parts) == 2 else ""
    if not text:
        await reply(update, texts("broadcast.usage"))
        return
    if len(text) > MAX_BROADCAST_LENGTH:
        await reply(update, texts("broadcast.too_long", length=len(text), limit=MAX_BROADCAST_LENGTH))
        return
    draft = await services_of(context).broadcasts.draft(
        admin_id=update.effective_user.id, chat_id=message.chat_id, text=text
    )
    if draft.audience == 0:
        await services_of(context).broadcasts.cancel(draft.id)
        await reply(update, texts("broadcast.nobody"))
        return
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts("broadcast.send", count=draft.audience), callback_data=f"bc:send:{draft.id}"
                ),
                InlineKeyboardButton(texts("broadcast.cancel"), callback_data=f"bc:cancel:{draft.id}"),
            ]
        ]
    )
    await reply(update, texts("broadcast.confirm", count=draft.audience, text=text), reply_markup=buttons)


async def broadcast_answer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None and update.effective_user is not None
    services = services_of(context)
    texts = await texts_of(update, context)
    if not services.tasks.is_admin(update.effective_user.id):
        await query.answer(texts("admin.only"), show_alert=True)
        return
    _, action, number = query.data.split(":")
    broadcast_id = int(number)
    if action == "cancel":
        if not await services.broadcasts.cancel(broadcast_id):
            await query.answer(texts("broadcast.stale"))  # the message keeps saying what did happen
            return
        await query.answer()
        await query.edit_message_text(texts("broadcast.cancelled"))
        return
    started = await services.broadcasts.start(broadcast_id)
    if started is None:  # pressed twice, or cancelled meanwhile
        await query.answer(texts("broadcast.stale"))
        return
    await query.answer()
    await query.edit_message_text(texts("broadcast.sending", id=broadcast_id, count=started.recipients))
