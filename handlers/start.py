"""/start, /help, /status and /language."""

from __future__ import annotations

import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.chat.progress import format_elapsed, task_summary
from bot.chat.sharing import START_PREFIX
from bot.i18n import LANGUAGES, Texts
from bot.payments.referrals import PREFIX as REFERRAL_PREFIX
from bot.services import BotContext, services_of
from handlers.common import person_of, reply, texts_of
from handlers.payments import note_referral
from handlers.sharing import open_share


async def start(update: Update, context: BotContext) -> None:
    payload = context.args[0] if context.args else ""
    if payload.startswith(START_PREFIX):  # a share link: t.me/<bot>?start=s_<token>
        await open_share(update, context, payload.removeprefix(START_PREFIX))
        return
    person = await person_of(update, context)
    await reply(update, Texts(person.locale)("start", name=person.first_name or "there"))
    if context.args and context.args[0].startswith(REFERRAL_PREFIX):
        await note_referral(update, context, context.args[0])


async def help_command(update: Update, context: BotContext) -> None:
    await reply(update, (await texts_of(update, context))("help"))


async def status(update: Update, context: BotContext) -> None:
    person = await person_of(update, context)
    texts = Texts(person.locale)
    storage = services_of(context).storage
    tasks = await storage.tasks.recent_for_user(person.user_id, limit=10)
    if not tasks:
        await reply(update, texts("status.none"))
        return
    now = time.time()
    titles = await storage.library.titles([task.id for task in tasks])
    lines = [texts("status.header")]
    for task in tasks:
        # The songs' titles tell entries apart; before there are any, the person's own words do.
        name = " / ".join(dict.fromkeys(titles.get(task.id, []))) or task_summary(task)[:40]
        lines.append(
            texts(
                "status.line_named" if name else "status.line",
                id=task.id,
                name=name,
                kind=texts(f"kind.{task.kind.value}"),
                stage=texts(f"status.stage.{task.stage.value}"),
                ago=format_elapsed(now - task.created_at),
            )
        )
    await reply(update, "\n".join(lines))


async def language(update: Update, context: BotContext) -> None:
    texts = await texts_of(update, context)
    buttons = [[InlineKeyboardButton(name, callback_data=f"lang:{code}")] for code, name in LANGUAGES.items()]
    await reply(update, texts("language.choose"), reply_markup=InlineKeyboardMarkup(buttons))


async def language_chosen(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    code = query.data.removeprefix("lang:")
    if code not in LANGUAGES:
        await query.answer()
        return
    person = await person_of(update, context)
    await services_of(context).storage.people.set_language(person.user_id, code)
    await query.answer()
    await query.edit_message_text(Texts(code)("language.set"))
