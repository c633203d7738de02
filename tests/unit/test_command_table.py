"""The command table is the one list: menus come from it, and every command in it has a handler."""

from __future__ import annotations

from pathlib import Path

from telegram.ext import CommandHandler, ConversationHandler

from bot.i18n import LANGUAGES, Texts
from bot.ops.metrics import Metrics
from bot.telegram.application import build_telegram
from bot.telegram.pacing import ChatPacer
from emulators.harness import emulator_settings
from handlers import register_handlers
from handlers.commands import ADMIN_COMMANDS, ADMIN_MENU, COMMANDS, PUBLIC_MENU
from storage.store import Storage


def registered_commands(storage: Storage, data_dir: Path) -> set[str]:
    """The commands of every CommandHandler the real registration adds, question flows included."""
    settings = emulator_settings(
        data_dir, telegram_url="http://127.0.0.1:9", provider_url="http://127.0.0.1:9"
    )
    application = build_telegram(settings, ChatPacer(), storage, Metrics())
    register_handlers(application, admin_ids=[42])
    names: set[str] = set()
    for handlers in application.handlers.values():
        for handler in handlers:
            inner = (
                [
                    *handler.entry_points,
                    *handler.fallbacks,
                    *(h for hs in handler.states.values() for h in hs),
                ]
                if isinstance(handler, ConversationHandler)
                else [handler]
            )
            for each in inner:
                if isinstance(each, CommandHandler):
                    names |= set(each.commands)
    return names


def test_every_command_in_the_table_has_a_handler_and_every_handler_is_in_the_table(
    storage: Storage, tmp_path: Path
) -> None:
    assert registered_commands(storage, tmp_path) == {c.name for c in COMMANDS}


def test_menus_come_from_the_table_with_a_description_in_every_language() -> None:
    assert set(PUBLIC_MENU) <= set(ADMIN_MENU)
    assert not set(PUBLIC_MENU) & set(ADMIN_COMMANDS)
    for language in LANGUAGES:
        texts = Texts(language)
        for name in ADMIN_MENU:
            assert texts(f"commands.{name}") != f"commands.{name}", (language, name)
