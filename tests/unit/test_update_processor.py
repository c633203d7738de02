"""PerPersonUpdateProcessor: one line per person, in order; people side by side; a bounded line, forgotten
when empty; a shutdown that waits for what was accepted.

Updates are fed the way PTB's Application feeds them: one task per update, created in arrival order, each
calling `process_update` (the processor's public entry, which takes the global slot first).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import pytest
from telegram import Chat, Message, Update, User

from bot.telegram.updates import PerPersonUpdateProcessor, person_of

ALICE = 1001
BOB = 1002
TIMEOUT = 5.0


def message_from(user_id: int, text: str = "/help", update_id: int = 1) -> Update:
    chat = Chat(user_id, Chat.PRIVATE)
    user = User(user_id, "Someone", is_bot=False)
    return Update(update_id, message=Message(update_id, datetime.now(UTC), chat, from_user=user, text=text))


class Handlers:
    """Handlers whose runs the tests can see and hold: each waits for its gate before it finishes."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.finished: list[str] = []
        self.running: set[str] = set()
        self.most_at_once: dict[str, int] = {}
        self.gates: dict[str, asyncio.Event] = {}
        self._changed = asyncio.Event()

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def handle(self, person: str, name: str) -> None:
        self.started.append(name)
        self.running.add(name)
        at_once = sum(1 for n in self.running if n.startswith(person))
        self.most_at_once[person] = max(self.most_at_once.get(person, 0), at_once)
        self._notify()
        try:
            await self.gate(name).wait()
        finally:
            self.running.discard(name)
        self.finished.append(name)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def until(self, condition: Any) -> None:
        async def wait() -> None:
            while not condition():
                await self._changed.wait()

        await asyncio.wait_for(wait(), TIMEOUT)


def feed(
    processor: PerPersonUpdateProcessor, update: object, coroutine: Awaitable[Any]
) -> asyncio.Task[None]:
    return asyncio.create_task(processor.process_update(update, coroutine))


async def settle() -> None:
    """Let every task that can run do so (no timers here, only the loop's ready queue)."""
    for _ in range(20):
        await asyncio.sleep(0)


def open_all(handlers: Handlers, names: list[str]) -> None:
    for name in names:
        handlers.gate(name).set()


async def test_one_persons_updates_run_one_at_a_time_in_arrival_order() -> None:
    processor, handlers = PerPersonUpdateProcessor(), Handlers()
    names = [f"alice-{i}" for i in range(10)]
    tasks = [
        feed(processor, message_from(ALICE, update_id=i), handlers.handle("alice", n))
        for i, n in enumerate(names)
    ]
    for name in names:  # each is let through only once it is the one running
        await handlers.until(lambda name=name: name in handlers.running)
        await settle()
        assert handlers.running == {name}
        handlers.gate(name).set()
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert handlers.started == names and handlers.finished == names
    assert handlers.most_at_once["alice"] == 1


async def test_a_person_waiting_in_line_holds_no_slot_of_the_global_bound() -> None:
    # Two slots for everybody: Alice's 10 updates take one between them, so Bob still gets the other.
    # A processor where waiting updates keep their slot (or plain concurrent_updates(2)) starves Bob.
    processor, handlers = PerPersonUpdateProcessor(2), Handlers()
    alice = [f"alice-{i}" for i in range(10)]
    tasks = [
        feed(processor, message_from(ALICE, update_id=i), handlers.handle("alice", n))
        for i, n in enumerate(alice)
    ]
    await handlers.until(lambda: "alice-0" in handlers.running)
    bob = feed(processor, message_from(BOB, update_id=99), handlers.handle("bob", "bob-0"))
    await handlers.until(lambda: "bob-0" in handlers.running)
    assert handlers.running == {"alice-0", "bob-0"}  # side by side while Alice's first one still runs
    handlers.gate("bob-0").set()
    await asyncio.wait_for(bob, TIMEOUT)
    assert processor.current_concurrent_updates == 1  # only Alice's worker
    open_all(handlers, alice)
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert [n for n in handlers.finished if n.startswith("alice")] == alice


async def test_different_people_run_concurrently() -> None:
    processor, handlers = PerPersonUpdateProcessor(), Handlers()
    people = [f"p{user}" for user in range(20)]
    tasks = [
        feed(processor, message_from(2000 + i, update_id=i), handlers.handle(name, name))
        for i, name in enumerate(people)
    ]
    await handlers.until(lambda: handlers.running == set(people))
    assert processor.people_in_flight == len(people)
    open_all(handlers, people)
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)


async def test_updates_without_a_person_are_not_put_in_one_line() -> None:
    processor, handlers = PerPersonUpdateProcessor(), Handlers()
    anonymous = [Update(1), object(), Update(2)]
    names = ["anon-0", "anon-1", "anon-2"]
    tasks = [feed(processor, u, handlers.handle("anon", n)) for u, n in zip(anonymous, names, strict=True)]
    await handlers.until(lambda: handlers.running == set(names))
    assert processor.people_in_flight == 0
    open_all(handlers, names)
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)


def test_a_person_is_the_user_else_the_chat() -> None:
    assert person_of(message_from(ALICE)) == ("user", ALICE)
    channel = Chat(-100123, Chat.CHANNEL)
    post = Update(5, channel_post=Message(7, datetime.now(UTC), channel, text="news"))
    assert person_of(post) == ("chat", -100123)
    assert person_of(Update(6)) is None
    assert person_of("not an update") is None


async def test_a_full_line_drops_what_comes_beyond_it_without_logging_content(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dropped: list[None] = []
    processor = PerPersonUpdateProcessor(max_pending_per_person=3, on_drop=lambda: dropped.append(None))
    handlers = Handlers()
    names = [f"alice-{i}" for i in range(6)]
    caplog.set_level(logging.INFO, logger="bot.telegram.updates")
    tasks = [
        feed(processor, message_from(ALICE, f"/generate secret song {i}", i), handlers.handle("alice", n))
        for i, n in enumerate(names)
    ]
    await handlers.until(lambda: "alice-0" in handlers.running)
    await asyncio.wait_for(asyncio.gather(*tasks[1:]), TIMEOUT)  # queued or dropped, each returns at once
    assert processor.pending_for(("user", ALICE)) == 3
    assert len(dropped) == 2
    drops = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(drops) == 2 and all(r.levelno == logging.INFO for r in drops)
    assert "secret" not in caplog.text and str(ALICE) not in caplog.text

    open_all(handlers, names)
    await asyncio.wait_for(tasks[0], TIMEOUT)
    assert handlers.finished == names[:4]  # the first and the three that fitted, in order


async def test_a_line_is_forgotten_once_it_runs_out() -> None:
    processor, handlers = PerPersonUpdateProcessor(), Handlers()
    names = ["alice-0", "alice-1"]
    tasks = [
        feed(processor, message_from(ALICE, update_id=i), handlers.handle("alice", n))
        for i, n in enumerate(names)
    ]
    await handlers.until(lambda: "alice-0" in handlers.running)
    await settle()
    assert processor.people_in_flight == 1 and processor.pending_for(("user", ALICE)) == 1
    open_all(handlers, names)
    await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
    assert processor.people_in_flight == 0 and processor.pending_for(("user", ALICE)) == 0
    assert processor.current_concurrent_updates == 0

    # A later update of the same person starts a new line and runs.
    handlers.gate("alice-2").set()
    await asyncio.wait_for(
        feed(processor, message_from(ALICE, update_id=3), handlers.handle("alice", "alice-2")), TIMEOUT
    )
    assert handlers.finished == [*names, "alice-2"] and processor.people_in_flight == 0


async def test_a_failing_update_does_not_end_the_line_behind_it(caplog: pytest.LogCaptureFixture) -> None:
    processor, handlers = PerPersonUpdateProcessor(), Handlers()

    async def fails() -> None:
        raise RuntimeError("boom")

    first = feed(processor, message_from(ALICE, update_id=1), fails())
    second = feed(processor, message_from(ALICE, update_id=2), handlers.handle("alice", "alice-1"))
    handlers.gate("alice-1").set()
    await asyncio.wait_for(asyncio.gather(first, second), TIMEOUT)
    assert handlers.finished == ["alice-1"]
    assert "processing an update failed" in caplog.text


async def test_a_cancelled_line_closes_what_waited_and_is_forgotten() -> None:
    processor, handlers = PerPersonUpdateProcessor(), Handlers()
    worker = feed(processor, message_from(ALICE, update_id=1), handlers.handle("alice", "alice-0"))
    waiting = handlers.handle("alice", "alice-1")
    await asyncio.wait_for(feed(processor, message_from(ALICE, update_id=2), waiting), TIMEOUT)
    await handlers.until(lambda: "alice-0" in handlers.running)
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(worker, TIMEOUT)
    assert processor.people_in_flight == 0
    assert waiting.cr_frame is None  # closed: it will never run, and Python will not warn it never did
    await asyncio.wait_for(processor.shutdown(), TIMEOUT)


async def test_shutdown_waits_for_the_updates_it_accepted() -> None:
    processor, handlers = PerPersonUpdateProcessor(), Handlers()
    async with processor:
        names = ["alice-0", "alice-1", "alice-2"]
        tasks = [
            feed(processor, message_from(ALICE, update_id=i), handlers.handle("alice", n))
            for i, n in enumerate(names)
        ]
        await handlers.until(lambda: "alice-0" in handlers.running)
        shutdown = asyncio.create_task(processor.shutdown())
        await settle()
        assert not shutdown.done()
        open_all(handlers, names)
        await asyncio.wait_for(shutdown, TIMEOUT)
        assert handlers.finished == names
        await asyncio.wait_for(asyncio.gather(*tasks), TIMEOUT)
