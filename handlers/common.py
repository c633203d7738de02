"""Small things every handler needs: the person, their texts, replying."""

from __future__ import annotations

from telegram import Update

from bot.i18n import Texts
from bot.services import BotContext, services_of
from storage.models import Person


async def person_of(update: Update, context: BotContext) -> Person:
    """The person behind an update, as the access gate (group -1) stored them before any handler ran."""
    user = update.effective_user
    assert user is not None
    person = await services_of(context).storage.people.get(user.id)
    if person is None:
        raise LookupError(f"user {user.id} passed no gate")
    return person


async def texts_of(update: Update, context: BotContext) -> Texts:
    return Texts((await person_of(update, context)).locale)


async def reply(update: Update, text: str, **kwargs: object) -> None:
    message = update.effective_message
    if message is not None:
        await message.reply_text(text, **kwargs)  # type: ignore[arg-type]
