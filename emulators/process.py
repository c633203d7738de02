"""Both emulators served as one process on fixed ports, with a control API to act as a person.

This is what `python -m emulators serve` runs, in a container beside the bot for the deployment test
(deploy/test-deploy.sh) or on a laptop. The bot is pointed at the Telegram and provider ports; the
control port, on loopback only, lets a script play a person and read back what the chat received:

- GET  /healthz                      the emulators' base URLs, once both listen
- POST /people/{user}/say            {"text": "..."}: the person sends a message
- GET  /people/{user}/chat           ?audios=N&timeout=S waits (bounded) for N audios, then reports the
                                     chat: the bot's messages, the audios received (with their sha256),
                                     the tracks the provider made for this person, and every webhook
                                     delivery and provider callback, so the path they took is visible

A relay (`--relay 443=caddy:443`) forwards a local port to another host as plain TCP: the bot gives
both emulators URLs on https://localhost (its PUBLIC_URL), which inside this container must reach the
reverse proxy, with TLS end to end between the emulator and the proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from emulators.harness import EMULATOR_API_KEY, EMULATOR_BOT_TOKEN
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator

log = logging.getLogger(__name__)

MAX_WAIT = 600.0  # a report never waits longer than this, whatever the caller asks


@dataclass(frozen=True)
class Relay:
    listen_port: int
    target_host: str
    target_port: int

    @classmethod
    def parse(cls, text: str) -> Relay:
        """`LOCAL_PORT=HOST:PORT`, as given on the command line."""
        local, sep, target = text.partition("=")
        host, colon, port = target.rpartition(":")
        if not sep or not colon or not host:
            raise ValueError(f"expected LOCAL_PORT=HOST:PORT, got {text!r}")
        return cls(int(local), host, int(port))


@dataclass(frozen=True)
class Ports:
    telegram: int = 8081
    provider: int = 8082
    control: int = 8083


class Control:
    """The control API's handlers over the two running emulators."""

    def __init__(self, telegram: TelegramEmulator, provider: ProviderEmulator) -> None:
        self.telegram = telegram
        self.provider = provider

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/healthz", self.healthz),
            web.post("/people/{user}/say", self.say),
            web.get("/people/{user}/chat", self.chat),
        ]

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"telegram": self.telegram.url, "provider": self.provider.url})

    async def say(self, request: web.Request) -> web.Response:
        user = int(request.match_info["user"])
        body = await request.json()
        await self.telegram.user_sends_text(user, str(body["text"]), first_name=str(body.get("name", "Dee")))
        return web.json_response({"ok": True})

    async def chat(self, request: web.Request) -> web.Response:
        user = int(request.match_info["user"])
        wanted = int(request.query.get("audios", "0"))
        timeout = min(float(request.query.get("timeout", "0")), MAX_WAIT)
        if wanted:
            # A report of what arrived so far is still the answer when the wait runs out: the caller
            # decides what is missing, and the report says what happened instead.
            with contextlib.suppress(TimeoutError):
                await self.telegram.wait_for(lambda: len(self.telegram.audios(user)) >= wanted, timeout)
        return web.json_response(self.report(user))

    def report(self, user: int) -> dict[str, Any]:
        audios = [
            {
                key: (message.audio or {}).get(key)
                for key in ("title", "performer", "duration", "mime_type", "file_size", "sha256", "sent_by")
            }
            for message in self.telegram.audios(user)
        ]
        # The bot names the person in nothing it sends the provider, so the tracks made for this chat are
        # those of every task: the process serves one scripted person at a time.
        made = [track.sha256 for task in self.provider.tasks.values() for track in task.tracks]
        return {
            "messages": [m.text for m in self.telegram.bot_messages(user) if m.audio is None],
            "audios": audios,
            "tracks_made": made,
            "webhook": [
                {"url": d.url, "status": d.status, "error": d.error} for d in self.telegram.webhook_deliveries
            ],
            "callbacks": [
                {
                    "url": task.callback_url,
                    "stage": record.stage,
                    "delivered": record.delivered,
                    "statuses": [a.status for a in record.attempts],
                    "errors": [a.error for a in record.attempts if a.error],
                }
                for task in self.provider.tasks.values()
                for record in task.callbacks
            ],
            "violations": len(self.telegram.violations) + len(self.provider.violations),
        }


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


async def start_relay(relay: Relay) -> asyncio.Server:
    async def handle(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            # Resolved per connection: the target may start (and get its address) after this process.
            upstream_reader, upstream_writer = await asyncio.open_connection(
                relay.target_host, relay.target_port
            )
        except OSError as error:
            log.warning(
                "relay :%d -> %s:%d: %s", relay.listen_port, relay.target_host, relay.target_port, error
            )
            client_writer.close()
            return
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))

    return await asyncio.start_server(handle, "127.0.0.1", relay.listen_port)


async def serve(
    *,
    host: str,
    ports: Ports,
    advertise: str | None,
    relays: list[Relay],
    files_dir: Path,
    stage_delays: tuple[float, float, float],
    track_seconds: float,
    stop: asyncio.Event,
) -> None:
    """Serve until `stop` is set. `advertise` is the host name others reach this process by."""
    telegram = TelegramEmulator(EMULATOR_BOT_TOKEN, files_dir=files_dir / "telegram")
    provider = ProviderEmulator(EMULATOR_API_KEY, stage_delays=stage_delays, track_seconds=track_seconds)
    servers: list[asyncio.Server] = []
    runner: web.AppRunner | None = None
    try:
        await telegram.start(host, ports.telegram)
        await provider.start(host, ports.provider)
        if advertise:
            # The provider puts its own URL in every track it makes; listening on 0.0.0.0, that URL must
            # name the host the bot downloads from instead.
            telegram.url = f"http://{advertise}:{ports.telegram}"
            provider.url = f"http://{advertise}:{ports.provider}"
        for relay in relays:
            servers.append(await start_relay(relay))
        app = web.Application()
        app.add_routes(Control(telegram, provider).routes())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", ports.control).start()
        log.info(
            "emulators ready: telegram %s, provider %s, control http://127.0.0.1:%d",
            telegram.url,
            provider.url,
            ports.control,
        )
        await stop.wait()
    finally:
        if runner is not None:
            await runner.cleanup()
        for server in servers:
            server.close()
        await provider.close()
        await telegram.close()
