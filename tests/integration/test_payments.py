"""Buying credits with Telegram Stars through the real bot and the emulator's payments."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from bot.settings import Settings
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.telegram.server import TelegramEmulator
from storage.ledger import EntryKind

ADMIN = 9001
PAYMENTS = {"STARS_PACKS": "10:50,50:200"}


async def invoice_for(
    person: ScriptedPerson, telegram: TelegramEmulator, pack: str, *, stars: int = 50
) -> int:
    await person.say("/buy")
    await person.wait_for_text("Choose a pack")
    before = len(telegram.invoices_in(person.user_id))
    await person.press(pack)
    await telegram.wait_for(lambda: len(telegram.invoices_in(person.user_id)) > before, timeout=10)
    invoice = telegram.invoices_in(person.user_id)[-1]
    assert (invoice.currency, invoice.total_amount) == ("XTR", stars)
    return invoice.message_id


async def test_a_payment_is_credited_once_across_a_restart_and_duplicate_updates(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
) -> None:
    person = ScriptedPerson(telegram, 4201)
    settings = make_settings(**PAYMENTS)
    async with start_bot(settings):
        invoice = await invoice_for(person, telegram, "10 credits for 50")
        # The bot answers the pre-checkout, then stops before the payment's message reaches it.
        paid = await telegram.user_pays(person.user_id, invoice, deliver=False)
        assert paid.paid and paid.charge_id is not None
    async with start_bot(settings) as bot:
        for _ in range(3):  # delivered, then delivered twice more
            telegram.deliver_payment(paid.charge_id)
        await person.wait_for_text("10 credits added; you have 10 now")
        # One line per person: /balance is answered after the duplicates were handled.
        await person.say("/balance")
        await person.wait_for_text("Your credits: 10")
        thanks = [m for m in telegram.bot_messages(person.user_id) if "credits added" in (m.text or "")]
        assert len(thanks) == 1
        entries = await bot.services.storage.ledger.entries(person.user_id)
        assert [(e.kind, e.amount, e.stars) for e in entries] == [(EntryKind.PURCHASE, 10, 50)]


async def test_a_pre_checkout_for_a_pack_whose_price_changed_is_refused_with_a_reason(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
) -> None:
    person = ScriptedPerson(telegram, 4202)
    async with start_bot(make_settings(**PAYMENTS)):
        invoice = await invoice_for(person, telegram, "10 credits for 50")
    async with start_bot(make_settings(STARS_PACKS="10:60,50:200")) as bot:
        refused = await telegram.user_pays(person.user_id, invoice)
        assert not refused.paid
        assert refused.error_message is not None and "price has changed" in refused.error_message
        assert await bot.services.storage.ledger.entries(person.user_id) == []


async def test_running_out_of_credits_offers_the_packs_and_buying_one_makes_the_song(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
) -> None:
    person = ScriptedPerson(telegram, 4203)
    async with start_bot(make_settings(**PAYMENTS)):
        await person.say("/generate a song I cannot pay for yet")
        await person.wait_for_text("Not enough credits")
        await person.press("10 credits for 50")
        await telegram.wait_for(lambda: bool(telegram.invoices_in(person.user_id)), timeout=10)
        [invoice] = telegram.invoices_in(person.user_id)
        assert (await telegram.user_pays(person.user_id, invoice.message_id)).paid
        await person.wait_for_text("you have 10 now")
        await person.say("/generate a song I paid for")
        await person.wait_for_audios(2)
        await person.say("/balance")
        await person.wait_for_text("Your credits: 9")


async def test_with_payments_off_buy_and_balance_say_so(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
) -> None:
    person = ScriptedPerson(telegram, 4204)
    async with start_bot(make_settings()):
        for command in ("/buy", "/balance"):
            await person.say(command)
            await person.wait_for_text("Payments are off")
        assert telegram.calls("sendInvoice") == []


async def test_an_admin_refund_reverses_exactly_its_purchase_and_spent_credits_need_force(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
) -> None:
    admin, person = ScriptedPerson(telegram, ADMIN), ScriptedPerson(telegram, 4205)
    async with start_bot(make_settings(STARS_PACKS="2:10", ADMIN_USER_IDS=str(ADMIN))) as bot:
        ledger = bot.services.storage.ledger
        charges = []
        for _ in range(2):
            invoice = await invoice_for(person, telegram, "2 credits for 10", stars=10)
            paid = await telegram.user_pays(person.user_id, invoice)
            assert paid.charge_id is not None
            charges.append(paid.charge_id)
            await person.wait_for_text("credits added")
        first, second = charges

        await admin.say(f"/refund {first}")
        await admin.wait_for_text(f"Refunded 10 ⭐ of payment {first} to user 4205; their credits: 2")
        assert telegram.star_payment(first).refunded and not telegram.star_payment(second).refunded
        await admin.say(f"/refund {first}")
        await admin.wait_for_text("was refunded already")
        assert len(telegram.calls("refundStarPayment")) == 1

        await person.say("/generate a song that spends a credit")
        await person.wait_for_audios(2)
        await admin.say(f"/refund {second}")
        await admin.wait_for_text("only 1 are left: they were spent")
        assert not telegram.star_payment(second).refunded
        await admin.say(f"/refund {second} force")
        await admin.wait_for_text("their credits: -1")
        refunds = [e for e in await ledger.entries(person.user_id) if e.kind is EntryKind.REFUND]
        assert sorted((e.key, e.amount, e.stars) for e in refunds) == sorted(
            [(f"refund:{first}", -2, 10), (f"refund:{second}", -2, 10)]
        )

        await person.say(f"/refund {first}")
        await person.wait_for_text("for the bot's admins")
        for command, text in (("/paysupport", "Trouble with a payment"), ("/terms", "Credits are bought")):
            await person.say(command)
            await person.wait_for_text(text)
