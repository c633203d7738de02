"""python-telegram-bot handlers: they parse what the person did, call a service and reply."""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from handlers.access import gate
from handlers.admin import admin_handlers
from handlers.audio import AUDIO_MESSAGES, receive_audio
from handlers.cancel import nothing_to_cancel
from handlers.errors import on_error
from handlers.forms import forms_conversation
from handlers.inline import inline_query
from handlers.library import library, library_button
from handlers.payments import payment_commands, payment_updates
from handlers.privacy import forget, forget_chosen
from handlers.screen import screen
from handlers.sharing import share_button
from handlers.start import help_command, language, language_chosen, start, status
from handlers.studio import lyrics_command, more_button, sound, tool_button, use_cover_button
from handlers.unknown import (
    closed_question_button,
    unknown_button,
    unknown_command,
    unknown_media,
    unknown_text,
)


def register_handlers(application: Application, *, admin_ids: list[int]) -> None:  # type: ignore[type-arg]
    # Order matters. Group -2 runs first for every update: it stops what nobody addressed to the bot
    # (group chatter, edits, channel posts) before anything is stored. Group -1 then records the person
    # and stops anyone the operator has not let in, so no handler below needs its own access check.
    # Group -3: payments are answered (Telegram waits 10 s) and credited before anything can stop them.
    for handler in payment_updates():
        application.add_handler(handler, group=-3)
    application.add_handler(TypeHandler(Update, screen), group=-2)
    application.add_handler(TypeHandler(Update, gate), group=-1)
    # The question flows come first so that, while a question is open, its answers and /cancel go there.
    application.add_handler(forms_conversation())
    # The everyday commands outside the question flows (/generate and /custom open one; /cancel outside a
    # question has nothing to cancel). handlers/commands.py lists them all.
    for name, callback in (
        ("start", start),
        ("help", help_command),
        ("status", status),
        ("language", language),
        ("cancel", nothing_to_cancel),
        ("forget", forget),
        ("library", library),
        ("sound", sound),
        ("lyrics", lyrics_command),
    ):
        application.add_handler(CommandHandler(name, callback))
    for handler in payment_commands():
        application.add_handler(handler)
    application.add_handler(CallbackQueryHandler(language_chosen, pattern=r"^lang:"))
    application.add_handler(CallbackQueryHandler(forget_chosen, pattern=r"^forget:(yes|no)$"))
    application.add_handler(InlineQueryHandler(inline_query))
    application.add_handler(CallbackQueryHandler(share_button, pattern=r"^share:(\d+|revoke:\d+)$"))
    application.add_handler(
        CallbackQueryHandler(library_button, pattern=r"^lib:(play:\d+|p:\d+:|del:\d+:\d+:)")
    )
    # The studio: More… and Back under a track, and its tools (handlers/studio.py).
    application.add_handler(CallbackQueryHandler(more_button, pattern=r"^(more|back):"))
    application.add_handler(CallbackQueryHandler(tool_button, pattern=r"^st:"))
    application.add_handler(CallbackQueryHandler(use_cover_button, pattern=r"^usecov:\d+:\d+$"))
    for handler in admin_handlers(admin_ids):
        application.add_handler(handler)
    # Not blocking: while a file is fetched and checked, the person's other updates go on (and a second
    # file meanwhile is told "one at a time" instead of waiting in their line).
    application.add_handler(MessageHandler(AUDIO_MESSAGES, receive_audio, block=False))
    # Last: what nothing above took gets an answer that fits what the person did, and every button an
    # answer, so its spinner stops.
    application.add_handler(CallbackQueryHandler(closed_question_button, pattern=r"^ans:"))
    application.add_handler(CallbackQueryHandler(unknown_button))
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(filters.TEXT, unknown_text))
    application.add_handler(MessageHandler(~filters.StatusUpdate.ALL, unknown_media))
    application.add_error_handler(on_error)
