"""HMAC-signed tokens for callback and file URLs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

_MAC_LENGTH = 32  # base64url characters: 192 bits, plenty against guessing
_VERIFIED_KEPT = 10_000  # callback tokens remembered as valid (a few hundred bytes each)
# Every part is bounded before anything is computed from it: int() of thousands of digits raises (and is
# slow before that), and a hostile token must cost no more than a valid one.
_ID_DIGITS = 18  # below 2**63, what SQLite stores
_EXPIRY_DIGITS = 12  # unix seconds until the year 33658
_MAC = re.compile(rf"[A-Za-z0-9_-]{{{_MAC_LENGTH}}}")
_MAX_TOKEN = _ID_DIGITS + _EXPIRY_DIGITS + _MAC_LENGTH + 2


def _number(text: str, digits: int) -> int | None:
    """A canonical decimal of at most `digits` ASCII digits (no sign, no leading zero), else None.

    ASCII only: str.isdigit() also accepts '²' or '١', which int() rejects or reads oddly.
    """
    if not 0 < len(text) <= digits or not (text.isascii() and text.isdigit()):
        return None
    if len(text) > 1 and text[0] == "0":
        return None  # one id, one token: "007" is not another spelling of 7
    return int(text)


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that refuses, rather than raises on, non-ASCII input."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


class Signer:
    def __init__(self, secret: str) -> None:
        # Keyed once: each MAC copies this state. That is cheaper than keying again, and unlike the
        # one-shot hmac.digest() it keeps the GIL, which the callback path would otherwise hand to the
        # database thread and wait to get back.
        self._keyed = hmac.new(secret.encode(), digestmod=hashlib.sha256)
        # The provider calls one task's URL several times (stages, retries): a token that verified once is
        # answered from here. Only tokens that verified are kept, so a forger learns nothing from it.
        self._verified_callbacks: dict[str, int] = {}

    @property
    def remembered(self) -> int:
        """How many verified callback tokens are kept (bounded)."""
        return len(self._verified_callbacks)

    def _mac(self, purpose: str, *parts: object) -> str:
        mac = self._keyed.copy()
        mac.update(":".join([purpose, *map(str, parts)]).encode())
        return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")[:_MAC_LENGTH]

    def derive(self, purpose: str) -> str:
        """A value derived from the secret for another use, so the secret itself never leaves the bot."""
        return self._mac("derive", purpose)

    def callback_token(self, task_id: int) -> str:
        return f"{task_id}.{self._mac('callback', task_id)}"

    def verify_callback(self, token: str) -> int | None:
        """The task id a callback token refers to, or None for anything forged or malformed."""
        if len(token) > _MAX_TOKEN:
            return None
        known = self._verified_callbacks.get(token)
        if known is not None:
            return known
        task_part, _, mac = token.partition(".")
        task_id = _number(task_part, _ID_DIGITS)
        if task_id is None or not _MAC.fullmatch(mac):
            return None
        if not _same(mac, self._mac("callback", task_id)):
            return None
        if len(self._verified_callbacks) >= _VERIFIED_KEPT:
            self._verified_callbacks.pop(next(iter(self._verified_callbacks)))  # the oldest
        self._verified_callbacks[token] = task_id
        return task_id

    def file_token(self, upload_id: int, *, ttl: float = 3600, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + ttl)
        return f"{upload_id}.{expires}.{self._mac('file', upload_id, expires)}"

    def verify_file(self, token: str, *, now: float | None = None) -> int | None:
        """The upload id of a valid, unexpired file token, else None."""
        if len(token) > _MAX_TOKEN:
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return None
        upload_id, expires = _number(parts[0], _ID_DIGITS), _number(parts[1], _EXPIRY_DIGITS)
        if upload_id is None or expires is None or not _MAC.fullmatch(parts[2]):
            return None
        if not _same(parts[2], self._mac("file", upload_id, expires)):
            return None
        if expires < (now if now is not None else time.time()):
            return None
        return upload_id

    # Share links: the token rides in a t.me deep link (`?start=s_<token>`), whose payload Telegram
    # allows up to 64 characters of A-Z, a-z, 0-9, _ and -: no dots, so "_" separates the parts (the
    # id has only digits, so the first "_" ends it even when the MAC holds one). Signed so that links
    # cannot be guessed by counting; revocable because the share row it names can be revoked.

    def share_token(self, share_id: int) -> str:
        return f"{share_id}_{self._mac('share', share_id)}"

    def verify_share(self, token: str) -> int | None:
        """The share id a share token names, or None for anything forged or malformed."""
        if len(token) > _MAX_TOKEN:
            return None
        id_part, _, mac = token.partition("_")
        share_id = _number(id_part, _ID_DIGITS)
        if share_id is None or not _MAC.fullmatch(mac):
            return None
        if not _same(mac, self._mac("share", share_id)):
            return None
        return share_id
