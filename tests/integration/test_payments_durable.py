"""No Star lost: a payment whose update never reaches the ledger is credited by reconciliation, once, and
a payment arriving while the database is locked is credited when it frees, not dropped."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import bot.app
from bot.payments.invoices import InvoiceSigner
from bot.payments.reconcile import reconcile
from bot.settings import Settings
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.telegram.server import TelegramEmulator
from storage.ledger import EntryKind
from tests.integration.test_durability import database_hold
from tests.integration.test_faults import StartBot
from tests.integration.test_payments import PAYMENTS, invoice_for


def thanks(telegram: TelegramEmulator, user_id: int) -> list[str]:
    return [m.text or "" for m in telegram.bot_messages(user_id) if "credits added" in (m.text or "")]


async def reconcile_now(running: RunningBot) -> int:
    """One more reconciliation run, with the running bot's own parts; the payments it credited."""
    services = running.services
    signer = InvoiceSigner(services.signer.derive("invoices"))
    storage = services.storage
    return (await reconcile(running.telegram.bot, storage.ledger, storage.people, signer)).credited


async def test_payments_whose_update_never_arrived_are_credited_once_and_refunded_ones_never(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    person = ScriptedPerson(telegram, 4301)
    settings = make_settings(**PAYMENTS)
    async with start_bot(settings) as running:
        # Both are paid, and neither successful_payment reaches the bot (it crashed before writing).
        lost = await telegram.user_pays(
            person.user_id, await invoice_for(person, telegram, "10 credits for 50"), deliver=False
        )
        refunded = await telegram.user_pays(
            person.user_id, await invoice_for(person, telegram, "10 credits for 50"), deliver=False
        )
        assert lost.charge_id and refunded.charge_id
        assert await running.telegram.bot.refund_star_payment(person.user_id, refunded.charge_id)
        assert await running.services.storage.ledger.entries(person.user_id) == []

    monkeypatch.setattr(bot.app, "RECONCILE_FIRST", 0.1)  # its first run soon after the start
    async with start_bot(settings) as running:
        ledger = running.services.storage.ledger
        await person.wait_for_text("10 credits added; you have 10 now")
        assert await reconcile_now(running) == 0  # a second run finds nothing owed
        telegram.deliver_payment(lost.charge_id)  # and the update turning up late changes nothing
        await person.say("/balance")
        await person.wait_for_text("Your credits: 10")
        entries = await ledger.entries(person.user_id)
        assert [(e.kind, e.key, e.amount, e.stars) for e in entries] == [
            (EntryKind.PURCHASE, f"purchase:{lost.charge_id}", 10, 50)
        ]
        assert len(thanks(telegram, person.user_id)) == 1


async def test_a_refund_telegram_made_but_the_ledger_missed_is_reversed(
    make_settings: Callable[..., Settings], start_bot: StartBot, telegram: TelegramEmulator
) -> None:
    person = ScriptedPerson(telegram, 4302)
    async with start_bot(make_settings(**PAYMENTS)) as running:
        paid = await telegram.user_pays(person.user_id, await invoice_for(person, telegram, "10 credits"))
        await person.wait_for_text("you have 10 now")
        assert paid.charge_id is not None
        # /refund cut short after Telegram's answer: the Stars went back, the credits did not.
        await running.telegram.bot.refund_star_payment(person.user_id, paid.charge_id)
        await reconcile_now(running)
        await reconcile_now(running)
        ledger = running.services.storage.ledger
        assert sorted(e.kind for e in await ledger.entries(person.user_id)) == [
            EntryKind.PURCHASE,
            EntryKind.REFUND,
        ]
        assert await ledger.balance(person.user_id) == 0


async def test_a_payment_arriving_while_the_database_is_locked_is_credited_when_it_frees(
    make_settings: Callable[..., Settings], start_bot: StartBot, telegram: TelegramEmulator
) -> None:
    person = ScriptedPerson(telegram, 4303)
    settings = make_settings(**PAYMENTS)
    # Longer than the database's 5 s busy timeout: the first write fails with "database is locked".
    async with database_hold(settings, 7.0) as hold, start_bot(settings) as running:
        paid = await telegram.user_pays(
            person.user_id, await invoice_for(person, telegram, "10 credits for 50"), deliver=False
        )
        assert paid.charge_id is not None
        await hold.take()
        telegram.deliver_payment(paid.charge_id)
        await telegram.wait_for(lambda: bool(thanks(telegram, person.user_id)), timeout=25)
        assert hold.released_at is not None  # credited after the lock, not before it
        assert thanks(telegram, person.user_id) == ["Thank you! 10 credits added; you have 10 now."]
        assert await running.services.storage.ledger.balance(person.user_id) == 10
