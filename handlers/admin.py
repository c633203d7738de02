"""Admin commands: /credits, /stats, /allow <id>, /block <id>, /broadcast <text>. Registered behind an
admin filter."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, filters

from bot.i18n import Texts
from bot.provider.errors import ProviderError
from bot.services import BotContext, services_of
from handlers.broadcast import CALLBACK_PATTERN, broadcast, broadcast_answer
from handlers.commands import ADMIN_COMMANDS
from handlers.common import reply, texts_of
from handlers.payments import refund
from storage.ledger import Takings
from storage.tasks import TaskStats


def start_of_day(now: float) -> float:
    """Midnight UTC of the day `now` falls in: "today" for /stats."""
    day = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.timestamp()


async def credits(update: Update, context: BotContext) -> None:
    texts = await texts_of(update, context)
    try:
        balance = await services_of(context).provider.credits()
    except ProviderError as error:
        await reply(update, texts("admin.credits_failed", reason=f"{error.code} {error.message}"))
        return
    await reply(update, texts("admin.credits", credits=balance))


def format_stats(texts: Texts, stats: TaskStats, people: int) -> str:
    finished = stats.complete + stats.failed
    rate = f"{100 * stats.complete / finished:.0f}%" if finished else "—"
    failures = ", ".join(f"{code}: {n}" for code, n in sorted(stats.failures_by_code.items())) or "—"
    return texts(
        "admin.stats",
        total=stats.total,
        complete=stats.complete,
        failed=stats.failed,
        active=stats.active,
        rate=rate,
        people=people,
        failures=failures,
    )


async def stats(update: Update, context: BotContext) -> None:
    services = services_of(context)
    since = start_of_day(time.time())
    task_stats = await services.storage.tasks.stats_since(since)
    people = await services.storage.people.count_seen_since(since)
    texts = await texts_of(update, context)
    text = format_stats(texts, task_stats, people)
    if services.settings.payments_on:
        ledger = services.storage.ledger
        text += "\n" + format_takings(texts, await ledger.takings(since), await ledger.held())
    await reply(update, text)


def format_takings(texts: Texts, day: Takings, held: int) -> str:
    return texts(
        "admin.stats_payments",
        stars=day.purchase_stars,
        purchases=day.purchases,
        refunds=day.refunds,
        refund_stars=day.refund_stars,
        spent=day.spent,
        held=held,
    )


async def _set_access(
    update: Update, context: BotContext, access: str, usage_key: str, done_key: str
) -> None:
    texts = await texts_of(update, context)
    args = context.args or []
    if len(args) != 1 or not args[0].lstrip("-").isdigit():
        await reply(update, texts(usage_key))
        return
    user_id = int(args[0])
    await services_of(context).storage.people.set_access(user_id, access, now=time.time())
    await reply(update, texts(done_key, user_id=user_id))


async def allow(update: Update, context: BotContext) -> None:
    await _set_access(update, context, "allowed", "admin.allow_usage", "admin.allowed")


async def block(update: Update, context: BotContext) -> None:
    await _set_access(update, context, "blocked", "admin.block_usage", "admin.blocked")


async def admin_only(update: Update, context: BotContext) -> None:
    await reply(update, (await texts_of(update, context))("admin.only"))


def admin_handlers(admin_ids: list[int]) -> list[BaseHandler]:  # type: ignore[type-arg]
    """The admin commands for these admins, then one handler answering everyone else politely, and the
    broadcast's confirmation buttons (which check the admin themselves: a button carries no filter)."""
    is_admin = filters.User(user_id=admin_ids, allow_empty=False) if admin_ids else filters.User(user_id=[0])
    callbacks = {
        "credits": credits,
        "stats": stats,
        "allow": allow,
        "block": block,
        "broadcast": broadcast,
        "refund": refund,
    }
    return [
        *(CommandHandler(name, callbacks[name], filters=is_admin) for name in ADMIN_COMMANDS),
        CommandHandler(list(ADMIN_COMMANDS), admin_only),
        CallbackQueryHandler(broadcast_answer, pattern=CALLBACK_PATTERN),
    ]
