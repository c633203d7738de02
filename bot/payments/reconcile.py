"""Reconciliation with Telegram's own record of the bot's Stars, so that no paid Star is ever lost.

A `successful_payment` update can fail to become a ledger entry: the process dies between Telegram's
answer and our write, or the write keeps failing. Telegram's transaction list (getStarTransactions)
still has the payment, with its charge id (the ledger's key), its payer and the signed invoice payload
(the pack). Every incoming invoice payment not in the ledger yet is credited from there, and every
refund Telegram made whose reversal is not in the ledger (a /refund cut short after Telegram's answer)
is written. Both are keyed entries, so running this again, or in two replicas at once, changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, StarTransaction, TransactionPartnerUser

from bot.payments.invoices import InvoiceSigner
from bot.payments.purchases import credit, purchase_key, reverse, thank
from storage.ledger import LedgerRepository
from storage.people import PeopleRepository

log = logging.getLogger(__name__)

PAGE = 100  # getStarTransactions' largest page


@dataclass
class Reconciled:
    seen: int = 0  # transactions read
    credited: int = 0  # payments whose update never became an entry, credited now
    refunds: int = 0  # refunds whose reversal was missing, written now
    unsigned: int = 0  # payments for invoices the bot did not sign: left to the operator


async def transactions(bot: Bot) -> list[StarTransaction]:
    """All of the bot's transactions, page by page.

    All, not from a remembered offset: a payment lost a month ago is as much owed as one lost today,
    and the API promises an order but the reading does not need to rely on it."""
    found: list[StarTransaction] = []
    while True:
        page = (await bot.get_star_transactions(offset=len(found), limit=PAGE)).transactions
        found.extend(page)
        if len(page) < PAGE:
            return found


async def reconcile(
    bot: Bot, ledger: LedgerRepository, people: PeopleRepository, signer: InvoiceSigner
) -> Reconciled:
    listed = await transactions(bot)
    done = Reconciled(seen=len(listed))
    refunded = {t.id for t in listed if _with_user(t.receiver)}
    for transaction in listed:
        source = transaction.source
        if not isinstance(source, TransactionPartnerUser) or source.transaction_type != "invoice_payment":
            continue
        charge_id, user_id = transaction.id, source.user.id
        if charge_id in refunded:
            await _reverse(ledger, charge_id, done)
            continue
        priced = signer.read(source.invoice_payload or "")
        if priced is None:
            done.unsigned += 1
            log.error("payment %s names no pack of ours: not credited", charge_id)
            continue
        if await ledger.by_key(purchase_key(charge_id)) is not None:
            continue
        if await credit(
            ledger, user_id=user_id, priced=priced, charge_id=charge_id, stars=transaction.amount
        ):
            done.credited += 1
            log.warning(
                "payment %s of %d stars by user %s had not been credited: credited %d credits now",
                charge_id,
                transaction.amount,
                user_id,
                priced.credits,
            )
            await thank(bot, ledger, people, user_id=user_id, credits=priced.credits)
    if done.credited or done.refunds or done.unsigned:
        log.info(
            "reconciled %d star transactions: %d payments credited, %d refunds written, %d unsigned",
            done.seen,
            done.credited,
            done.refunds,
            done.unsigned,
        )
    return done


def _with_user(partner: object) -> bool:
    return isinstance(partner, TransactionPartnerUser)


async def _reverse(ledger: LedgerRepository, charge_id: str, done: Reconciled) -> None:
    """A refunded payment: never credited now; if it was credited, its reversal is due."""
    purchase = await ledger.by_key(purchase_key(charge_id))
    if purchase is not None and await reverse(ledger, purchase, charge_id):
        done.refunds += 1
        log.warning("payment %s was refunded in Telegram but not in the ledger: reversed now", charge_id)
