"""/buy, /balance and Telegram Stars payments: invoices, the pre-checkout answer, crediting a payment."""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, Update
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    PreCheckoutQueryHandler,
    filters,
)

from bot.access import may_use
from bot.i18n import Texts
from bot.payments.invoices import CURRENCY, InvoiceSigner, pack_for, still_offered
from bot.payments.purchases import credit, purchase_key, refund_key, reverse, thank
from bot.payments.referrals import ReferralCodes
from bot.services import BotContext, Services, services_of
from bot.settings import StarsPack
from bot.tasks.retry import until_stored
from handlers.common import person_of, reply, texts_of
from storage.models import Person

log = logging.getLogger(__name__)

RECENT_ENTRIES = 5
# Of Telegram's 10 s for a pre-checkout answer, what reading the person's access may take.
PERSON_READ_SECONDS = 3.0


def _signer(services: Services) -> InvoiceSigner:
    return InvoiceSigner(services.signer.derive("invoices"))


def _referral_codes(services: Services) -> ReferralCodes:
    return ReferralCodes(services.signer.derive("referrals"))


def _referrals_on(services: Services) -> bool:
    return services.settings.payments_on and services.settings.referral_credits > 0


async def note_referral(update: Update, context: BotContext, parameter: str) -> None:
    """`/start ref_<code>`: a newcomer came through someone's link; both earn credits at their first song."""
    services = services_of(context)
    if not _referrals_on(services):
        return
    referrer = _referral_codes(services).read(parameter)
    person = await person_of(update, context)
    if referrer is None or not await services.storage.people.get(referrer):
        return
    credits = services.settings.referral_credits
    if await services.storage.ledger.refer(person.user_id, referrer, credits, now=time.time()):
        await reply(update, Texts(person.locale)("referral.welcome", credits=credits))


def packs_keyboard(texts: Texts, packs: tuple[StarsPack, ...]) -> InlineKeyboardMarkup:
    """One button per pack: shown by /buy and wherever a person's credits run out."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts("pay.pack", credits=p.credits, stars=p.stars), callback_data=f"buy:{p.credits}"
                )
            ]
            for p in packs
        ]
    )


async def offer_packs(update: Update, context: BotContext, texts: Texts, text: str) -> None:
    """Reply with `text` and the packs: buttons sending an invoice in a private chat, and in a group
    buttons opening invoice links, since an invoice posted there would be everyone's to pay and to see.
    Whoever pays a link is credited (Telegram names the payer), so a link is safe to share."""
    services = services_of(context)
    packs = services.settings.stars_packs
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.PRIVATE:
        await reply(update, text, reply_markup=packs_keyboard(texts, packs))
        return
    signer = _signer(services)
    links = [
        await context.bot.create_invoice_link(
            title=texts("pay.title", credits=p.credits),
            description=texts("pay.description", credits=p.credits, stars=p.stars),
            payload=signer.payload(p),
            currency=CURRENCY,
            prices=[LabeledPrice(texts("pay.title", credits=p.credits), p.stars)],
        )
        for p in packs
    ]
    buttons = [
        [InlineKeyboardButton(texts("pay.pack", credits=p.credits, stars=p.stars), url=link)]
        for p, link in zip(packs, links, strict=True)
    ]
    await reply(update, text, reply_markup=InlineKeyboardMarkup(buttons))


async def buy(update: Update, context: BotContext) -> None:
    services = services_of(context)
    texts = Texts((await person_of(update, context)).locale)
    if not services.settings.stars_packs:
        await reply(update, texts("credits.off"))
        return
    await offer_packs(update, context, texts, texts("pay.choose"))


async def buy_chosen(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    services = services_of(context)
    texts = Texts((await person_of(update, context)).locale)
    pack = pack_for(services.settings.stars_packs, int(query.data.removeprefix("buy:")))
    if pack is None:
        await query.answer(texts("pay.pack_gone"))
        return
    await query.answer()
    chat = update.effective_chat
    assert chat is not None
    await context.bot.send_invoice(
        chat_id=chat.id,
        title=texts("pay.title", credits=pack.credits),
        description=texts("pay.description", credits=pack.credits, stars=pack.stars),
        payload=_signer(services).payload(pack),
        currency=CURRENCY,
        prices=[LabeledPrice(texts("pay.title", credits=pack.credits), pack.stars)],
    )


async def pre_checkout(update: Update, context: BotContext) -> None:
    """Telegram waits 10 s for this answer: it reads the settings and one row, so it is never slow."""
    query = update.pre_checkout_query
    assert query is not None
    services = services_of(context)
    texts = Texts(query.from_user.language_code)
    priced = _signer(services).read(query.invoice_payload)
    if priced is None or query.currency != CURRENCY or query.total_amount != priced.stars:
        await query.answer(ok=False, error_message=texts("pay.refused"))
    elif not still_offered(services.settings.stars_packs, priced):
        await query.answer(ok=False, error_message=texts("pay.price_changed"))
    elif not await _may_pay(services, query.from_user.id):
        # An invoice sent (or a link shared) before the person was blocked: credits they cannot spend.
        await query.answer(ok=False, error_message=texts("pay.not_allowed"))
    else:
        await query.answer(ok=True)
    raise ApplicationHandlerStop  # nothing else is to look at a payment


async def _may_pay(services: Services, user_id: int) -> bool:
    """The access rules of handlers/access.py, for someone paying (who may not have written to us yet)."""
    now = time.time()
    try:
        async with asyncio.timeout(PERSON_READ_SECONDS):
            person = await services.storage.people.get(user_id)
    except TimeoutError:
        # Telegram's deadline first: the operator's lists still apply, an admin's /block waits for later.
        log.warning("pre-checkout of user %s answered without their stored access (slow database)", user_id)
        person = None
    return may_use(person or Person(user_id=user_id, created_at=now, last_seen_at=now), services.settings)


async def paid(update: Update, context: BotContext) -> None:
    """Credit a payment once: its charge id is the entry's key, so a duplicate update writes nothing.

    The money has moved already: a write the database refuses (busy, locked) is retried until it lands,
    and a process that dies first leaves it to the reconciliation (bot/payments/reconcile.py)."""
    message = update.message
    assert message is not None and message.successful_payment is not None
    payment = message.successful_payment
    services = services_of(context)
    user = message.from_user
    assert user is not None
    charge_id = payment.telegram_payment_charge_id
    priced = _signer(services).read(payment.invoice_payload)
    if priced is None:  # Telegram confirmed a payment for an invoice we did not sign: an operator's matter
        log.error("payment %s names no pack of ours", charge_id)
        raise ApplicationHandlerStop
    ledger = services.storage.ledger
    credited = await until_stored(
        lambda: credit(
            ledger, user_id=user.id, priced=priced, charge_id=charge_id, stars=payment.total_amount
        ),
        what=f"payment {charge_id} of {payment.total_amount} stars by user {user.id} arrived",
    )
    if credited:
        await thank(context.bot, ledger, services.storage.people, user_id=user.id, credits=priced.credits)
    raise ApplicationHandlerStop


async def balance(update: Update, context: BotContext) -> None:
    services = services_of(context)
    person = await person_of(update, context)
    texts = Texts(person.locale)
    if not services.settings.payments_on:
        await reply(update, texts("credits.off"))
        return
    ledger = services.storage.ledger
    await ledger.grant_free(person.user_id, services.settings.free_credits, now=time.time())
    lines = [
        texts(
            "credits.balance",
            balance=await ledger.balance(person.user_id),
            held=await ledger.held(person.user_id),
        )
    ]
    entries = await ledger.entries(person.user_id, limit=RECENT_ENTRIES)
    lines.append(texts("credits.recent") if entries else texts("credits.none_yet"))
    lines += [f"{e.amount:+d} · {texts(f'credits.kind.{e.kind.value}')} · {e.reason}" for e in entries]
    if _referrals_on(services):
        code = _referral_codes(services).code(person.user_id)
        link = f"https://t.me/{context.bot.username}?start={code}"
        lines.append(texts("referral.link", link=link, credits=services.settings.referral_credits))
    await offer_packs(update, context, texts, "\n".join(lines))


async def refund(update: Update, context: BotContext) -> None:
    """`/refund <charge id> [force]` (admins): refund a payment in Stars and reverse its credits.

    Refused when the person has fewer credits left than the payment bought (they spent them), unless
    forced: then the balance may go below zero and their next songs wait until it is topped up."""
    services = services_of(context)
    texts = await texts_of(update, context)
    args = context.args or []
    if not services.settings.payments_on:
        await reply(update, texts("credits.off"))
        return
    if not 1 <= len(args) <= 2 or len(args[0]) > 128 or args[1:] not in ([], ["force"]):
        await reply(update, texts("refund.usage"))
        return
    charge_id, force = args[0], args[1:] == ["force"]
    ledger = services.storage.ledger
    purchase = await ledger.by_key(purchase_key(charge_id))
    if purchase is None:
        await reply(update, texts("refund.unknown", charge=charge_id))
        return
    if await ledger.by_key(refund_key(charge_id)) is not None:
        await reply(update, texts("refund.already", charge=charge_id))
        return
    left = await ledger.balance(purchase.user_id)
    if left < purchase.amount and not force:
        await reply(update, texts("refund.spent", charge=charge_id, credits=purchase.amount, balance=left))
        return
    try:
        await context.bot.refund_star_payment(purchase.user_id, charge_id)
    except BadRequest as error:
        # Refunded before, with the entry not written (a crash in between): the reversal is still due.
        if "CHARGE_ALREADY_REFUNDED" not in error.message.upper():
            await reply(update, texts("refund.failed", charge=charge_id, reason=error.message))
            return
    await until_stored(
        lambda: reverse(ledger, purchase, charge_id),
        what=f"payment {charge_id} of user {purchase.user_id} was refunded in Telegram",
    )
    balance = await ledger.balance(purchase.user_id)
    await reply(
        update,
        texts(
            "refund.done",
            charge=charge_id,
            stars=purchase.stars or 0,
            user_id=purchase.user_id,
            balance=balance,
        ),
    )


async def paysupport(update: Update, context: BotContext) -> None:
    await _payments_text(update, context, "pay.support")


async def terms(update: Update, context: BotContext) -> None:
    await _payments_text(update, context, "pay.terms")


async def _payments_text(update: Update, context: BotContext, key: str) -> None:
    texts = await texts_of(update, context)
    on = services_of(context).settings.payments_on
    await reply(update, texts(key) if on else texts("credits.off"))


def payment_updates() -> list[BaseHandler]:  # type: ignore[type-arg]
    """For a group before every other: a payment is answered and credited whatever else is going on."""
    return [
        PreCheckoutQueryHandler(pre_checkout),
        MessageHandler(filters.SUCCESSFUL_PAYMENT, paid),
    ]


def payment_commands() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [
        CommandHandler("buy", buy),
        CommandHandler("balance", balance),
        CommandHandler("paysupport", paysupport),
        CommandHandler("terms", terms),
        CallbackQueryHandler(buy_chosen, pattern=r"^buy:[0-9]{1,9}$"),
    ]
