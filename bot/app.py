"""The composition root: one aiohttp application holding storage, the provider client and the PTB bot."""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.ext import Application, ContextTypes

from bot.chat.audio_intake import AudioIntake
from bot.chat.deliveries import Deliveries
from bot.chat.delivery import TrackDelivery
from bot.chat.outbox import Outbox
from bot.chat.progress_messages import ProgressMessages
from bot.i18n import LANGUAGES, Texts
from bot.ops.alerts import Alerts
from bot.ops.housekeeping import sweep
from bot.ops.metrics import Metrics
from bot.provider.budget import SlidingWindowBudget
from bot.provider.client import ProviderClient
from bot.services import BotData, Services, UserData
from bot.settings import Settings
from bot.tasks.events import EventIntake
from bot.tasks.lifecycle import Lifecycle
from bot.tasks.poller import Poller
from bot.tasks.service import Quotas, TaskService
from bot.tasks.submitter import Submitter
from bot.tasks.work_queue import WorkQueue
from bot.telegram.pacing import ChatPacer
from bot.telegram.persistence import StoragePersistence
from bot.telegram.request import AiohttpRequest
from bot.telegram.updates import PerPersonUpdateProcessor
from bot.telegram.upload import AudioUploader
from bot.web.keys import SERVICES, TELEGRAM
from bot.web.routes import errors_middleware, setup_routes
from bot.web.signing import Signer
from handlers import register_handlers
from storage.store import Storage
from storage.work import Kind

log = logging.getLogger(__name__)

_PUBLIC_COMMANDS = ("start", "generate", "custom", "status", "language", "help", "cancel")
_ADMIN_COMMANDS = ("credits", "stats")


def build_telegram(settings: Settings, pacer: ChatPacer, storage: Storage, metrics: Metrics) -> Application:  # type: ignore[type-arg]
    api = settings.telegram_api_url
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .rate_limiter(pacer)
        .context_types(ContextTypes(bot_data=BotData, user_data=UserData))
        .persistence(StoragePersistence(storage.conversations))  # open questions survive a restart
        # Handlers only parse and hand work to the service, but a reply waits for its chat's pace: one
        # person's updates run one after another in a line of their own, people side by side.
        .concurrent_updates(PerPersonUpdateProcessor(on_drop=metrics.updates_dropped.inc))
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


def build_task_core(
    settings: Settings,
    storage: Storage,
    provider: ProviderClient,
    bot: Bot,
    pacer: ChatPacer,
    delivery: TrackDelivery,
    signer: Signer,
    metrics: Metrics,
) -> TaskService:
    """The task core's object graph, each part handed what it works with."""
    admins = frozenset(settings.admin_user_ids)
    queue = WorkQueue(storage.work)
    alerts = Alerts(storage=storage, bot=bot, queue=queue, admins=admins)
    lifecycle = Lifecycle(
        storage=storage,
        queue=queue,
        metrics=metrics,
        poll_interval=settings.suno_poll_interval,
        out_of_credits=alerts.out_of_credits,
    )
    intake = EventIntake(lifecycle)
    submitter = Submitter(
        lifecycle=lifecycle, provider=provider, signer=signer, public_url=settings.public_url
    )
    submitter.on_accepted = alerts.credits_fine
    progress = ProgressMessages(storage=storage, bot=bot, pacer=pacer, queue_position=submitter.position)
    outbox = Outbox(
        queue=queue,
        progress=progress,
        deliveries=Deliveries(storage=storage, bot=bot, delivery=delivery, pacer=pacer),
        people=storage.people,
        metrics=metrics,
        slots_ahead=pacer.ahead,
    )
    queue.register(Kind.SUBMIT, submitter)
    queue.register(Kind.POLL, Poller(lifecycle=lifecycle, provider=provider, intake=intake))
    queue.register(Kind.PROGRESS, outbox)
    queue.register(Kind.DELIVER, outbox)
    queue.register(Kind.ALERT, alerts)
    quotas = Quotas(settings.max_active_tasks_per_user, settings.max_tasks_per_day, admins)
    return TaskService(lifecycle=lifecycle, submitter=submitter, intake=intake, quotas=quotas)


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
        application = build_telegram(settings, pacer, storage, metrics)
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
        tasks = build_task_core(
            settings, storage, provider, application.bot, pacer, delivery, signer, metrics
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
                schedule_housekeeping(application, settings, storage)
                await tasks.start(single_process=True)
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
                    await tasks.stop()
                    if application.updater is not None and application.updater.running:
                        await application.updater.stop()
                    await application.stop()
        finally:
            await session.close()

    app.cleanup_ctx.append(storage_context)
    app.cleanup_ctx.append(services_context)
    setup_routes(app)
    return app
