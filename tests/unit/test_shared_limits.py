"""Budgets shared by replicas through one PostgreSQL database (bot/provider/shared_budget.py), on a real
server: each "replica" here is a Storage of its own (its own connection pool) with its own SharedLimits."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from bot.provider.shared_budget import SharedLimits, SharedWindowBudget
from emulators.postgres_server import PostgresServer
from storage.store import Storage
from tests.integration.conftest import eventually

Replica = Callable[[], AbstractAsyncContextManager[SharedLimits]]


@pytest.fixture
async def replica(postgres_server: PostgresServer | str) -> AsyncIterator[Replica]:
    if isinstance(postgres_server, str):
        pytest.skip(f"PostgreSQL unavailable: {postgres_server}")
    url = postgres_server.new_database()

    @asynccontextmanager
    async def one() -> AsyncIterator[SharedLimits]:
        storage = Storage(Path("unused"), url=url)
        await storage.open()
        limits = SharedLimits(storage.limits)
        try:
            yield limits
        finally:
            await limits.close()
            await storage.close()

    try:
        yield one
    finally:
        postgres_server.drop_database(url)


async def _use(budget: SharedWindowBudget, arrivals: list[float]) -> None:
    await budget.acquire()
    try:
        arrivals.append(time.monotonic())  # when the receiver would see the request
        await asyncio.sleep(random.uniform(0, 0.02))  # the request's own time in flight
    finally:
        budget.release()


async def test_two_replicas_together_never_exceed_the_limit(replica: Replica) -> None:
    limit, window = 3, 0.3
    arrivals: list[float] = []
    async with replica() as first, replica() as second:
        budgets = [
            limits.budget("test:burst", limit, window, lease=5.0) for limits in (first, second) for _ in (0,)
        ]
        await asyncio.wait_for(
            asyncio.gather(*(_use(budgets[i % 2], arrivals) for i in range(24))), timeout=20
        )
    arrivals.sort()
    # Slot k + limit is granted only once slot k's answer is `window` old: no window ever holds more.
    gaps = [arrivals[i + limit] - arrivals[i] for i in range(len(arrivals) - limit)]
    assert min(gaps) >= window - 0.002, gaps
    # Each replica held only its own share: both took part.
    assert first.takes > 0 and second.takes > 0


async def test_slots_of_a_replica_that_died_expire_after_their_lease(replica: Replica) -> None:
    lease = 0.6
    async with replica() as dead:
        budget = dead.budget("test:dead", 2, 0.2, lease=lease)
        await budget.acquire()
        await budget.acquire()
        taken = time.monotonic()
        # Dies mid-request: nothing is released.
    async with replica() as alive:
        survivor = alive.budget("test:dead", 2, 0.2, lease=lease)
        await asyncio.wait_for(survivor.acquire(), timeout=5)
        waited = time.monotonic() - taken
        survivor.release(unused=True)
        assert waited >= lease - 0.05
        assert waited < lease + 1.0
        # A slot in flight frees no sooner than a window after its answer: it asked once a window at most.
        assert alive.takes <= lease / 0.2 + 2


async def test_a_429_seen_by_one_replica_holds_back_the_other(replica: Replica) -> None:
    async with replica() as first, replica() as second:
        seen = first.budget("test:chat", 1, 0.05, lease=5.0)
        await seen.acquire()
        seen.hold_off(0.8)
        seen.release()
        await first.close()  # the block has landed
        blocked = time.monotonic()
        other = second.budget("test:chat", 1, 0.05, lease=5.0)
        await asyncio.wait_for(other.acquire(), timeout=5)
        other.release()
        assert time.monotonic() - blocked >= 0.7


async def test_a_full_scope_answers_when_its_first_slot_frees(replica: Replica) -> None:
    async with replica() as limits:
        repository = limits._repository
        first = await repository.take("test:wait", limit=1, window=0.5, lease=5.0)
        assert first.slot is not None
        in_flight = await repository.take("test:wait", limit=1, window=0.5, lease=5.0)
        # Still in flight: its answer is to come, so it frees no sooner than a window from now.
        assert in_flight.slot is None and 0.45 <= in_flight.wait <= 0.5
        await repository.release(first.slot, "test:wait", hold=0.3)
        released = await repository.take("test:wait", limit=1, window=0.5, lease=5.0)
        assert released.slot is None and 0.2 <= released.wait <= 0.3
        # A slot handed back unused is free at once.
        await repository.release(first.slot, "test:wait", hold=0.0)
        assert await repository.live("test:wait") == 0


async def test_a_call_cancelled_while_its_grant_is_being_written_leaves_no_slot_behind(
    replica: Replica,
) -> None:
    async with replica() as limits:
        budget = limits.budget("test:cancel", 1, 0.2, lease=30.0)
        caller = asyncio.create_task(budget.acquire())
        await asyncio.sleep(0)  # its transaction is on its way to the database now
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        # The transaction commits a slot all the same; it must be handed back, not held for the lease.
        await eventually(lambda: _none_live(limits, "test:cancel"), timeout=5)
        assert budget.free_now() == 1


async def _none_live(limits: SharedLimits, scope: str) -> bool:
    await limits.close()
    return await limits._repository.live(scope) == 0
