"""`python -m emulators`: the emulators as a process of their own, as the deployment test runs them.

The real bot runs in-process against a real `python -m emulators serve` subprocess; a person played by
`python -m emulators play` gets songs. Its webhook goes through the process's relay, the way the
deployment test's webhook reaches Caddy from inside the emulators' container.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from emulators.harness import emulator_settings, free_port, running_bot
from emulators.process import Relay
from tests.integration.conftest import eventually


async def _run(*args: str, timeout: float) -> tuple[int, str, str]:  # noqa: ASYNC109
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulators",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@dataclass(frozen=True)
class Served:
    telegram: str
    provider: str
    control: str
    relay_port: int  # the process forwards this port to bot_port
    bot_port: int


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """`python -m emulators serve` on free ports, with a relay to a bot port chosen in advance."""
    tg, pv, ctl, relay, bot = (free_port() for _ in range(5))
    log = (tmp_path / "emulators.log").open("wb")  # a file, not a pipe nobody reads that could fill up
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "emulators",
        "serve",
        f"--telegram-port={tg}",
        f"--provider-port={pv}",
        f"--control-port={ctl}",
        "--stage-delays=0.1,0.2,0.3",
        f"--relay={relay}=127.0.0.1:{bot}",
        stdout=log,
        stderr=log,
    )
    log.close()
    control = f"http://127.0.0.1:{ctl}"

    async def listening() -> bool:
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{control}/healthz") as answer:
                return answer.status == 200
        except aiohttp.ClientError:
            return process.returncode is not None  # a crashed process fails below, not by timing out

    try:
        await eventually(listening, timeout=30)
        assert process.returncode is None, "python -m emulators serve exited at start-up"
        yield Served(f"http://127.0.0.1:{tg}", f"http://127.0.0.1:{pv}", control, relay, bot)
    finally:
        if process.returncode is None:
            process.terminate()
        # SIGTERM is a clean stop: the process exits 0 with the emulators closed.
        assert await asyncio.wait_for(process.wait(), 15) == 0


async def test_a_person_played_through_the_process_gets_both_tracks(served: Served, tmp_path: Path) -> None:
    settings = emulator_settings(
        tmp_path / "bot",
        telegram_url=served.telegram,
        provider_url=served.provider,
        port=served.bot_port,
        # Through the relay: Telegram's webhook and the provider's callbacks reach the bot by another port.
        PUBLIC_URL=f"http://127.0.0.1:{served.relay_port}",
    )
    async with running_bot(settings):
        code, out, err = await _run(
            "play",
            f"--control={served.control}",
            "--say=/generate a song about rain",
            "--timeout=60",
            timeout=90,
        )
    assert code == 0, err
    report = json.loads(out)
    assert len(report["audios"]) == 2
    assert {a["sha256"] for a in report["audios"]} == set(report["tracks_made"])
    assert all(a["mime_type"] == "audio/mpeg" for a in report["audios"])
    relayed = f"http://127.0.0.1:{served.relay_port}/"
    webhook, callbacks = report["webhook"], report["callbacks"]
    assert webhook and all(d["url"].startswith(relayed) and d["status"] == 200 for d in webhook)
    assert callbacks and all(c["url"].startswith(relayed) for c in callbacks)
    assert all(c["delivered"] for c in report["callbacks"])
    assert report["violations"] == 0


async def test_play_fails_when_no_song_arrives(served: Served) -> None:
    # No bot runs: the person's message is never answered, and play says so instead of passing.
    code, _out, err = await _run(
        "play", f"--control={served.control}", "--say=/generate nothing", "--timeout=1", timeout=30
    )
    assert code == 1
    assert "0 of 2 audios arrived" in err


def test_a_malformed_relay_is_refused() -> None:
    assert Relay.parse("443=caddy:443") == Relay(443, "caddy", 443)
    with pytest.raises(ValueError, match="LOCAL_PORT=HOST:PORT"):
        Relay.parse("443:caddy")
