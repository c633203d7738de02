"""The More… keyboard under a delivered track: the studio's tools for it, and Back to the usual buttons.

Both replace the track's keyboard in place, so the chat stays one message per track. Callback data stays
short (Telegram allows 64 bytes): `more:<track>`, `back:<track>`, `st:<tool code>:<track>`.
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Texts
from bot.studio.registry import TOOLS
from bot.studio.tool import Tool
from storage.models import Track

ROW = 2


def track_tools() -> list[Tool]:
    return [tool for tool in TOOLS.values() if tool.button is not None]


def tool_by_code(code: str) -> Tool | None:
    return next((tool for tool in track_tools() if tool.code == code), None)


def more_keyboard(texts: Texts, track: Track) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(texts(tool.button or ""), callback_data=f"st:{tool.code}:{track.id}")
        for tool in track_tools()
    ]
    rows = [buttons[i : i + ROW] for i in range(0, len(buttons), ROW)]
    rows.append([InlineKeyboardButton(texts("button.back"), callback_data=f"back:{track.id}")])
    return InlineKeyboardMarkup(rows)
