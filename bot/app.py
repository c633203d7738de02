"""The composition root: one aiohttp application holding storage, the provider client and the PTB bot."""

from __future__ import annotations

import gc
import logging
import secrets
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from telegram import Bot, Update
from telegram.ext import Application

from bot.chat.audio_intake import AudioIntake
from bot.chat.deliveries import Deliveries
from bot.chat.delivery import TrackDelivery
from bot.chat.outbox import Outbox
from bot.chat.progress_messages import ProgressMessages
from bot.ops.alerts import Alerts
from bot.ops.broadcast import BroadcastDesk, BroadcastSender
from bot.ops.housekeeping import sweep
from bot.ops.logging_setup import mask_secrets
from bot.ops.metrics import Metrics
from bot.payments.invoices import InvoiceSigner
from bot.payments.reconcile import reconcile
from bot.provider.budget import SlidingWindowBudget
from bot.provider.client import ProviderClient
from bot.provider.media import MediaFetcher, media_session
from bot.provider.media_guard import MediaGuard
from bot.provider.shared_budget import SharedLimits
from bot.services import Services
from bot.settings import Settings
from bot.studio.delivery import FileDelivery
from bot.tasks.events import EventIntake
from bot.tasks.lifecycle import Lifecycle
from bot.tasks.poller import Poller
from bot.tasks.service import Quotas, TaskService
from bot.tasks.submitter import Submitter
from bot.tasks.work_queue import WorkQueue
from bot.telegram.application import build_telegram, register_commands, register_profile
from bot.telegram.pacing import ChatPacer
from bot.telegram.upload import AudioUploader
from bot.web.keys import SERVICES, TELEGRAM
from bot.web.routes import errors_middleware, setup_routes
from bot.web.signing import Signer
from handlers import register_handlers
from storage.ledger import Charge
from storage.store import Storage
from storage.work import Kind

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL = 600.0
# Payments lost on their way to the ledger are rare (a crash in a few milliseconds' window): looked for
# soon after a start (when one is likeliest to have just happened), then every quarter of an hour.
RECONCILE_FIRST = 30.0
RECONCILE_INTERVAL = 900.0
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
            prompt_retention=settings.prompt_retention_days * 86400,
        )

    assert application.job_queue is not None, "python-telegram-bot[job-queue] is a dependency"
    application.job_queue.run_repeating(job, interval=HOUSEKEEPING_INTERVAL, first=10, name="housekeeping")


def schedule_reconciliation(application: Application, storage: Storage, signer: Signer) -> None:  # type: ignore[type-arg]
    """Credit payments whose update never became a ledger entry (bot/payments/reconcile.py).

    A repeating job rather than work-queue items: each run reads Telegram's whole record and writes keyed
    entries, so it needs no lease or attempt count (two replicas running it at once credit each payment
    once), and a run that fails is simply the next one's to do."""
    invoices = InvoiceSigner(signer.derive("invoices"))

    async def job(context: object) -> None:
        try:
            await reconcile(application.bot, storage.ledger, storage.people, invoices)
        except Exception as error:  # Telegram or the database away: the next run reads it all again
            log.warning("payment reconciliation did not finish: %s: %s", type(error).__name__, error)

    assert application.job_queue is not None, "python-telegram-bot[job-queue] is a dependency"
    application.job_queue.run_repeating(
        job, interval=RECONCILE_INTERVAL, first=RECONCILE_FIRST, name="reconcile-payments"
    )


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
    queue = WorkQueue(storage.work, telegram_probe=bot.get_me, shared=storage.db.dialect != "sqlite")
    alerts = Alerts(
        storage=storage,
        bot=bot,
        queue=queue,
        admins=admins,
        provider=provider,
        credits_alert_below=settings.credits_alert_below,
        credits_check_interval=settings.credits_check_interval,
    )
    lifecycle = Lifecycle(
        storage=storage,
        queue=queue,
        metrics=metrics,
        poll_interval=settings.suno_poll_interval,
        out_of_credits=alerts.out_of_credits,
    )
    intake = EventIntake(lifecycle)
    submitter = Submitter(
        lifecycle=lifecycle,
        provider=provider,
        signer=signer,
        public_url=settings.public_url,
        tmp_dir=settings.data_dir / "tmp",
    )
    submitter.on_accepted = alerts.task_accepted
    submitter.intake = intake  # a synchronous studio tool's answer is stored as its task's event
    files = FileDelivery(
        storage=storage, bot=bot, media=delivery.media, tmp_dir=settings.data_dir / "tmp", metrics=metrics
    )
    progress = ProgressMessages(storage=storage, bot=bot, pacer=pacer, queue_position=submitter.position)
    outbox = Outbox(
        queue=queue,
        progress=progress,
        deliveries=Deliveries(
            storage=storage,
            bot=bot,
            delivery=delivery,
            pacer=pacer,
            files=files,
            wake=queue.wake,
            recoveries_started=lifecycle.recoveries_started,
        ),
        people=storage.people,
        metrics=metrics,
        slots_ahead=pacer.ahead,
    )
    queue.register(Kind.SUBMIT, submitter)
    queue.register(Kind.POLL, Poller(lifecycle=lifecycle, provider=provider, intake=intake))
    queue.register(Kind.PROGRESS, outbox)
    queue.register(Kind.DELIVER, outbox)
    queue.register(Kind.ALERT, alerts)
    queue.register(Kind.BROADCAST, BroadcastSender(storage=storage, bot=bot, queue=queue))
    charge = Charge(settings.credits_per_task, settings.free_credits) if settings.payments_on else None
    quotas = Quotas(settings.max_active_tasks_per_user, settings.max_tasks_per_day, admins, charge)
    return TaskService(lifecycle=lifecycle, submitter=submitter, intake=intake, quotas=quotas)


class _Runtime:
    """What the server holds while it runs, built by one cleanup context per resource, in order.

    aiohttp runs each context's set-up in order and its tear-down in reverse (and only if its set-up
    finished): storage, then the HTTP clients, then Telegram (with the task core wired to it), then the
    task core's workers. On a stop the workers drain first, while Telegram and the clients still work.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        url = settings.database_url.get_secret_value() if settings.database_url else None
        self.storage = Storage(settings.database_path, url=url)

    async def storage_context(self, app: web.Application) -> AsyncIterator[None]:
        await self.storage.open()
        yield
        await self.storage.close()

    async def clients_context(self, app: web.Application) -> AsyncIterator[None]:
        settings, metrics = self.settings, self.metrics
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        if secret is None:
            fresh = secrets.token_urlsafe(32)
            mask_secrets(fresh)  # before it is stored: at DEBUG a database layer may log what it writes
            secret = await self.storage.kv.get_or_create("webhook_secret", fresh)
        self.signer = Signer(secret)
        # Hidden from every log from now on: the configured secrets, the master secret, the webhook's.
        mask_secrets(*settings.secrets, secret, self.signer.derive("telegram"))
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        # Replicas share one PostgreSQL database and must hold the external limits together; SQLite is one
        # process, whose budgets in memory are exact (bot/provider/shared_budget.py).
        self.limits = SharedLimits(self.storage.limits) if self.storage.db.dialect == "postgresql" else None
        api_key = settings.suno_api_key.get_secret_value()
        budget = (
            self.limits.provider_budget(api_key, settings.provider_budget, settings.provider_budget_window)
            if self.limits is not None
            else SlidingWindowBudget(settings.provider_budget, settings.provider_budget_window)
        )
        self.provider = ProviderClient(
            self.session,
            base_url=settings.suno_api_url,
            upload_url=settings.suno_upload_url,
            api_key=api_key,
            budget=budget,
            metrics=metrics,
        )
        self.pacer = ChatPacer(
            per_chat_interval=settings.telegram_chat_interval,
            global_per_second=settings.telegram_global_rate,
            budgets=self.limits.telegram_budgets(settings.telegram_bot_token.get_secret_value())
            if self.limits is not None
            else None,
            on_retry_after=lambda chat_id, seconds: metrics.telegram_errors.labels(code="RetryAfter").inc(),
            on_answer=lambda method, seconds: metrics.telegram_call_seconds.labels(method=method).observe(
                seconds
            ),
        )
        # Media URLs come from callbacks: fetched through a session of their own, guarded address by address.
        guard = MediaGuard(trusted=(settings.suno_api_url, settings.suno_upload_url))
        self.media_session = media_session(guard)
        self.media = MediaFetcher(self.media_session, guard)
        try:
            yield
        finally:
            if self.limits is not None:
                await self.limits.close()
            await self.media_session.close()
            await self.session.close()

    async def telegram_context(self, app: web.Application) -> AsyncIterator[None]:
        settings, storage = self.settings, self.storage
        application = build_telegram(settings, self.pacer, storage, self.metrics)
        uploader = AudioUploader(
            self.session,
            api_url=settings.telegram_api_url,
            token=settings.telegram_bot_token.get_secret_value(),
            bot=application.bot,
            pacer=self.pacer,
        )
        delivery = TrackDelivery(
            application.bot,
            uploader,
            self.media,
            settings.data_dir / "tmp",
            metrics=self.metrics,
            url_schemes=settings.delivery_url_schemes,
        )
        self.tasks = build_task_core(
            settings, storage, self.provider, application.bot, self.pacer, delivery, self.signer, self.metrics
        )
        services = Services(
            settings=settings,
            storage=storage,
            provider=self.provider,
            tasks=self.tasks,
            signer=self.signer,
            metrics=self.metrics,
            telegram_secret=self.signer.derive("telegram"),
            intake=AudioIntake(
                application.bot,
                storage,
                settings.data_dir,
                max_per_day=settings.max_uploads_per_day,
                exempt=settings.admin_user_ids,
            ),
            broadcasts=BroadcastDesk(
                storage=storage,
                queue=self.tasks.queue,
                # With ALLOWED_USER_IDS set, only those (and the admins) use the bot, so only they hear.
                allowed=[*settings.allowed_user_ids, *settings.admin_user_ids]
                if settings.allowed_user_ids
                else None,
            ),
        )
        application.bot_data.services = services
        register_handlers(application, admin_ids=settings.admin_user_ids)
        app[SERVICES] = services
        app[TELEGRAM] = application
        try:
            await application.initialize()
        except BaseException:
            # PTB's shutdown skips an application that did not finish initialising, so the Bot's HTTP
            # sessions, opened before getMe failed, would be left open ("Unclosed client session").
            await application.bot.shutdown()
            raise
        async with application:
            await register_commands(application, settings)
            await register_profile(application)
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
            if settings.payments_on:
                schedule_reconciliation(application, storage, self.signer)
            try:
                yield
            finally:
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                await application.stop()

    async def core_context(self, app: web.Application) -> AsyncIterator[None]:
        await self.tasks.start()
        log.info("bot started in %s mode", "webhook" if self.settings.webhook_mode else "polling")
        # What exists now lives as long as the bot (PTB, handlers, clients, caches): moved out of the
        # collector's way, a full collection scans only what requests create and stays short, instead of
        # pausing the loop for milliseconds while callbacks wait.
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(GC_YOUNG_THRESHOLD, *thresholds[1:])
        try:
            yield
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            await self.tasks.stop()


def build_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[errors_middleware], client_max_size=2 * 1024 * 1024)
    runtime = _Runtime(settings)
    app.cleanup_ctx.extend(
        [runtime.storage_context, runtime.clients_context, runtime.telegram_context, runtime.core_context]
    )
    setup_routes(app)
    return app
