"""Building python-telegram-bot's Application for our server, and its command menus."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes

from bot.i18n import LANGUAGES, Texts
from bot.ops.metrics import Metrics
from bot.services import BotData, UserData
from bot.settings import Settings
from bot.telegram.pacing import ChatPacer
from bot.telegram.persistence import StoragePersistence
from bot.telegram.request import AiohttpRequest
from bot.telegram.shared_state import SharedConversations
from bot.telegram.updates import PerPersonUpdateProcessor
from handlers.commands import ADMIN_MENU, PUBLIC_MENU
from storage.store import Storage

log = logging.getLogger(__name__)


def build_telegram(settings: Settings, pacer: ChatPacer, storage: Storage, metrics: Metrics) -> Application:  # type: ignore[type-arg]
    api = settings.telegram_api_url
    persistence = StoragePersistence(storage.conversations)
    processor = PerPersonUpdateProcessor(on_drop=metrics.updates_dropped.inc)
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .rate_limiter(pacer)
        .context_types(ContextTypes(bot_data=BotData, user_data=UserData))
        .persistence(persistence)  # open questions survive a restart
        # Handlers only parse and hand work to the service, but a reply waits for its chat's pace: one
        # person's updates run one after another in a line of their own, people side by side.
        .concurrent_updates(processor)
        .request(
            AiohttpRequest(
                connection_pool_size=64, read_timeout=30, write_timeout=60, media_write_timeout=120
            )
        )
        .get_updates_request(AiohttpRequest(connection_pool_size=1, read_timeout=60))
    )
    if settings.webhook_mode:
        builder = builder.updater(None)
    application = builder.build()
    if storage.db.dialect != "sqlite":
        # Replicas: a person's next answer may reach any of them (bot/telegram/shared_state.py).
        processor.hooks = SharedConversations(application, persistence)
    return application


async def register_commands(application: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    """The menus from the command table: everyone's in each language, and the admins' own."""
    for language in LANGUAGES:
        texts = Texts(language)
        commands = [BotCommand(name, texts(f"commands.{name}")) for name in PUBLIC_MENU]
        code = None if language == "en" else language
        await application.bot.set_my_commands(commands, language_code=code)
    texts = Texts("en")
    admin_commands = [BotCommand(name, texts(f"commands.{name}")) for name in ADMIN_MENU]
    for admin in settings.admin_user_ids:
        try:
            await application.bot.set_my_commands(admin_commands, scope=BotCommandScopeChat(admin))
        except Exception as error:  # an admin who never opened the bot has no chat yet
            log.warning("could not set admin commands for %s: %s", admin, error)


async def register_profile(application: Application) -> None:  # type: ignore[type-arg]
    """The description (shown in an empty chat) and short description (the profile page, shared links)
    from the catalogue, in each language; English is everyone else's.

    Telegram limits how often these may be set, and a bot restarts often: a text is set only when it
    differs from what Telegram shows, and a refusal is a warning, not a failed start."""
    bot = application.bot
    for language in LANGUAGES:
        texts = Texts(language)
        code = None if language == "en" else language
        try:
            if (await bot.get_my_description(language_code=code)).description != texts("bot.description"):
                await bot.set_my_description(texts("bot.description"), language_code=code)
            short = texts("bot.short_description")
            if (await bot.get_my_short_description(language_code=code)).short_description != short:
                await bot.set_my_short_description(short, language_code=code)
        except TelegramError as error:
            log.warning("could not set the bot's description (%s): %s", language, error)
