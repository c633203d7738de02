"""The /library screen: a page of the person's songs as buttons, and re-sending one by its file id."""

from __future__ import annotations

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import InlineKeyboardButtonLimit, MessageLimit

from bot.chat.delivery import extend_button
from bot.chat.progress import format_elapsed
from bot.i18n import Texts
from storage.library import LibraryEntry, LibraryPage

PAGE_SIZE = 5
_BUTTON_TEXT = 60  # Telegram cuts long button labels off on phones anyway
_CALLBACK_BYTES = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)


def entry_name(entry: LibraryEntry) -> str:
    """The track's title, else the start of what the person asked for."""
    params = entry.params
    text = entry.track.title or params.get("title") or params.get("prompt") or params.get("tags") or ""
    return " ".join(str(text).split())


def entry_label(texts: Texts, entry: LibraryEntry, *, now: float) -> str:
    track = entry.track
    parts = [entry_name(entry) or texts("library.untitled")]
    if track.tags:
        parts.append(" ".join(track.tags.split()))
    if track.duration:
        parts.append(format_elapsed(track.duration))
    parts.append(_ago(texts, now - (track.sent_at or entry.created_at)))
    label = " · ".join(parts)
    return label if len(label) <= _BUTTON_TEXT else label[: _BUTTON_TEXT - 1] + "…"


def page_callback(offset: int, query: str, *, action: str = "p") -> str:
    """callback_data for a page (or an action on it): the search words ride along, so the page shown
    after it is the same search; cut to Telegram's 64 bytes."""
    data = f"lib:{action}:{max(offset, 0)}:"
    room = _CALLBACK_BYTES - len(data.encode())
    words = query.encode()[:room].decode(errors="ignore")
    return data + words


def render_page(
    texts: Texts, page: LibraryPage, *, query: str, now: float
) -> tuple[str, InlineKeyboardMarkup | None]:
    if not page.entries:
        key = "library.no_match" if query else "library.empty"
        return texts(key, query=query)[: MessageLimit.MAX_TEXT_LENGTH], None
    pages = (page.total + PAGE_SIZE - 1) // PAGE_SIZE
    header = texts(
        "library.search_header" if query else "library.header",
        query=query,
        count=page.total,
        page=page.offset // PAGE_SIZE + 1,
        pages=pages,
    )
    rows: list[list[InlineKeyboardButton]] = []
    for entry in page.entries:
        track_id = entry.track.id
        rows.append(
            [
                InlineKeyboardButton(
                    entry_label(texts, entry, now=now), callback_data=f"lib:play:{track_id}"
                ),
                InlineKeyboardButton(
                    "🗑", callback_data=page_callback(page.offset, query, action=f"del:{track_id}")
                ),
            ]
        )
    nav = []
    if page.offset > 0:
        nav.append(
            InlineKeyboardButton(
                texts("library.newer"), callback_data=page_callback(page.offset - PAGE_SIZE, query)
            )
        )
    if page.offset + PAGE_SIZE < page.total:
        nav.append(
            InlineKeyboardButton(
                texts("library.older"), callback_data=page_callback(page.offset + PAGE_SIZE, query)
            )
        )
    if nav:
        rows.append(nav)
    return header, InlineKeyboardMarkup(rows)


async def resend(bot: Bot, chat_id: int, entry: LibraryEntry, texts: Texts) -> Message:
    """Send the track again by the file id Telegram gave it: nothing is downloaded or uploaded."""
    track = entry.track
    assert track.telegram_file_id is not None
    return await bot.send_audio(
        chat_id,
        audio=track.telegram_file_id,
        title=track.title or None,
        performer=texts("audio.performer"),
        duration=round(track.duration) if track.duration else None,
        caption=texts("audio.caption", tags=track.tags)[: MessageLimit.CAPTION_LENGTH] or None,
        reply_markup=extend_button(texts, track),
    )


def _ago(texts: Texts, seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return texts(f"library.unit.{unit}", n=seconds // size)
    return texts("library.unit.now")
