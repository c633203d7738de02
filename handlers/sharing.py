"""The Share button under a track, revoking its link, and opening a link (/start s_<token>)."""

from __future__ import annotations

import time

from telegram import Update

from bot.chat.sharing import send_shared, share_keyboard, share_link
from bot.i18n import Texts
from bot.services import BotContext, services_of
from handlers.common import person_of, reply


async def share_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    person = await person_of(update, context)
    texts = Texts(person.locale)
    services = services_of(context)
    rest = query.data.removeprefix("share:")
    if rest.startswith("revoke:"):
        revoked = await services.storage.shares.revoke(
            person.user_id, int(rest.removeprefix("revoke:")), now=time.time()
        )
        await query.answer(texts("share.revoked" if revoked else "share.already_revoked"))
        if revoked:
            await query.edit_message_text(texts("share.revoked_text"))
        return
    share = await services.storage.shares.link_for(person.user_id, int(rest), now=time.time())
    if share is None:
        await query.answer(texts("library.gone"))
        return
    await query.answer()
    username = context.bot.username
    link = share_link(services.signer, username, share.id)
    await reply(update, texts("share.link", link=link), reply_markup=share_keyboard(texts, share.id))


async def open_share(update: Update, context: BotContext, token: str) -> None:
    """/start s_<token>: whoever opens a live link gets the track and an invitation."""
    person = await person_of(update, context)
    texts = Texts(person.locale)
    services = services_of(context)
    share_id = services.signer.verify_share(token)
    opened = await services.storage.shares.open(share_id) if share_id is not None else None
    chat = update.effective_chat
    if opened is None or chat is None:
        await reply(update, texts("share.dead"))
        return
    _, entry = opened
    await send_shared(context.bot, chat.id, entry, texts)
