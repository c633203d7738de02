"""Fetching the media a callback names (tracks, covers): guarded addresses, bounded time, bounded bytes.

Every hop of a redirect is followed here, not by aiohttp, so each one is checked by the MediaGuard before
it is requested; names are checked again where the connection is made (the session's GuardedResolver).
A body must keep up a minimum throughput over every window of a few seconds and arrive within a
deadline that scales with its size: a source that trickles a byte now and then is cut off in seconds
instead of holding a connection, a file and a delivery for ten minutes. Whatever cannot be fetched
raises ProviderDownloadError, which the durable work queue retries with backoff and finally reports.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from yarl import URL

from bot.provider.client import ProviderDownloadError
from bot.provider.media_guard import GuardedResolver, MediaGuard, MediaRefused, Origin

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5
# Connecting and receiving the headers, per hop.
HEADERS_TIMEOUT = 15.0
# The slowest body we wait for, on average: 32 KiB/s is a 4 MB track in two minutes, the deadline of a
# file being its size at this rate (plus HEADERS_TIMEOUT). Within it, every window of RATE_WINDOW seconds
# must bring at least a quarter of that rate: a moment's stall is forgiven, a steady trickle is cut off
# within a window instead of running out the whole deadline.
MIN_BYTES_PER_SECOND = 32 * 1024
RATE_WINDOW = 5.0
WINDOW_SHARE = 0.25
# Downloads from one origin at a time: a slow or hostile host holds at most these, never everyone's.
PER_ORIGIN = 4
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def media_session(guard: MediaGuard) -> aiohttp.ClientSession:
    """A session of its own for media: its resolver refuses non-public names, and it never reads proxy
    settings from the environment (a proxy would resolve names where the guard cannot see them)."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(guard), limit=64)
    return aiohttp.ClientSession(connector=connector, trust_env=False)


class MediaFetcher:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        guard: MediaGuard,
        *,
        min_rate: float = MIN_BYTES_PER_SECOND,
        window: float = RATE_WINDOW,
        headers_timeout: float = HEADERS_TIMEOUT,
        redirects: int = MAX_REDIRECTS,
        per_origin: int = PER_ORIGIN,
    ) -> None:
        self._session = session
        self.guard = guard
        self._min_rate = min_rate
        self._window = window
        self._headers_timeout = headers_timeout
        self._redirects = redirects
        self._per_origin = per_origin
        self._origins: dict[Hashable, tuple[asyncio.Semaphore, int]] = {}

    async def size_of(self, url: str) -> int | None:
        """A file's size from a HEAD through its redirects, each hop checked; None when the host does not
        say or does not answer. ProviderDownloadError when a hop is refused: then nobody may fetch it."""
        try:
            async with self._open("HEAD", url) as response:
                return response.content_length if response.status == 200 else None
        except ProviderDownloadError as error:
            if error.refused:
                raise
            log.info("no size for %s: %s", _path(url), error)
            return None

    async def download(self, url: str, dest: Path, *, max_bytes: int) -> int:
        """Stream a file to disk in chunks; returns its size. Memory stays at one chunk."""
        async with self._origin_slot(url), self._open("GET", url) as response:
            with dest.open("wb") as out:
                # Chunks are small; a write to the page cache does not stall the loop noticeably.
                return await self._body(response, url, max_bytes, out.write)

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        """A small file (a cover image) in memory."""
        parts: list[bytes] = []
        async with self._origin_slot(url), self._open("GET", url) as response:
            await self._body(response, url, max_bytes, parts.append)
        return b"".join(parts)

    @asynccontextmanager
    async def _open(self, method: str, url: str) -> AsyncIterator[aiohttp.ClientResponse]:
        response = await self._final_response(method, url)
        try:
            yield response
        finally:
            # Back to the pool when the body was read to its end; a body cut off closes its connection.
            response.release()

    async def _final_response(self, method: str, url: str) -> aiohttp.ClientResponse:
        """The response after at most `redirects` hops, each checked before it is requested."""
        try:
            target = self.guard.check_url(url)
            for _ in range(self._redirects + 1):
                async with asyncio.timeout(self._headers_timeout):
                    response = await self._session.request(
                        method, target, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=None)
                    )
                if response.status in _REDIRECT_STATUSES:
                    location = response.headers.get(aiohttp.hdrs.LOCATION)
                    response.release()
                    if not location:
                        raise ProviderDownloadError(f"redirect without a Location for {_path(url)}")
                    target = self.guard.check_url(target.join(URL(location)))
                    continue
                if method == "GET" and response.status != 200:
                    response.release()
                    raise ProviderDownloadError(
                        f"HTTP {response.status} for {_path(url)}", gone=response.status in (404, 410)
                    )
                return response
            raise ProviderDownloadError(f"more than {self._redirects} redirects for {_path(url)}")
        except MediaRefused as refused:
            raise ProviderDownloadError(f"refused {_path(url)}: {refused}", refused=True) from None
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, MediaRefused):  # the resolver refused a name's addresses
                raise ProviderDownloadError(f"refused {_path(url)}: {error.os_error}", refused=True) from None
            raise ProviderDownloadError(f"cannot download {_path(url)}: {type(error).__name__}") from None
        except (TimeoutError, aiohttp.ClientError, ValueError) as error:
            raise ProviderDownloadError(f"cannot download {_path(url)}: {type(error).__name__}") from None

    async def _body(
        self, response: aiohttp.ClientResponse, url: str, max_bytes: int, write: Callable[[bytes], object]
    ) -> int:
        """Read the body into `write`, cut off when it is too big, too slow over a window, or late."""
        declared = response.content_length
        if declared is not None and declared > max_bytes:
            raise _too_big(url, max_bytes)
        loop = asyncio.get_running_loop()
        started = loop.time()
        # The whole file's deadline scales with its size (the most it may be, when the host does not say).
        deadline = started + self._headers_timeout + (declared or max_bytes) / self._min_rate
        need = self._min_rate * WINDOW_SHARE * self._window
        window_end, window_got, total = started + self._window, 0, 0
        while True:
            try:
                async with asyncio.timeout_at(min(window_end, deadline)):
                    chunk = await response.content.readany()
            except TimeoutError:
                chunk = None  # the window ran out while waiting: judged below
            except aiohttp.ClientError as error:
                raise ProviderDownloadError(f"cannot download {_path(url)}: {type(error).__name__}") from None
            if chunk == b"":
                return total
            if chunk:
                total += len(chunk)
                window_got += len(chunk)
                if total > max_bytes:
                    raise _too_big(url, max_bytes)
                write(chunk)
            now = loop.time()
            if now >= deadline:
                raise ProviderDownloadError(f"{_path(url)} took longer than {deadline - started:.0f} s")
            if now >= window_end:
                if window_got < need:
                    raise ProviderDownloadError(
                        f"{_path(url)} trickles: {window_got} bytes in {self._window:g} s, "
                        f"fewer than {need:.0f}"
                    )
                window_end, window_got = now + self._window, 0

    @asynccontextmanager
    async def _origin_slot(self, url: str) -> AsyncIterator[None]:
        try:
            key: Hashable = Origin.of(URL(url))
        except (ValueError, TypeError):
            key = None  # _open refuses it
        semaphore, users = self._origins.get(key, (asyncio.Semaphore(self._per_origin), 0))
        self._origins[key] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._origins[key]
            if users <= 1:
                del self._origins[key]
            else:
                self._origins[key] = (semaphore, users - 1)


def _too_big(url: str, max_bytes: int) -> ProviderDownloadError:
    return ProviderDownloadError(f"{_path(url)} is larger than {max_bytes} bytes", too_big=True)


def _path(url: str) -> str:
    """Log the path only: hosts and query strings stay out of logs."""
    return url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
