"""Media URLs from callbacks cannot be turned against the bot: a hostile media server on loopback.

Callbacks are forged with a task's valid signed URL (whoever learns one, or the provider itself, can
send them). Loopback is not a public address, so the bot fetches from it only on the provider's own
configured origins (the emulators' case); the tests that need a trusted hostile host make it the upload
host (SUNO_UPLOAD_URL), which the generate flow never uses otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.settings import Settings
from emulators.audio_fixtures import make_mp3
from emulators.harness import RunningBot, served
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.models import Stage
from storage.work import Kind

ALICE, BOB, CAROL, DAVE = 1001, 1002, 1003, 1004
StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]
WaitUntil = Callable[..., Awaitable[None]]
TRICKLE_EVERY = 2.0  # seconds between the trickling server's bytes


@dataclass
class HostileMedia:
    """An aiohttp app serving audio, redirects and trickles; it records every request it gets."""

    url: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    trickling: int = 0  # responses trickling right now
    cut_off: int = 0  # trickles the client closed
    closing: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/audio/{name}", self._audio)
        app.router.add_route("*", "/redirect", self._redirect)
        app.router.add_get("/trickle/{name}", self._trickle)
        app.middlewares.append(self._record)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path))
        return await handler(request)

    async def _audio(self, request: web.Request) -> web.Response:
        return web.Response(body=make_mp3(2.0), content_type="audio/mpeg")

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(request.query["to"])

    async def _trickle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg", "Content-Length": "100000"})
        await response.prepare(request)
        self.trickling += 1
        try:
            while not self.closing.is_set():
                await response.write(b"\xff")
                with suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), TRICKLE_EVERY)
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            self.cut_off += 1
        finally:
            self.trickling -= 1
        return response


async def hostile_server() -> AsyncIterator[HostileMedia]:
    hostile = HostileMedia()
    async with served(hostile.app()) as url:
        hostile.url = url
        yield hostile
        hostile.closing.set()  # the trickles end, so the server stops at once


@pytest.fixture
async def hostile() -> AsyncIterator[HostileMedia]:
    async for server in hostile_server():
        yield server


@pytest.fixture
async def private_target() -> AsyncIterator[HostileMedia]:
    """A second loopback server: where a redirect points, never to be reached."""
    async for server in hostile_server():
        yield server


async def held_task(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, user: int
) -> str:
    """A task the provider keeps PENDING, submitted; returns the provider's task id."""
    before = len(provider.tasks)
    provider.script(hold=True)
    await telegram.user_sends_text(user, "/generate a calm lo-fi song about rain")
    await provider.wait_for(lambda: len(provider.tasks) > before and provider.last_task.held, timeout=10)
    return provider.last_task.task_id


async def forge_complete(
    bot: RunningBot,
    http: aiohttp.ClientSession,
    task_id: int,
    provider_id: str,
    audio_url: str,
    image_url: str,
) -> None:
    """A `complete` callback on the task's genuine signed URL naming media of the forger's choice."""
    track = {
        "id": f"forged-{task_id}",
        "audio_url": audio_url,
        "stream_audio_url": audio_url,
        "image_url": image_url,
        "title": "Forged",
        "tags": "",
        "duration": 10.0,
    }
    body = {
        "code": 200,
        "msg": "All generated successfully.",
        "data": {"callbackType": "complete", "task_id": provider_id, "data": [track]},
    }
    url = f"{bot.url}/callbacks/{bot.services.signer.callback_token(task_id)}"
    async with http.post(url, json=body) as response:
        assert response.status == 200, await response.text()


async def wait_submitted(bot: RunningBot, wait_until: WaitUntil, *task_ids: int) -> None:
    async def submitted() -> bool:
        tasks = [await bot.services.storage.tasks.require(t) for t in task_ids]
        return all(t.stage is Stage.SUBMITTED for t in tasks)

    await wait_until(submitted)


async def wait_refused_twice(bot: RunningBot, wait_until: WaitUntil, task_id: int) -> None:
    """The track's delivery failed at least twice, each time refused by the guard (and is retried)."""

    async def refused() -> bool:
        items = [i for i in await bot.services.storage.work.items(kind=Kind.DELIVER) if i.task_id == task_id]
        return bool(items) and items[0].attempts >= 2 and "refused" in (items[0].last_error or "")

    await wait_until(refused, timeout=15)


async def holds(condition: Callable[[], bool]) -> bool:
    """A plain condition for `wait_until`, which polls (the hostile server wakes no emulator)."""
    return condition()


def sent_urls(telegram: TelegramEmulator) -> list[str]:
    return [c.params["audio"] for c in telegram.calls("sendAudio") if isinstance(c.params.get("audio"), str)]


async def test_media_on_a_loopback_port_that_is_not_the_providers_is_never_fetched(
    bot: RunningBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    hostile: HostileMedia,
    http: aiohttp.ClientSession,
    wait_until: WaitUntil,
) -> None:
    provider_id = await held_task(bot, telegram, provider, ALICE)
    await wait_submitted(bot, wait_until, 1)
    await forge_complete(
        bot, http, 1, provider_id, f"{hostile.url}/audio/a.mp3", f"{hostile.url}/audio/cover.jpg"
    )
    await wait_refused_twice(bot, wait_until, 1)
    assert hostile.requests == []  # not the track, not its cover, not even a HEAD
    assert telegram.calls("sendAudio") == []  # nor handed to Telegram to fetch
    assert telegram.audios(ALICE) == []


@pytest.mark.parametrize("by_url", [True, False], ids=["by-url", "upload"])
async def test_a_redirect_from_the_provider_host_to_a_private_address_is_refused(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    hostile: HostileMedia,
    private_target: HostileMedia,
    http: aiohttp.ClientSession,
    wait_until: WaitUntil,
    by_url: bool,
) -> None:
    settings = make_settings(SUNO_UPLOAD_URL=hostile.url, DELIVERY_URL_SCHEMES="http,https" if by_url else "")
    async with start_bot(settings) as bot:
        provider_id = await held_task(bot, telegram, provider, ALICE)
        await wait_submitted(bot, wait_until, 1)
        target = f"{private_target.url}/audio/a.mp3"
        await forge_complete(
            bot,
            http,
            1,
            provider_id,
            f"{hostile.url}/redirect?to={target}",
            f"{hostile.url}/redirect?to=http://169.254.169.254/latest/meta-data/",
        )
        await wait_refused_twice(bot, wait_until, 1)
        assert hostile.requests and all(path == "/redirect" for _, path in hostile.requests)
        assert private_target.requests == []  # the hop was checked before it was requested
        assert sent_urls(telegram) == [] and telegram.audios(ALICE) == []


async def test_a_trickling_source_is_cut_off_and_delays_nobody_else(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    hostile: HostileMedia,
    http: aiohttp.ClientSession,
    wait_until: WaitUntil,
) -> None:
    """Three tracks trickling a byte every 2 s used to hold all three delivery slots for ten minutes."""
    settings = make_settings(SUNO_UPLOAD_URL=hostile.url, DELIVERY_URL_SCHEMES="")
    async with start_bot(settings) as bot:
        tricklers = (ALICE, CAROL, DAVE)
        held = {user: await held_task(bot, telegram, provider, user) for user in tricklers}
        await wait_submitted(bot, wait_until, 1, 2, 3)
        for task_id, user in enumerate(tricklers, start=1):
            await forge_complete(bot, http, task_id, held[user], f"{hostile.url}/trickle/{user}.mp3", "")
        await wait_until(lambda: holds(lambda: hostile.trickling == 3), timeout=10)

        await telegram.user_sends_text(BOB, "/generate an upbeat song about the sea")
        await provider.wait_for(
            lambda: any(c.stage == "complete" and c.delivered for c in provider.last_task.callbacks),
            timeout=15,
        )
        complete = next(c for c in provider.last_task.callbacks if c.stage == "complete")
        await telegram.wait_for(lambda: len(telegram.audios(BOB)) == 2, timeout=15)
        delay = time.monotonic() - complete.attempts[-1].at
        assert delay <= 2.0, f"Bob's tracks came {delay:.1f} s after his task completed"

        # Each trickle was cut off by the bot (the work queue retries it later), not left to run.
        await wait_until(lambda: holds(lambda: hostile.cut_off >= 3), timeout=20)
        assert all(telegram.audios(user) == [] for user in tricklers)
