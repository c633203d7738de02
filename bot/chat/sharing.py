"""Share links to a track: the deep link itself, and what the person who opens it receives."""

from __future__ import annotations

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import MessageLimit

from bot.i18n import Texts
from bot.web.signing import Signer
from storage.library import LibraryEntry

START_PREFIX = "s_"  # /start payloads that open a share link; other payloads are plain /start


def share_link(signer: Signer, bot_username: str, share_id: int) -> str:
    return f"https://t.me/{bot_username}?start={START_PREFIX}{signer.share_token(share_id)}"


def share_keyboard(texts: Texts, share_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(texts("share.revoke"), callback_data=f"share:revoke:{share_id}")]]
    )


async def send_shared(bot: Bot, chat_id: int, entry: LibraryEntry, texts: Texts) -> Message:
    """The shared track by its file id, with no owner's buttons (Extend and Share are the owner's),
    then a line inviting the newcomer to make their own."""
    track = entry.track
    assert track.telegram_file_id is not None
    await bot.send_audio(
        chat_id,
        audio=track.telegram_file_id,
        title=track.title or None,
        performer=texts("audio.performer"),
        duration=round(track.duration) if track.duration else None,
        caption=texts("audio.caption", tags=track.tags)[: MessageLimit.CAPTION_LENGTH] or None,
    )
    # The title only: the owner's description or lyrics are theirs, not for whoever has the link.
    name = track.title or texts("library.untitled")
    return await bot.send_message(chat_id, texts("share.invitation", name=name))
