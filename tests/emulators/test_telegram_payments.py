"""The Telegram emulator's payments in Stars, driven by the real PTB Bot: as strict as the Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest
from telegram import Bot, LabeledPrice, TransactionPartnerUser, Update
from telegram.error import BadRequest

from emulators.telegram.payments import PaymentResult
from emulators.telegram.server import TelegramEmulator

CHAT = 42


@pytest.fixture
async def tg(tmp_path: Path) -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(files_dir=tmp_path / "files", per_chat_interval=0) as emulator:
        await emulator.user_sends_text(CHAT, "/buy")
        yield emulator


@pytest.fixture
async def bot(tg: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot") as ptb_bot:
        yield ptb_bot


async def next_payment_update(bot: Bot, offset: int | None = None) -> Update:
    """The next pre_checkout_query or successful_payment update, skipping (and confirming) the others."""
    async with asyncio.timeout(10):
        while True:
            for update in await bot.get_updates(offset=offset, timeout=5):
                offset = update.update_id + 1
                if update.pre_checkout_query or (update.message and update.message.successful_payment):
                    return update


async def invoice(bot: Bot, **overrides: object) -> int:
    fields: dict[str, object] = {
        "chat_id": CHAT,
        "title": "10 credits",
        "description": "Credits for songs",
        "payload": "pack:10:50:sig",
        "currency": "XTR",
        "prices": [LabeledPrice("10 credits", 50)],
    }
    fields.update(overrides)
    message = await bot.send_invoice(**fields)  # type: ignore[arg-type]
    return message.message_id


async def test_send_invoice_follows_the_rules_for_stars(bot: Bot, tg: TelegramEmulator) -> None:
    message_id = await invoice(bot)
    [sent] = tg.invoices_in(CHAT)
    assert (sent.message_id, sent.total_amount, sent.payload) == (message_id, 50, "pack:10:50:sig")
    for overrides, reason in (
        ({"currency": "USD"}, "Telegram Stars only"),
        ({"prices": [LabeledPrice("a", 50), LabeledPrice("b", 1)]}, "exactly one item"),
        ({"prices": [LabeledPrice("a", 0)]}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"title": "x" * 33}, "title is too long"),
        ({"payload": "p" * 129}, "PAYLOAD_INVALID"),
        ({"provider_token": "123:TEST"}, "PROVIDER_TOKEN_INVALID"),
        ({"max_tip_amount": 5}, "tips are not supported"),
    ):
        with pytest.raises(BadRequest, match=f"(?i){reason}"):
            await invoice(bot, **overrides)
    assert len(tg.invoices_in(CHAT)) == 1


async def test_a_payment_waits_for_the_pre_checkout_answer_then_arrives_once(
    bot: Bot, tg: TelegramEmulator
) -> None:
    message_id = await invoice(bot)
    paying = asyncio.create_task(tg.user_pays(CHAT, message_id))
    update = await next_payment_update(bot)
    query = update.pre_checkout_query
    assert query is not None and (query.currency, query.total_amount) == ("XTR", 50)
    assert query.invoice_payload == "pack:10:50:sig"
    with pytest.raises(BadRequest, match=r"(?i)ERROR_MESSAGE_EMPTY"):
        await bot.answer_pre_checkout_query(query.id, ok=False)
    assert await bot.answer_pre_checkout_query(query.id, ok=True)
    result = await paying
    assert result.paid and result.charge_id
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_pre_checkout_query(query.id, ok=True)
    paid = await next_payment_update(bot, update.update_id + 1)
    payment = paid.message.successful_payment if paid.message else None
    assert payment is not None and payment.telegram_payment_charge_id == result.charge_id
    assert await bot.refund_star_payment(CHAT, result.charge_id)
    with pytest.raises(BadRequest, match=r"(?i)CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(CHAT, result.charge_id)
    with pytest.raises(BadRequest, match=r"(?i)CHARGE_ID_INVALID"):
        await bot.refund_star_payment(CHAT, "stxNOSUCHCHARGE")


async def test_a_refused_or_late_pre_checkout_makes_no_payment(bot: Bot, tg: TelegramEmulator) -> None:
    message_id = await invoice(bot)
    paying = asyncio.create_task(tg.user_pays(CHAT, message_id))
    update = await next_payment_update(bot)
    assert update.pre_checkout_query is not None
    await bot.answer_pre_checkout_query(update.pre_checkout_query.id, ok=False, error_message="Price changed")
    refused = await paying
    assert (refused.paid, refused.error_message) == (False, "Price changed")

    tg.pre_checkout_timeout = 0.2  # Telegram's 10 s, shortened
    late = await tg.user_pays(CHAT, message_id)
    assert not late.paid and "did not answer" in (late.error_message or "")
    expired = (await next_payment_update(bot, update.update_id + 1)).pre_checkout_query
    assert expired is not None
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_pre_checkout_query(expired.id, ok=True)
    assert tg.star_payments == {}


async def pay(bot: Bot, tg: TelegramEmulator, paying: Awaitable[PaymentResult]) -> str:
    """Answer the payment's pre-checkout with yes; its charge id."""
    task = asyncio.ensure_future(paying)
    update = await next_payment_update(bot)
    assert update.pre_checkout_query is not None
    await bot.answer_pre_checkout_query(update.pre_checkout_query.id, ok=True)
    result = await task
    assert result.charge_id is not None
    # Confirm what was read, so the next call starts after it.
    await bot.get_updates(offset=update.update_id + 1, timeout=0)
    return result.charge_id


async def test_an_invoice_link_follows_the_same_rules_and_is_paid_from_the_payers_private_chat(
    bot: Bot, tg: TelegramEmulator
) -> None:
    fields: dict[str, object] = {
        "title": "10 credits",
        "description": "Credits for songs",
        "payload": "pack:10:50:sig",
        "currency": "XTR",
        "prices": [LabeledPrice("10 credits", 50)],
    }
    link = await bot.create_invoice_link(**fields)  # type: ignore[arg-type]
    assert link.startswith("https://t.me/$")
    for overrides, reason in (
        ({"currency": "EUR"}, "Telegram Stars only"),
        ({"prices": [LabeledPrice("a", 5), LabeledPrice("b", 5)]}, "exactly one item"),
        ({"provider_token": "123:TEST"}, "PROVIDER_TOKEN_INVALID"),
        ({"description": "d" * 256}, "description is too long"),
    ):
        with pytest.raises(BadRequest, match=f"(?i){reason}"):
            await bot.create_invoice_link(**{**fields, **overrides})  # type: ignore[arg-type]
    assert len(tg.invoice_links) == 1

    payer = 77  # never wrote to the bot: paying opens the chat
    charge = await pay(bot, tg, tg.user_pays_link(payer, link, deliver=False))
    assert tg.star_payment(charge).user_id == payer
    tg.deliver_payment(charge)
    paid = await next_payment_update(bot)
    assert paid.message is not None and paid.message.chat.id == payer
    assert paid.message.successful_payment is not None
    assert paid.message.successful_payment.invoice_payload == "pack:10:50:sig"


async def test_star_transactions_list_payments_and_refunds_in_order_and_page(
    bot: Bot, tg: TelegramEmulator
) -> None:
    first = await pay(bot, tg, tg.user_pays(CHAT, await invoice(bot), deliver=False))
    second = await pay(bot, tg, tg.user_pays(CHAT, await invoice(bot, payload="pack:2:9:sig"), deliver=False))
    await bot.refund_star_payment(CHAT, first)

    listed = (await bot.get_star_transactions()).transactions
    assert [(t.id, t.amount) for t in listed] == [(first, 50), (second, 50), (first, 50)]
    incoming, _, refund = listed
    assert isinstance(incoming.source, TransactionPartnerUser) and incoming.receiver is None
    assert incoming.source.user.id == CHAT and incoming.source.invoice_payload == "pack:10:50:sig"
    assert isinstance(refund.receiver, TransactionPartnerUser) and refund.source is None

    assert [t.id for t in (await bot.get_star_transactions(offset=1, limit=1)).transactions] == [second]
    assert (await bot.get_star_transactions(offset=3)).transactions == ()
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}):
        with pytest.raises(BadRequest, match=r"(?i)limit|offset"):
            await bot.get_star_transactions(**bad)  # type: ignore[arg-type]
