"""Crediting a payment in Stars: one ledger entry keyed by Telegram's charge id, whoever writes it first.

The `successful_payment` handler and the reconciliation (bot/payments/reconcile.py) both come here, so a
payment seen by both is credited once, and the person is thanked by whichever wrote the entry.
"""

from __future__ import annotations

import logging
import time

from telegram import Bot
from telegram.error import TelegramError

from bot.i18n import Texts
from bot.payments.invoices import Priced
from storage.ledger import Entry, EntryKind, LedgerRepository
from storage.people import PeopleRepository

log = logging.getLogger(__name__)


def purchase_key(charge_id: str) -> str:
    return f"purchase:{charge_id}"


def refund_key(charge_id: str) -> str:
    return f"refund:{charge_id}"


async def credit(
    ledger: LedgerRepository, *, user_id: int, priced: Priced, charge_id: str, stars: int
) -> bool:
    """Write the purchase; False when this charge was credited before (by either path)."""
    return await ledger.append(
        user_id=user_id,
        kind=EntryKind.PURCHASE,
        amount=priced.credits,
        reason=f"{stars} stars",
        key=purchase_key(charge_id),
        now=time.time(),
        stars=stars,
    )


async def thank(
    bot: Bot, ledger: LedgerRepository, people: PeopleRepository, *, user_id: int, credits: int
) -> None:
    """Tell the person their credits arrived, in their private chat (where Telegram put the payment)."""
    person = await people.get(user_id)
    texts = Texts(person.locale if person else None)
    balance = await ledger.balance(user_id)
    try:
        await bot.send_message(user_id, texts("pay.thanks", credits=credits, balance=balance))
    except TelegramError as error:  # the credit is what matters; /balance shows it whenever they look
        log.warning("could not thank user %s for a payment: %s", user_id, error)


async def reverse(ledger: LedgerRepository, purchase: Entry, charge_id: str) -> bool:
    """Write a refunded purchase's reversal; False when it was written before."""
    return await ledger.append(
        user_id=purchase.user_id,
        kind=EntryKind.REFUND,
        amount=-purchase.amount,
        reason=f"refund of {purchase.stars} stars",
        key=refund_key(charge_id),
        now=time.time(),
        stars=purchase.stars,
    )
