"""Logs as text or one JSON object per line, with secrets scrubbed from every record.

Scrubbing happens when a record is made (a log record factory), not in one handler: every handler then
sees the same clean record, pytest's caplog and a handler some library adds included, and the traceback
is formatted and scrubbed there too, so an exception whose text holds a URL with the bot token cannot
carry it past. Secrets learnt at run time (the generated master secret, the values derived from it) are
added with `mask_secrets` as soon as they are known; signed callback and file tokens are recognised by
their shape and keep only their task or upload id.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

MASK = "***"
_MIN_SECRET = 6  # shorter strings would mangle ordinary text, and are no secret worth the name
_SECRETS_KEPT = 64
# bot/web/signing.py: "<task id>.<mac>" and "<upload id>.<expiry>.<mac>", the MAC 32 base64url characters.
_SIGNED_TOKEN = re.compile(r"(?<![\w.-])(\d{1,18}(?:\.\d{1,12})?)\.[A-Za-z0-9_-]{32}(?![\w-])")


def _forms(secret: str) -> set[str]:
    """A secret as it may appear in a log: itself, percent-encoded in a URL, escaped inside JSON text."""
    forms = {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}
    # A bot token's part after the colon is what grants access; it can appear without the bot id.
    _, colon, after = secret.partition(":")
    if colon and after:
        forms |= {after, quote(after, safe="")}
    return {f for f in forms if len(f) >= _MIN_SECRET}


class SecretMask:
    """The secrets to hide, matched by one pattern, longest first so no part of one is left showing."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: dict[str, None] = {}  # in the order added
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()  # records are made on other threads too (the database's, say)
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        with self._lock:
            known = dict(self._secrets)
            for secret in secrets:
                if secret and len(secret) >= _MIN_SECRET:
                    known.pop(secret, None)
                    known[secret] = None
            # A process runs one bot with a handful of secrets; one that starts bot after bot (the tests)
            # keeps the latest, so the pattern every record meets stays short.
            while len(known) > _SECRETS_KEPT:
                known.pop(next(iter(known)))
            if list(known) == list(self._secrets):
                return
            self._secrets = known
            forms = set().union(*(_forms(s) for s in known))
            ordered = sorted(forms, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        return _SIGNED_TOKEN.sub(rf"\1.{MASK}", text)


_MASK = SecretMask()
_install_lock = threading.Lock()
_installed = False


def mask_secrets(*secrets: str | None) -> None:
    """Hide these values from every log record from now on, at every level, tracebacks included."""
    _MASK.add(s for s in secrets if s)
    _install()


def _install() -> None:
    global _installed
    with _install_lock:
        if _installed:
            return
        make = logging.getLogRecordFactory()

        def scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make(*args, **kwargs)
            scrub_record(record, _MASK)
            return record

        logging.setLogRecordFactory(scrubbed_record)
        _installed = True


_TRACEBACKS = logging.Formatter()


def scrub_record(record: logging.LogRecord, mask: SecretMask) -> None:
    """Replace the record's message, traceback and stack by their scrubbed text."""
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: logging reports it when the record is emitted
        return
    scrubbed = mask.scrub(message)
    if scrubbed != message or record.args:
        record.msg, record.args = scrubbed, None
    if record.exc_info:
        text = record.exc_text or _TRACEBACKS.formatException(record.exc_info)
        # The exception object itself goes: its arguments are what a handler would print unscrubbed.
        record.exc_text, record.exc_info = mask.scrub(text), None
    elif record.exc_text:
        record.exc_text = mask.scrub(record.exc_text)
    if record.stack_info:
        record.stack_info = mask.scrub(record.stack_info)


class RedactSecrets(logging.Filter):
    """A handler's filter for these secrets besides those of `mask_secrets` (the record is scrubbed)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._mask = SecretMask(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record, self._mask)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str, *, secrets: Iterable[str] = ()) -> None:
    secrets = list(secrets)
    mask_secrets(*secrets)
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # At DEBUG aiosqlite logs every call with its parameters: each callback's whole payload, twice, on the
    # database thread that the callbacks wait for.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
