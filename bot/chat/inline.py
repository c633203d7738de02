"""Inline mode: `@<bot> words` in any chat lists the person's own songs as cached audio results."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResultCachedAudio
from telegram.constants import InlineQueryLimit, MessageLimit

from bot.i18n import Texts
from storage.library import LibraryPage

PAGE_SIZE = 20  # a screenful; Telegram takes up to 50 per answer
# Short, and per person: a new song shows up within seconds, and nobody else ever sees the answer.
CACHE_SECONDS = 10
MAX_OFFSET = 10**9  # offsets come back from the person's client: never trust one to be small


def parse_offset(offset: str) -> int:
    """The next_offset we gave, as Telegram sends it back; anything else starts from the top."""
    if offset.isascii() and offset.isdigit() and len(offset) <= 10:
        return min(int(offset), MAX_OFFSET)
    return 0


def results(
    texts: Texts, page: LibraryPage, *, bot_username: str
) -> tuple[list[InlineQueryResultCachedAudio], str]:
    """The page's songs, each posting with a button to the bot, and the next page's offset ('' at the end)."""
    invite = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts("inline.make_your_own"), url=f"https://t.me/{bot_username}?start=inline"
                )
            ]
        ]
    )
    found = []
    for entry in page.entries:
        track = entry.track
        assert track.telegram_file_id is not None
        found.append(
            InlineQueryResultCachedAudio(
                id=str(track.id),
                audio_file_id=track.telegram_file_id,
                caption=texts("audio.caption", tags=track.tags)[: MessageLimit.CAPTION_LENGTH] or None,
                reply_markup=invite,
            )
        )
    after = page.offset + len(page.entries)
    more = after < page.total and len(page.entries) > 0
    return found[: InlineQueryLimit.RESULTS], str(after) if more else ""
