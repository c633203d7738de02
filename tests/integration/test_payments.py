"""Buying credits with Telegram Stars through the real bot and the emulator's payments."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import aiohttp

from bot.settings import Settings
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
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


async def test_buy_in_a_group_answers_with_invoice_links_that_credit_whoever_pays(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
) -> None:
    group, asker, payer = -1004200000001, 4206, 4207
    async with start_bot(make_settings(**PAYMENTS)) as bot:
        telegram.create_group(group, added_by=asker)
        await telegram.user_sends_text(asker, "/buy@music_test_bot", chat_id=group)
        await telegram.wait_for(lambda: any(m.inline_markup for m in telegram.bot_messages(group)))
        [offer] = [m for m in telegram.bot_messages(group) if m.inline_markup]
        buttons = {b["text"]: b for row in offer.inline_markup["inline_keyboard"] for b in row}
        assert set(buttons) == {"10 credits for 50 ⭐", "50 credits for 200 ⭐"}
        assert all("callback_data" not in b for b in buttons.values())  # links, not invoices for all
        assert telegram.calls("sendInvoice") == []
        link = buttons["10 credits for 50 ⭐"]["url"]
        paid = await telegram.user_pays_link(payer, link)
        assert paid.paid
        await telegram.wait_for(
            lambda: any("you have 10 now" in (m.text or "") for m in telegram.bot_messages(payer))
        )
        ledger = bot.services.storage.ledger
        assert (await ledger.balance(payer), await ledger.balance(asker)) == (10, 0)


async def test_a_blocked_person_cannot_pay_an_invoice_sent_before_the_block(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
) -> None:
    admin, person = ScriptedPerson(telegram, ADMIN), ScriptedPerson(telegram, 4208)
    async with start_bot(make_settings(**PAYMENTS, ADMIN_USER_IDS=str(ADMIN))) as bot:
        invoice = await invoice_for(person, telegram, "10 credits for 50")
        await admin.say(f"/block {person.user_id}")
        await admin.wait_for_text("is blocked")
        refused = await telegram.user_pays(person.user_id, invoice)
        assert not refused.paid
        assert refused.error_message == "You cannot buy credits here: the bot's operator has not let you in."
        assert telegram.star_payments == {}
        assert await bot.services.storage.ledger.entries(person.user_id) == []
    # The operator's list counts as well, for someone who never wrote to the bot and pays a group's link.
    group, member, outsider = -1004200000002, 4212, 4209
    async with start_bot(make_settings(**PAYMENTS, ALLOWED_USER_IDS=str(member))):
        telegram.create_group(group, added_by=member)
        await telegram.user_sends_text(member, "/buy@music_test_bot", chat_id=group)
        await telegram.wait_for(lambda: any(m.inline_markup for m in telegram.bot_messages(group)))
        offer = next(m for m in telegram.bot_messages(group) if m.inline_markup)
        link = offer.inline_markup["inline_keyboard"][0][0]["url"]
        refused = await telegram.user_pays_link(outsider, link)
        assert not refused.paid and "not let you in" in (refused.error_message or "")


async def test_forget_keeps_the_ledger_without_the_persons_name_and_says_so(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
) -> None:
    person = ScriptedPerson(telegram, 4210, first_name="Zebulon")
    async with start_bot(make_settings(**PAYMENTS, FREE_CREDITS="1")) as bot:
        invoice = await invoice_for(person, telegram, "10 credits for 50")
        assert (await telegram.user_pays(person.user_id, invoice)).paid
        await person.wait_for_text("credits added")
        await person.say("/generate a song to remember")
        await person.wait_for_audios(2)
        await person.say("/forget")
        await person.wait_for_text("Your credit records (purchases, refunds, credits spent) stay")
        await person.press("Delete my data")
        await telegram.wait_for(
            lambda: any("Done: I deleted" in (m.text or "") for m in telegram.bot_messages(person.user_id))
        )
        storage = bot.services.storage
        entries = await storage.ledger.entries(person.user_id)
        assert sorted(e.kind for e in entries) == sorted(
            [EntryKind.GRANT, EntryKind.PURCHASE, EntryKind.HOLD, EntryKind.SETTLE]
        )
        assert await storage.ledger.balance(person.user_id) == 10
        rows = await storage.db.fetchall("SELECT * FROM ledger")
        kept = " ".join(str(value) for row in rows for value in tuple(row))
        assert "Zebulon" not in kept and "remember" not in kept


async def test_stats_and_metrics_show_the_days_stars_refunds_and_credits(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    admin, person = ScriptedPerson(telegram, ADMIN), ScriptedPerson(telegram, 4211)
    async with start_bot(make_settings(**PAYMENTS, ADMIN_USER_IDS=str(ADMIN))) as bot:
        charges = []
        for pack, stars in (("10 credits for 50", 50), ("50 credits for 200", 200)):
            paid = await telegram.user_pays(
                person.user_id, await invoice_for(person, telegram, pack, stars=stars)
            )
            assert paid.charge_id is not None
            charges.append(paid.charge_id)
            await person.wait_for_text(f"you have {10 if stars == 50 else 60} now")
        await admin.say(f"/refund {charges[0]}")
        await admin.wait_for_text("Refunded 50 ⭐")
        await person.say("/generate a song that is paid for")
        await person.wait_for_audios(2)
        provider.script(hold=True)
        await person.say("/generate a song still being made")
        await provider.wait_for(lambda: len(provider.tasks) == 2 and provider.last_task.held, timeout=10)

        await admin.say("/stats")
        await admin.wait_for_text(
            "Payments today: 250 ⭐ from 2 purchases; refunds: 1 (50 ⭐). "
            "Credits spent today: 1; held now: 1."
        )
        async with aiohttp.ClientSession() as http, http.get(f"{bot.url}/metrics") as response:
            metrics = await response.text()
        for line in (
            "bot_star_purchases_total 2.0",
            "bot_star_purchase_stars_total 250.0",
            "bot_star_refunds_total 1.0",
            "bot_star_refund_stars_total 50.0",
            "bot_credits_spent_total 1.0",
            "bot_credits_held 1.0",
        ):
            assert line in metrics.splitlines(), line
        provider.release(provider.last_task.task_id)
