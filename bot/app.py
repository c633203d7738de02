"""The composition root: one aiohttp application holding storage, the provider client and the PTB bot."""

from __future__ import annotations

import asyncio
import gc
import logging
import secrets
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.ext import Application, ContextTypes

from bot.chat.audio_intake import AudioIntake
from bot.chat.delivery import TrackDelivery
from bot.i18n import LANGUAGES, Texts
from bot.ops.housekeeping import sweep
from bot.ops.metrics import Metrics
from bot.provider.budget import SlidingWindowBudget
from bot.provider.client import ProviderClient
from bot.services import BotData, Services, UserData
from bot.settings import Settings
from bot.tasks.service import TaskService
from bot.telegram.pacing import ChatPacer
from bot.telegram.request import AiohttpRequest
from bot.telegram.upload import AudioUploader
from bot.web.keys import SERVICES, TELEGRAM
from bot.web.routes import errors_middleware, setup_routes
from bot.web.signing import Signer
from handlers import register_handlers
from storage.store import Storage

log = logging.getLogger(__name__)

_PUBLIC_COMMANDS = ("start", "generate", "custom", "status", "language", "help", "cancel")
_ADMIN_COMMANDS = ("credits", "stats")


def build_telegram(settings: Settings, pacer: ChatPacer) -> Application:  # type: ignore[type-arg]
    api = settings.telegram_api_url
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .rate_limiter(pacer)
        .context_types(ContextTypes(bot_data=BotData, user_data=UserData))
        # Handlers only parse and hand work to the service, but an audio download may take a moment:
        # several updates are handled at once so one person never holds up another.
        .concurrent_updates(16)
        .request(
            AiohttpRequest(
                connection_pool_size=64, read_timeout=30, write_timeout=60, media_write_timeout=120
            )
        )
        .get_updates_request(AiohttpRequest(connection_pool_size=1, read_timeout=60))
    )
    if settings.webhook_mode:
        builder = builder.updater(None)
    return builder.build()


async def register_commands(application: Application, settings: Settings) -> None:  # type: ignore[type-arg]
    for language in LANGUAGES:
        texts = Texts(language)
        commands = [BotCommand(name, texts(f"commands.{name}")) for name in _PUBLIC_COMMANDS]
        code = None if language == "en" else language
        await application.bot.set_my_commands(commands, language_code=code)
    texts = Texts("en")
    admin_commands = [BotCommand(n, texts(f"commands.{n}")) for n in (*_PUBLIC_COMMANDS, *_ADMIN_COMMANDS)]
    for admin in settings.admin_user_ids:
        try:
            await application.bot.set_my_commands(admin_commands, scope=BotCommandScopeChat(admin))
        except Exception as error:  # an admin who never opened the bot has no chat yet
            log.warning("could not set admin commands for %s: %s", admin, error)


HOUSEKEEPING_INTERVAL = 600.0
# Every callback in flight holds a task, its coroutine, futures and contexts. With 64 callbacks in flight
# Python's default (a young collection every 700 net allocations) collected 25 times in two seconds of
# load, about 1 ms of the loop each, scanning objects about to be freed anyway; with room for that working
# set it collects twice, and the pauses stay a few milliseconds (bench/intake.py, README "Performance").
GC_YOUNG_THRESHOLD = 5000


def schedule_housekeeping(application: Application, settings: Settings, storage: Storage) -> None:  # type: ignore[type-arg]
    async def job(context: object) -> None:
        await sweep(
            storage,
            settings.data_dir,
            upload_retention=settings.upload_retention_hours * 3600,
            event_retention=settings.event_retention_days * 86400,
        )

    assert application.job_queue is not None, "python-telegram-bot[job-queue] is a dependency"
    application.job_queue.run_repeating(job, interval=HOUSEKEEPING_INTERVAL, first=10, name="housekeeping")


def build_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=2 * 1024 * 1024)
    metrics = Metrics()
    storage = Storage(settings.database_path)

    async def storage_context(app: web.Application) -> AsyncIterator[None]:
        await storage.open()
        yield
        await storage.close()

    async def services_context(app: web.Application) -> AsyncIterator[None]:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        secret = secret or await storage.kv.get_or_create("webhook_secret", secrets.token_urlsafe(32))
        signer = Signer(secret)
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        budget = SlidingWindowBudget(settings.provider_budget, settings.provider_budget_window)
        provider = ProviderClient(
            session,
            base_url=settings.suno_api_url,
            upload_url=settings.suno_upload_url,
            api_key=settings.suno_api_key.get_secret_value(),
            budget=budget,
            metrics=metrics,
        )
        pacer = ChatPacer(
            per_chat_interval=settings.telegram_chat_interval,
            global_per_second=settings.telegram_global_rate,
            on_retry_after=lambda chat_id, seconds: metrics.telegram_errors.labels(code="RetryAfter").inc(),
            on_answer=lambda method, seconds: metrics.telegram_call_seconds.labels(method=method).observe(
                seconds
            ),
        )
        application = build_telegram(settings, pacer)
        uploader = AudioUploader(
            session,
            api_url=settings.telegram_api_url,
            token=settings.telegram_bot_token.get_secret_value(),
            bot=application.bot,
            pacer=pacer,
        )
        delivery = TrackDelivery(
            application.bot,
            uploader,
            provider,
            settings.data_dir / "tmp",
            metrics=metrics,
            url_schemes=settings.delivery_url_schemes,
        )
        tasks = TaskService(
            settings=settings,
            storage=storage,
            provider=provider,
            bot=application.bot,
            delivery=delivery,
            signer=signer,
            metrics=metrics,
        )
        services = Services(
            settings=settings,
            storage=storage,
            provider=provider,
            tasks=tasks,
            signer=signer,
            metrics=metrics,
            telegram_secret=signer.derive("telegram"),
            intake=AudioIntake(application.bot, storage, settings.data_dir),
        )
        application.bot_data.services = services
        register_handlers(application, admin_ids=settings.admin_user_ids)
        app[SERVICES] = services
        app[TELEGRAM] = application
        try:
            async with application:
                await register_commands(application, settings)
                if settings.webhook_mode:
                    await application.bot.set_webhook(
                        url=f"{settings.public_url}/telegram",
                        secret_token=services.telegram_secret,
                        allowed_updates=Update.ALL_TYPES,
                    )
                else:
                    await application.bot.delete_webhook()
                await application.start()
                if application.updater is not None:
                    await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
                poller = asyncio.create_task(tasks.poll_forever(), name="provider-poller")
                queue_news = asyncio.create_task(tasks.refresh_queue_forever(), name="queue-positions")
                schedule_housekeeping(application, settings, storage)
                await tasks.resume()
                log.info("bot started in %s mode", "webhook" if settings.webhook_mode else "polling")
                # What exists now lives as long as the bot (PTB, handlers, clients, caches): moved out of
                # the collector's way, a full collection scans only what requests create and stays short,
                # instead of pausing the loop for milliseconds while callbacks wait.
                gc.collect()
                gc.freeze()
                thresholds = gc.get_threshold()
                gc.set_threshold(GC_YOUNG_THRESHOLD, *thresholds[1:])
                try:
                    yield
                finally:
                    gc.set_threshold(*thresholds)
                    gc.unfreeze()
                    poller.cancel()
                    queue_news.cancel()
                    await asyncio.gather(poller, queue_news, return_exceptions=True)
                    await tasks.close()
                    if application.updater is not None and application.updater.running:
                        await application.updater.stop()
                    await application.stop()
        finally:
            await session.close()

    app.cleanup_ctx.append(storage_context)
    app.cleanup_ctx.append(services_context)
    setup_routes(app)
    return app
