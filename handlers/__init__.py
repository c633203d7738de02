"""python-telegram-bot handlers: they parse what the person did, call a service and reply."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, TypeHandler

from handlers.access import gate
from handlers.buttons import extend_track
from handlers.cancel import nothing_to_cancel
from handlers.errors import on_error
from handlers.generate import generate_conversation
from handlers.start import help_command, language, language_chosen, start, status


def register_handlers(application: Application) -> None:  # type: ignore[type-arg]
    # Order matters. Group -1 runs first for every update: it records the person and stops anyone the
    # operator has not let in, so no handler below needs its own access check.
    application.add_handler(TypeHandler(Update, gate), group=-1)
    # Conversations come before plain commands so their /cancel wins while a question is open.
    application.add_handler(generate_conversation())
    application.add_handler(CommandHandler("start", start))
    application.add_handler(CommandHandler("help", help_command))
    application.add_handler(CommandHandler("status", status))
    application.add_handler(CommandHandler("language", language))
    application.add_handler(CommandHandler("cancel", nothing_to_cancel))
    application.add_handler(CallbackQueryHandler(language_chosen, pattern=r"^lang:"))
    application.add_handler(CallbackQueryHandler(extend_track, pattern=r"^extend:\d+$"))
    application.add_error_handler(on_error)
