"""Two real bot processes on one PostgreSQL database, behind a round-robin balancer on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from emulators.balancer import Balancer
from emulators.provider.server import ProviderEmulator
from emulators.replicas import Replica, make_replicas
from emulators.telegram.server import TelegramEmulator
from tests.integration.conftest import eventually

StartReplicas = Callable[..., Awaitable[list[Replica]]]


@pytest.fixture
def wait_until() -> Callable[..., Awaitable[None]]:
    return eventually


@pytest.fixture
async def balancer() -> AsyncIterator[Balancer]:
    async with Balancer() as running:
        yield running


@pytest.fixture
async def start_replicas(
    tmp_path: Path,
    postgres_url: str,
    balancer: Balancer,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> AsyncIterator[StartReplicas]:
    """Start `count` replicas behind the balancer; yields once all answer /healthz. Stopped at the end,
    and their output is printed should the test fail."""
    started: list[Replica] = []

    async def start(count: int = 2, **extra: str) -> list[Replica]:
        replicas = make_replicas(
            count,
            tmp_path / "replicas",
            database_url=postgres_url,
            public_url=balancer.url,
            telegram_url=telegram.url,
            provider_url=provider.url,
            **extra,
        )
        started.extend(replicas)
        for replica in replicas:
            await replica.start()
        balancer.backends = [replica.url for replica in replicas]
        for replica in replicas:
            await replica.wait_healthy()
        await telegram.wait_for(lambda: telegram.webhook.url == f"{balancer.url}/telegram", timeout=30)
        return replicas

    yield start
    for replica in started:
        await replica.stop()
        print(f"---- {replica.name} ----\n{replica.output()[-5000:]}")
