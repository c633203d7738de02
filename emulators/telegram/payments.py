"""Payments in Telegram Stars in the Telegram emulator: invoices, pre-checkout, payments and refunds.

``PaymentActions`` is mixed into ``TelegramEmulator``, as strict as telegram-bot-api.json:

- ``sendInvoice``: title 1-32 characters, description 1-255, payload 1-128 bytes; in Stars (``XTR``)
  ``provider_token`` must be empty and ``prices`` exactly one ``LabeledPrice`` with a positive amount;
  no tips. The message carries an ``Invoice``.
- ``user_pays(user_id, message_id)``: the person pays an invoice. Telegram sends a ``pre_checkout_query``
  update and waits ``pre_checkout_timeout`` (10 s, as the Bot API says) for ``answerPreCheckoutQuery``;
  on ``ok=True`` the payment goes through and a message with ``successful_payment`` arrives. Returns a
  ``PaymentResult`` saying which (and the refusal's ``error_message``, shown to the person).
  With ``deliver=False`` the payment is made but its message waits for ``deliver_payment(charge_id)``
  (a bot restarted in between); ``deliver_payment`` again delivers a duplicate.
- ``createInvoiceLink``: the same rules as ``sendInvoice`` (no chat); returns a ``https://t.me/$…``
  link that anyone may open: ``user_pays_link(user_id, link)`` pays it like ``user_pays``, the
  ``successful_payment`` arriving in the payer's private chat with the bot.
- ``refundStarPayment``: refunds a payment once (``CHARGE_ALREADY_REFUNDED`` after that, and
  ``CHARGE_ID_INVALID`` for one this person never made).
- ``getStarTransactions``: the bot's transactions in chronological order, ``offset`` skipped and at most
  ``limit`` (1-100, default 100) returned: each payment as an incoming ``StarTransaction`` whose ``id`` is
  its charge id and whose ``source`` is a ``TransactionPartnerUser`` with the invoice payload, and each
  refund as an outgoing one with the same ``id`` and the person as ``receiver``. A payment is a
  transaction as soon as Telegram takes it, whether or not its update ever reaches the bot.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emulators.telegram.requests import ApiCall
from emulators.telegram.state import (
    ChatInfo,
    ChatMessage,
    ChatStore,
    EventKind,
    bad_request,
    check_markup,
)

PRE_CHECKOUT_TIMEOUT = 10.0  # "The Bot API must receive an answer within 10 seconds"
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"


@dataclass
class Invoice:
    chat_id: int  # 0 for an invoice link (it is in no chat)
    message_id: int  # 0 for an invoice link
    title: str
    payload: str
    currency: str
    total_amount: int


@dataclass
class PreCheckout:
    query_id: str
    invoice: Invoice
    user_id: int
    sent_at: float
    answer: asyncio.Future[tuple[bool, str | None]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


@dataclass
class StarPayment:
    user_id: int
    charge_id: str
    invoice: Invoice
    message_raw: dict[str, Any]
    refunded: bool = False


@dataclass(frozen=True)
class PaymentResult:
    paid: bool
    charge_id: str | None = None
    error_message: str | None = None  # the bot's refusal, or why Telegram gave up (no answer in time)


class PaymentActions:
    """See the module docstring."""

    store: ChatStore
    pre_checkout_timeout: float = PRE_CHECKOUT_TIMEOUT
    _enqueue_update: Callable[[str, dict[str, Any]], None]
    _emit: Callable[[EventKind, int, ChatMessage | None, str | None], None]
    _admit: Callable[[ApiCall], None]
    _ensure_chat: Callable[[int, str | None, str | None], ChatInfo]

    def _payments_init(self) -> None:
        self.invoices: dict[tuple[int, int], Invoice] = {}
        self.invoice_links: dict[str, Invoice] = {}
        self.star_payments: dict[str, StarPayment] = {}
        self.pre_checkouts: dict[str, PreCheckout] = {}
        self.star_transactions: list[dict[str, Any]] = []
        self._next_charge = 1

    def _payment_methods(self) -> dict[str, Callable[[ApiCall], Any]]:
        return {
            "sendInvoice": self._send_invoice,
            "createInvoiceLink": self._create_invoice_link,
            "answerPreCheckoutQuery": self._answer_pre_checkout_query,
            "refundStarPayment": self._refund_star_payment,
            "getStarTransactions": self._get_star_transactions,
        }

    # ---- methods ---------------------------------------------------------------------------------

    async def _send_invoice(self, call: ApiCall) -> Any:
        params = call.params
        assert call.chat is not None
        title, amount = _check_stars_invoice(params)
        markup = check_markup(params.get("reply_markup"), inline_only=True)
        self._admit(call)
        message = self.store.add_bot_message(call.chat, text=title, entities=[], markup=markup, reply_to=None)
        message.raw.pop("text", None)
        message.raw["invoice"] = {
            "title": title,
            "description": params["description"],
            "start_parameter": params.get("start_parameter", ""),
            "currency": params["currency"],
            "total_amount": amount,
        }
        self.invoices[(call.chat.id, message.message_id)] = Invoice(
            call.chat.id, message.message_id, title, params["payload"], params["currency"], amount
        )
        self._emit("bot_message", call.chat.id, message, title)
        return message.raw

    async def _create_invoice_link(self, call: ApiCall) -> Any:
        params = call.params
        if "subscription_period" in params:
            raise bad_request("the emulator does not sell subscriptions")
        title, amount = _check_stars_invoice(params)
        link = f"https://t.me/${secrets.token_urlsafe(12)}"
        self.invoice_links[link] = Invoice(0, 0, title, params["payload"], params["currency"], amount)
        return link

    async def _get_star_transactions(self, call: ApiCall) -> Any:
        offset = call.params.get("offset", 0)
        limit = call.params.get("limit", 100)
        if offset < 0:
            raise bad_request("offset must be non-negative")
        if not 1 <= limit <= 100:
            raise bad_request("limit must be between 1 and 100")
        return {"transactions": [dict(t) for t in self.star_transactions[offset : offset + limit]]}

    async def _answer_pre_checkout_query(self, call: ApiCall) -> Any:
        params = call.params
        query = self.pre_checkouts.get(params["pre_checkout_query_id"])
        if query is None or query.answer.done():
            raise bad_request(_QUERY_TOO_OLD)
        if time.monotonic() - query.sent_at > self.pre_checkout_timeout:
            raise bad_request(_QUERY_TOO_OLD)
        ok = params["ok"]
        error = params.get("error_message")
        if not ok and not error:
            raise bad_request("ERROR_MESSAGE_EMPTY: error_message is required when ok is False")
        query.answer.set_result((bool(ok), error if not ok else None))
        return True

    async def _refund_star_payment(self, call: ApiCall) -> Any:
        params = call.params
        payment = self.star_payments.get(params["telegram_payment_charge_id"])
        if payment is None or payment.user_id != params["user_id"]:
            raise bad_request("CHARGE_ID_INVALID")
        if payment.refunded:
            raise bad_request("CHARGE_ALREADY_REFUNDED")
        payment.refunded = True
        self.star_transactions.append(
            {
                "id": payment.charge_id,
                "amount": payment.invoice.total_amount,
                "date": int(time.time()),
                "receiver": {
                    "type": "user",
                    "transaction_type": "invoice_payment",
                    "user": self.store.people[payment.user_id].user_dict(),
                },
            }
        )
        return True

    # ---- what people do --------------------------------------------------------------------------

    async def user_pays(self, user_id: int, message_id: int, *, deliver: bool = True) -> PaymentResult:
        """The person pays the invoice `message_id` in their private chat; see the module docstring."""
        invoice = self.invoices.get((user_id, message_id))
        if invoice is None or user_id not in self.store.people:
            raise ValueError(f"chat {user_id} has no invoice {message_id}")
        return await self._pay(user_id, invoice, deliver=deliver)

    async def user_pays_link(self, user_id: int, link: str, *, deliver: bool = True) -> PaymentResult:
        """The person opens an invoice link (from any chat) and pays it; see the module docstring."""
        invoice = self.invoice_links.get(link)
        if invoice is None:
            raise ValueError(f"no invoice link {link}")
        # Paying opens the person's private chat with the bot: the payment's message arrives there.
        self._ensure_chat(user_id, None, None)
        return await self._pay(user_id, invoice, deliver=deliver)

    async def _pay(self, user_id: int, invoice: Invoice, *, deliver: bool) -> PaymentResult:
        person = self.store.people[user_id]
        query = PreCheckout(f"pcq-{len(self.pre_checkouts) + 1}", invoice, user_id, time.monotonic())
        self.pre_checkouts[query.query_id] = query
        self._enqueue_update(
            "pre_checkout_query",
            {
                "id": query.query_id,
                "from": person.user_dict(),
                "currency": invoice.currency,
                "total_amount": invoice.total_amount,
                "invoice_payload": invoice.payload,
            },
        )
        try:
            ok, error = await asyncio.wait_for(asyncio.shield(query.answer), self.pre_checkout_timeout)
        except TimeoutError:
            query.answer.cancel()
            return PaymentResult(False, error_message="the bot did not answer within 10 s")
        if not ok:
            return PaymentResult(False, error_message=error)
        charge_id = f"stxCHARGE{self._next_charge:06d}"
        self._next_charge += 1
        chat = self.store.chats[user_id]
        raw = self.store.user_message_raw(chat)
        raw["successful_payment"] = {
            "currency": invoice.currency,
            "total_amount": invoice.total_amount,
            "invoice_payload": invoice.payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        }
        message = self.store.add_message(chat, raw, from_bot=False, text=None)
        self.star_payments[charge_id] = StarPayment(user_id, charge_id, invoice, raw)
        self.star_transactions.append(
            {
                "id": charge_id,
                "amount": invoice.total_amount,
                "date": raw["date"],
                "source": {
                    "type": "user",
                    "transaction_type": "invoice_payment",
                    "user": person.user_dict(),
                    "invoice_payload": invoice.payload,
                },
            }
        )
        self._emit("user_message", chat.id, message, None)
        if deliver:
            self.deliver_payment(charge_id)
        return PaymentResult(True, charge_id=charge_id)

    def deliver_payment(self, charge_id: str) -> None:
        """Deliver a payment's successful_payment message (again: a duplicated update)."""
        self._enqueue_update("message", dict(self.star_payments[charge_id].message_raw))

    def invoices_in(self, chat_id: int) -> list[Invoice]:
        return [i for (chat, _), i in self.invoices.items() if chat == chat_id]

    def star_payment(self, charge_id: str) -> StarPayment:
        return self.star_payments[charge_id]


def _check_stars_invoice(params: dict[str, Any]) -> tuple[str, int]:
    """The title and price of an invoice in Stars (sendInvoice, createInvoiceLink), or the API's refusal."""
    title, description, payload = params["title"], params["description"], params["payload"]
    if not 1 <= len(title) <= 32:
        raise bad_request("INVOICE_TITLE_EMPTY" if not title else "title is too long")
    if not 1 <= len(description) <= 255:
        raise bad_request("INVOICE_DESCRIPTION_EMPTY" if not description else "description is too long")
    if not 1 <= len(payload.encode()) <= 128:
        raise bad_request("PAYLOAD_INVALID")
    currency = params["currency"]
    if currency != "XTR":
        raise bad_request("the emulator takes payments in Telegram Stars only (currency XTR)")
    if params.get("provider_token"):
        raise bad_request("PROVIDER_TOKEN_INVALID: payments in Telegram Stars take an empty provider_token")
    if "max_tip_amount" in params or "suggested_tip_amounts" in params:
        raise bad_request("tips are not supported for payments in Telegram Stars")
    prices = params["prices"]
    if not isinstance(prices, list) or len(prices) != 1:
        raise bad_request("prices must contain exactly one item for payments in Telegram Stars")
    price = prices[0]
    if not isinstance(price, dict) or not isinstance(price.get("label"), str) or not price["label"]:
        raise bad_request("can't parse prices JSON object")
    amount = price.get("amount")
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    return title, amount
