"""SlidingWindowBudget: never more than `limit` slots held within a window measured from each release."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from bot.provider.budget import SlidingWindowBudget


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    # Ends sort before starts at the same instant: a slot freed at t may be taken again at t.
    points = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    best = current = 0
    for _, delta in points:
        current += delta
        best = max(best, current)
    return best


async def test_never_more_than_limit_within_a_window_after_release() -> None:
    limit, window = 3, 0.15
    budget = SlidingWindowBudget(limit, window)
    held: list[tuple[float, float]] = []  # from acquisition to `window` after release
    rng = random.Random(7)

    async def request() -> None:
        await budget.acquire()
        start = time.monotonic()
        try:
            await asyncio.sleep(rng.uniform(0, 0.03))  # the request's own duration varies
        finally:
            released = time.monotonic()
            budget.release()
        held.append((start, released + window))

    started = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(request() for _ in range(12))), 10)
    assert len(held) == 12
    # Shrink each interval by a millisecond for timer granularity: a strict server must never see more.
    assert max_overlap([(s + 0.001, e - 0.001) for s, e in held]) <= limit
    # And it is not just slow: 12 requests at 3 per 0.15 s take about 4 windows, not much more.
    assert time.monotonic() - started < 12 / limit * (window + 0.03) + 0.5


async def test_the_first_limit_acquisitions_do_not_wait() -> None:
    budget = SlidingWindowBudget(3, 10.0)
    for _ in range(3):
        await asyncio.wait_for(budget.acquire(), 0.1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(budget.acquire(), 0.1)


async def test_a_slot_frees_window_seconds_after_release_not_after_acquire() -> None:
    budget = SlidingWindowBudget(1, 0.2)
    await budget.acquire()
    await asyncio.sleep(0.3)  # longer than the window, but the response has not arrived yet
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(budget.acquire(), 0.05)
    released = time.monotonic()
    budget.release()
    await asyncio.wait_for(budget.acquire(), 1)
    assert time.monotonic() - released >= 0.2 - 0.005


async def test_waiters_are_served_first_come_first_served() -> None:
    budget = SlidingWindowBudget(1, 0.02)
    order: list[int] = []
    await budget.acquire()

    async def waiter(n: int) -> None:
        await budget.acquire()
        order.append(n)
        budget.release()

    tasks = []
    for n in range(6):
        tasks.append(asyncio.create_task(waiter(n)))
        await asyncio.sleep(0)  # each waiter queues before the next starts
    budget.release()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == list(range(6))


async def test_waiting_counts_queued_callers() -> None:
    budget = SlidingWindowBudget(1, 0.05)
    assert budget.waiting == 0
    await budget.acquire()
    tasks = [asyncio.create_task(budget.acquire()) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert budget.waiting == 3
    tasks[1].cancel()
    await asyncio.gather(tasks[1], return_exceptions=True)
    assert budget.waiting == 2
    budget.release()
    await asyncio.wait_for(tasks[0], 1)
    assert budget.waiting == 1
    budget.release()
    await asyncio.wait_for(tasks[2], 1)
    assert budget.waiting == 0
    budget.release()


async def test_a_cancelled_waiter_does_not_leak_a_slot() -> None:
    budget = SlidingWindowBudget(1, 0.05)
    async with budget.slot():
        cancelled = asyncio.create_task(budget.acquire())
        await asyncio.sleep(0.01)
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
    # The only slot frees 0.05 s after release; the cancelled waiter must not have taken it.
    await asyncio.wait_for(budget.acquire(), 1)
    budget.release()


async def test_slot_releases_on_error() -> None:
    budget = SlidingWindowBudget(1, 0.05)
    with pytest.raises(RuntimeError):
        async with budget.slot():
            raise RuntimeError("request failed")
    await asyncio.wait_for(budget.acquire(), 1)


@pytest.mark.parametrize(("limit", "window"), [(0, 1.0), (1, 0), (1, -1)])
def test_invalid_budgets(limit: int, window: float) -> None:
    with pytest.raises(ValueError):
        SlidingWindowBudget(limit, window)


async def test_waiters_do_not_multiply_the_wake_up_timers() -> None:
    """Each direct wake-up replaces the pending timer instead of adding one more (a timer storm)."""
    budget = SlidingWindowBudget(1, 0.05)
    await budget.acquire()
    budget.release()
    before = budget.wakeups
    waiters = []
    for _ in range(50):  # every new waiter wakes the budget directly, while a timer is pending
        waiters.append(asyncio.create_task(budget.acquire(priority=2)))
        await asyncio.sleep(0)
    for waiter in waiters[1:]:
        waiter.cancel()
    await asyncio.wait_for(waiters[0], 1)
    await asyncio.gather(*waiters[1:], return_exceptions=True)
    await asyncio.sleep(0.2)  # several windows: a leaked timer would keep firing
    # 50 arrivals + 49 departures wake it directly, the freed slot once more; leaked timers would add
    # a wake-up each at every later release.
    wakes = budget.wakeups - before
    assert wakes <= 110, wakes


async def test_an_unused_slot_is_free_at_once() -> None:
    budget = SlidingWindowBudget(1, 10.0)
    await budget.acquire()
    budget.release(unused=True)
    assert budget.free_now() == 1
    await asyncio.wait_for(budget.acquire(), 0.1)
