"""Outages of the Bot API's front proxy: the server is reachable, the API behind it is not.

Telegram's api.telegram.org is nginx in front of the Bot API servers. When the servers behind it are
down or restarting, nginx answers for them, so the bot gets none of the JSON envelope its library
expects: an HTML "502 Bad Gateway" page, or a connection dropped without any answer. ``Outage`` is one
such period; ``TelegramEmulator.outage`` starts one and its dispatcher asks ``covers`` on every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self

from aiohttp import web

__all__ = ["NGINX_502", "Outage", "OutageMode", "bad_gateway"]

OutageMode = Literal["502", "reset"]

# Byte for byte what nginx sends when its upstream is down, so the client meets the real thing.
NGINX_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


@dataclass(eq=False)
class Outage:
    """One scripted outage; ``end()`` (or leaving its ``with`` / ``async with`` block) ends it early,
    and ``await over()`` returns once it has ended either way."""

    mode: OutageMode
    methods: frozenset[str] | None  # lower-case method names; None means every method
    until: float  # time.monotonic() when it ends by itself
    refused: int = 0  # calls it answered instead of the API
    ended: bool = False
    _ended_event: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    @property
    def active(self) -> bool:
        return not self.ended and time.monotonic() < self.until

    def covers(self, method: str) -> bool:
        return self.active and (self.methods is None or method.lower() in self.methods)

    def end(self) -> None:
        self.ended = True
        self._ended_event.set()

    async def over(self) -> None:
        remaining = self.until - time.monotonic()
        if self.ended or remaining <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ended_event.wait(), None if math.isinf(remaining) else remaining)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.end()


def bad_gateway() -> web.Response:
    return web.Response(
        status=502, body=NGINX_502, content_type="text/html", charset="utf-8", headers={"Server": "nginx"}
    )
