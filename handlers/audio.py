"""An audio file, voice note or audio document from a person: check it, keep it, offer what to do."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import filters

from bot.chat.audio_intake import IncomingAudio, IntakeRefused, looks_like_audio_document
from bot.i18n import Texts
from bot.services import BotContext, services_of
from handlers.common import person_of, reply
from storage.models import Upload

log = logging.getLogger(__name__)

AUDIO_MESSAGES = (
    filters.AUDIO
    | filters.VOICE
    | filters.Document.AUDIO
    | filters.Document.FileExtension("mp3")
    | filters.Document.FileExtension("m4a")
    | filters.Document.FileExtension("wav")
    | filters.Document.FileExtension("ogg")
    | filters.Document.FileExtension("flac")
)
_ACTIONS = (
    ("cover", "button.cover"),
    ("upload_extend", "button.upload_extend"),
    ("vocals", "button.add_vocals"),
    ("instrumental", "button.add_instrumental"),
    ("mashup", "button.mashup"),  # asks for the second song (handlers/mashup.py)
)


def incoming_of(message: Message) -> IncomingAudio | None:
    if message.audio is not None:
        a = message.audio
        return IncomingAudio(a.file_id, a.file_size, a.mime_type, a.file_name, a.title)
    if message.voice is not None:
        v = message.voice
        return IncomingAudio(v.file_id, v.file_size, v.mime_type, "voice.ogg", None)
    if message.document is not None and looks_like_audio_document(
        message.document.mime_type, message.document.file_name
    ):
        d = message.document
        return IncomingAudio(d.file_id, d.file_size, d.mime_type, d.file_name, None)
    return None


def action_menu(texts: Texts, upload_id: int) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(texts(key), callback_data=f"act:{action}:{upload_id}")
        for action, key in _ACTIONS
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


async def accept_audio(update: Update, context: BotContext) -> Upload | None:
    """The person's file checked and kept, or None once they have been told why it cannot be used."""
    message = update.effective_message
    assert message is not None
    services = services_of(context)
    person = await person_of(update, context)
    texts = Texts(person.locale)
    incoming = incoming_of(message)
    if incoming is None:
        await reply(update, texts("intake.format"))
        return None
    try:
        upload = await services.intake.accept(person.user_id, message.chat_id, incoming)
    except IntakeRefused as refused:
        services.metrics.tasks_refused.labels(reason=f"intake_{refused.key.split('.')[-1]}").inc()
        values = dict(refused.values)
        if "action" in values:  # a key of the catalogue, in the person's language
            values["action"] = texts(str(values["action"]))
        await reply(update, texts(refused.key, **values))
        return None
    log.info("upload %s accepted from user %s (%.1f s)", upload.id, person.user_id, upload.duration)
    return upload


async def receive_audio(update: Update, context: BotContext) -> None:
    upload = await accept_audio(update, context)
    if upload is None:
        return
    texts = Texts((await person_of(update, context)).locale)
    minutes, seconds = divmod(int(upload.duration), 60)
    await reply(
        update,
        texts("intake.accepted", length=f"{minutes}:{seconds:02d}"),
        reply_markup=action_menu(texts, upload.id),
    )
