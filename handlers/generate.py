"""/generate: a simple-mode song from a description, asked for when the command comes alone."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler, ConversationHandler, MessageHandler, filters

from bot.explain import explain_problems
from bot.i18n import Texts
from bot.provider.models import GenerateRequest, InvalidRequest, build_request
from bot.services import BotContext, services_of
from bot.task_service import TaskRefused
from handlers.cancel import cancel
from handlers.common import person_of, reply
from storage.models import TaskKind

ASK_DESCRIPTION = 0


async def generate(update: Update, context: BotContext) -> int:
    description = " ".join(context.args or []).strip()
    if not description:
        texts = Texts((await person_of(update, context)).locale)
        await reply(update, texts("generate.ask"))
        return ASK_DESCRIPTION
    return await _start(update, context, description)


async def description(update: Update, context: BotContext) -> int:
    message = update.effective_message
    assert message is not None
    return await _start(update, context, (message.text or "").strip())


async def not_text(update: Update, context: BotContext) -> int:
    texts = Texts((await person_of(update, context)).locale)
    await reply(update, texts("generate.need_text"))
    return ASK_DESCRIPTION


async def _start(update: Update, context: BotContext, text: str) -> int:
    services = services_of(context)
    person = await person_of(update, context)
    texts = Texts(person.locale)
    try:
        request = build_request(
            GenerateRequest,
            custom_mode=False,
            instrumental=False,
            model=services.settings.suno_model,
            prompt=text,
        )
    except InvalidRequest as invalid:
        await reply(update, explain_problems(texts, invalid.problems))
        return ASK_DESCRIPTION  # let them send a better description straight away
    try:
        await services.tasks.create(person, TaskKind.GENERATE, request)
    except TaskRefused as refused:
        await reply(update, texts(refused.key, **refused.values))
    return ConversationHandler.END


def generate_conversation() -> ConversationHandler:  # type: ignore[type-arg]
    return ConversationHandler(
        entry_points=[CommandHandler("generate", generate)],
        states={
            ASK_DESCRIPTION: [
                MessageHandler(filters.TEXT & ~filters.COMMAND, description),
                MessageHandler(~filters.COMMAND, not_text),
            ]
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="generate",
        allow_reentry=True,
    )
