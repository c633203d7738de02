"""Referral codes for `https://t.me/<bot>?start=ref_<code>`: a person's id with a MAC, so nobody can
claim to have been brought by someone who never shared a link."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

PREFIX = "ref_"
_CODE = re.compile(r"([0-9a-z]{1,13})_([A-Za-z0-9_-]{10})")


class ReferralCodes:
    def __init__(self, key: str) -> None:
        self._key = key.encode()

    def _mac(self, user_id: int) -> str:
        digest = hmac.new(self._key, f"referral:{user_id}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:10]

    def code(self, user_id: int) -> str:
        """The start parameter (at most 64 characters of A-Z a-z 0-9 _ -, as Telegram allows)."""
        return f"{PREFIX}{_base36(user_id)}_{self._mac(user_id)}"

    def read(self, parameter: str) -> int | None:
        """The referrer a start parameter names, or None for anything not made by `code`."""
        match = _CODE.fullmatch(parameter.removeprefix(PREFIX)) if parameter.startswith(PREFIX) else None
        if match is None:
            return None
        user_id = int(match.group(1), 36)
        return user_id if hmac.compare_digest(match.group(2), self._mac(user_id)) else None


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text
