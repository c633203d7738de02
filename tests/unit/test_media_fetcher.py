"""MediaFetcher against real loopback servers: redirects checked hop by hop, trickles cut off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from pathlib import Path

import pytest
from aiohttp import web

from bot.provider.client import ProviderDownloadError
from bot.provider.media import MediaFetcher, media_session
from bot.provider.media_guard import MediaGuard
from emulators.harness import served

BODY = b"ID3" + bytes(range(256)) * 64


class Source:
    """The provider's media host (trusted) with redirects, and a record of what it was asked."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        self.closing = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/file", self._file)
        app.router.add_route("*", "/redirect", self._redirect)
        app.router.add_route("*", "/loop", self._loop)
        app.router.add_get("/trickle", self._trickle)
        app.router.add_get("/missing", self._missing)
        return app

    def _seen(self, request: web.Request) -> None:
        self.requests.append((request.method, request.path_qs))

    async def _file(self, request: web.Request) -> web.Response:
        self._seen(request)
        return web.Response(body=BODY, content_type="audio/mpeg")

    async def _redirect(self, request: web.Request) -> web.Response:
        self._seen(request)
        raise web.HTTPFound(request.query["to"])

    async def _loop(self, request: web.Request) -> web.Response:
        self._seen(request)
        raise web.HTTPFound("/loop")

    async def _missing(self, request: web.Request) -> web.Response:
        self._seen(request)
        raise web.HTTPNotFound()

    async def _trickle(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        headers = {"Content-Type": "audio/mpeg"}
        if "length" in request.query:
            headers["Content-Length"] = request.query["length"]
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        with suppress(ConnectionError):
            while not self.closing.is_set():
                await response.write(b"\0")
                with suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), 0.2)
        return response


@pytest.fixture
async def source() -> AsyncIterator[tuple[Source, str]]:
    server = Source()
    async with served(server.app()) as url:
        yield server, url
        server.closing.set()


@pytest.fixture
async def bystander() -> AsyncIterator[tuple[Source, str]]:
    """Another loopback service, not the provider's: nothing may reach it."""
    server = Source()
    async with served(server.app()) as url:
        yield server, url


@pytest.fixture
async def fetcher(source: tuple[Source, str]) -> AsyncIterator[MediaFetcher]:
    guard = MediaGuard(trusted=[source[1]])
    session = media_session(guard)
    try:
        # A small window so a trickle is judged in a fraction of a second.
        yield MediaFetcher(session, guard, min_rate=50_000, window=0.5, headers_timeout=2.0)
    finally:
        await session.close()


async def test_a_file_on_the_providers_host_is_fetched_and_sized(
    fetcher: MediaFetcher, source: tuple[Source, str], tmp_path: Path
) -> None:
    _, url = source
    assert await fetcher.fetch(f"{url}/file", max_bytes=len(BODY)) == BODY
    assert await fetcher.download(f"{url}/redirect?to=/file", tmp_path / "a", max_bytes=1 << 20) == len(BODY)
    assert (tmp_path / "a").read_bytes() == BODY
    assert await fetcher.size_of(f"{url}/redirect?to=/file") == len(BODY)


@pytest.mark.parametrize(
    "target",
    [
        "{bystander}/file",  # loopback, another port
        "http://localhost:{bystander_port}/file",  # a name that resolves to loopback
        "http://10.0.0.1/file",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:{bystander_port}/file",
        "file:///etc/passwd",
    ],
)
async def test_a_redirect_to_an_address_that_is_not_public_is_refused(
    fetcher: MediaFetcher,
    source: tuple[Source, str],
    bystander: tuple[Source, str],
    tmp_path: Path,
    target: str,
) -> None:
    _, url = source
    other, other_url = bystander
    target = target.format(bystander=other_url, bystander_port=other_url.rsplit(":", 1)[1])
    start = f"{url}/redirect?to={target}"
    for attempt in (
        fetcher.download(start, tmp_path / "a", max_bytes=1 << 20),
        fetcher.fetch(start, max_bytes=1 << 20),
        fetcher.size_of(start),  # what decides whether Telegram is handed the URL
    ):
        with pytest.raises(ProviderDownloadError) as refused:
            await attempt
        assert refused.value.refused
    assert other.requests == []


async def test_a_direct_url_elsewhere_on_loopback_is_refused_before_connecting(
    fetcher: MediaFetcher, bystander: tuple[Source, str]
) -> None:
    other, other_url = bystander
    with pytest.raises(ProviderDownloadError) as refused:
        await fetcher.fetch(f"{other_url}/file", max_bytes=1 << 20)
    assert refused.value.refused and other.requests == []


async def test_redirects_are_bounded(fetcher: MediaFetcher, source: tuple[Source, str]) -> None:
    server, url = source
    with pytest.raises(ProviderDownloadError, match="redirects"):
        await fetcher.fetch(f"{url}/loop", max_bytes=1 << 20)
    assert len(server.requests) == 6  # the first request and five redirects, no more


async def test_a_trickle_is_cut_off_within_a_window(
    fetcher: MediaFetcher, source: tuple[Source, str], tmp_path: Path
) -> None:
    _, url = source
    started = time.monotonic()
    with pytest.raises(ProviderDownloadError, match="trickles") as cut:
        await fetcher.download(f"{url}/trickle", tmp_path / "a", max_bytes=1 << 20)
    assert not cut.value.refused and not cut.value.too_big  # retried later by the work queue
    assert time.monotonic() - started < 2.0


async def test_the_deadline_scales_with_the_size(source: tuple[Source, str], tmp_path: Path) -> None:
    """A body slow on average is cut off at its deadline (its size at the minimum rate), even while every
    window brings enough to pass on its own: 5 bytes/s against 8 on average and 2 per window."""
    _, url = source
    guard = MediaGuard(trusted=[url])
    async with media_session(guard) as session:
        slow = MediaFetcher(session, guard, min_rate=8, window=0.5, headers_timeout=0.2)
        started = time.monotonic()
        with pytest.raises(ProviderDownloadError, match="took longer"):
            # 20 bytes: a deadline of 0.2 + 20 / 8 = 2.7 s, where the whole body would take 4 s.
            await slow.download(f"{url}/trickle?length=20", tmp_path / "a", max_bytes=1000)
        assert 2.5 < time.monotonic() - started < 3.5


async def test_sizes_and_statuses(fetcher: MediaFetcher, source: tuple[Source, str], tmp_path: Path) -> None:
    _, url = source
    with pytest.raises(ProviderDownloadError) as big:
        await fetcher.fetch(f"{url}/file", max_bytes=len(BODY) - 1)
    assert big.value.too_big
    with pytest.raises(ProviderDownloadError, match="HTTP 404"):
        await fetcher.download(f"{url}/missing", tmp_path / "a", max_bytes=1 << 20)
    assert await fetcher.size_of(f"{url}/missing") is None
