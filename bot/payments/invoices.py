"""Invoice payloads in Telegram Stars: signed, so a payment names a pack the bot itself offered.

A payload is `pack:<credits>:<stars>:<mac>` (well under Telegram's 128 bytes). The MAC is keyed by a value
derived from the bot's secret, so nobody can make the bot credit a pack it never priced that way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from bot.settings import StarsPack

CURRENCY = "XTR"  # Telegram Stars
_PAYLOAD = re.compile(r"pack:([1-9][0-9]{0,8}):([1-9][0-9]{0,8}):([A-Za-z0-9_-]{22})")


@dataclass(frozen=True)
class Priced:
    """What a payload says was sold: `credits` for `stars`."""

    credits: int
    stars: int


class InvoiceSigner:
    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def _mac(self, credits: int, stars: int) -> str:
        digest = hmac.new(self._key, f"pack:{credits}:{stars}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:22]

    def payload(self, pack: StarsPack) -> str:
        return f"pack:{pack.credits}:{pack.stars}:{self._mac(pack.credits, pack.stars)}"

    def read(self, payload: str) -> Priced | None:
        """The pack a payload names, or None for one the bot did not sign."""
        match = _PAYLOAD.fullmatch(payload)
        if match is None:
            return None
        credits, stars = int(match.group(1)), int(match.group(2))
        if not hmac.compare_digest(match.group(3), self._mac(credits, stars)):
            return None
        return Priced(credits, stars)


def pack_for(packs: tuple[StarsPack, ...], credits: int) -> StarsPack | None:
    return next((p for p in packs if p.credits == credits), None)


def still_offered(packs: tuple[StarsPack, ...], priced: Priced) -> bool:
    """The pack is still sold at the price the invoice showed (prices may change between the two)."""
    pack = pack_for(packs, priced.credits)
    return pack is not None and pack.stars == priced.stars
