"""Priorities in the pacer: intermediate edits yield to mandatory calls and can be pre-empted."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from typing import Any

from bot.chat.outbox import Outbox, SlotsAhead
from bot.ops.metrics import Metrics
from bot.provider.budget import SlidingWindowBudget
from bot.tasks.work_queue import WorkQueue
from bot.telegram.pacing import PREEMPTIBLE, ChatPacer, Pace, Preemptible
from storage.store import Storage
from storage.work import Kind, NewWork


def recorded() -> tuple[list[str], Callable[[str], Awaitable[dict[str, Any]]]]:
    """A stand-in for PTB's request: the names of the calls that reached 'Telegram', in order."""
    names: list[str] = []

    async def call(name: str) -> dict[str, Any]:
        names.append(name)
        return {"ok": True}

    return names, call


class _Chat:
    """The outbox's two collaborators played by the test: what a progress step and a delivery do."""

    def __init__(
        self,
        show: Callable[[int], Awaitable[None]],
        deliver: Callable[[int], Awaitable[None]] | None = None,
    ) -> None:
        self._show, self._deliver = show, deliver

    async def show(self, task_id: int) -> None:
        await self._show(task_id)

    async def deliver(self, track_id: int, *, followers: int) -> None:
        assert self._deliver is not None
        await self._deliver(track_id)

    async def give_up(self, track_id: int) -> None:
        raise AssertionError("no delivery gives up here")


class _Outbox:
    """An outbox on a real work queue and storage, fed the way the task core feeds it."""

    def __init__(self, storage: Storage, chat: _Chat, slots_ahead: SlotsAhead | None = None) -> None:
        self.queue = WorkQueue(storage.work)
        outbox = Outbox(
            queue=self.queue,
            progress=chat,
            deliveries=chat,
            people=storage.people,
            metrics=Metrics(),
            slots_ahead=slots_ahead,
        )
        self.queue.register(Kind.PROGRESS, outbox)
        self.queue.register(Kind.DELIVER, outbox)

    async def progress(self, chat_id: int, task_id: int, *, optional: bool = False) -> None:
        await self.queue.want(
            [NewWork(Kind.PROGRESS, task_id, task_id, chat_id, 0.0)], hints={f"progress:{task_id}": optional}
        )

    async def deliver(self, chat_id: int, track_id: int) -> None:
        await self.queue.want([NewWork(Kind.DELIVER, track_id, None, chat_id, 0.0)])

    async def wait_idle(self) -> None:
        await self.queue.idle()


async def test_better_priority_is_served_first() -> None:
    budget = SlidingWindowBudget(1, 0.02)
    await budget.acquire()
    order: list[str] = []

    async def take(name: str, priority: int) -> None:
        await budget.acquire(priority=priority)
        order.append(name)
        budget.release()

    waiters = [asyncio.create_task(take("low", 2)), asyncio.create_task(take("normal", 1))]
    await asyncio.sleep(0)
    budget.release()
    await asyncio.wait_for(asyncio.gather(*waiters), 1)
    assert order == ["normal", "low"]


async def test_low_priority_leaves_the_reserve_free() -> None:
    budget = SlidingWindowBudget(3, 10.0)
    await budget.acquire(priority=2, reserve=1)
    await budget.acquire(priority=2, reserve=1)  # 1 free left: the reserve
    low = asyncio.create_task(budget.acquire(priority=2, reserve=1))
    await asyncio.sleep(0.01)
    assert not low.done()
    await asyncio.wait_for(budget.acquire(priority=1), 0.5)  # a normal call still gets the reserved slot
    low.cancel()
    await asyncio.gather(low, return_exceptions=True)
    assert budget.waiting == 0


async def test_a_waiting_low_call_is_marked_preemptible_and_cancels_cleanly() -> None:
    pacer = ChatPacer(per_chat_interval=10.0)
    calls, callback = recorded()

    await pacer.process_request(callback, ("first",), {}, "sendMessage", {"chat_id": 1}, None)
    flag = Preemptible()
    context = contextvars.copy_context()
    context.run(PREEMPTIBLE.set, flag)
    edit = asyncio.create_task(
        pacer.process_request(callback, ("edit",), {}, "editMessageText", {"chat_id": 1}, Pace.low()),
        context=context,
    )
    await asyncio.sleep(0.01)
    assert flag.waiting  # waits for the chat's second, nothing sent yet
    edit.cancel()
    await asyncio.gather(edit, return_exceptions=True)
    assert calls == ["first"] and not flag.waiting


async def test_uploads_overtake_queued_text_calls() -> None:
    pacer = ChatPacer(global_per_second=1, per_chat_interval=0.001)
    order, callback = recorded()

    await pacer.process_request(callback, ("x",), {}, "sendMessage", {"chat_id": 9}, None)
    text = asyncio.create_task(
        pacer.process_request(callback, ("text",), {}, "sendMessage", {"chat_id": 1}, None)
    )
    await asyncio.sleep(0)
    audio = asyncio.create_task(
        pacer.process_request(callback, ("audio",), {}, "sendAudio", {"chat_id": 2}, None)
    )
    await asyncio.wait_for(asyncio.gather(text, audio), 3)
    assert order == ["x", "audio", "text"]


async def test_outbox_preempts_a_waiting_edit_and_shows_the_newest_state_after_deliveries(
    storage: Storage,
) -> None:
    pacer = ChatPacer(per_chat_interval=0.3)
    state = {"stage": "text"}
    seen, call = recorded()

    async def show_progress(task_id: int) -> None:
        stage = state["stage"]
        pace = Pace.low() if stage != "complete" else None
        await pacer.process_request(call, (f"edit:{stage}",), {}, "editMessageText", {"chat_id": 5}, pace)

    delivered = []

    async def deliver(track_id: int) -> None:
        await pacer.process_request(call, ("audio",), {}, "sendAudio", {"chat_id": 5}, None)
        delivered.append(track_id)

    outbox = _Outbox(storage, _Chat(show_progress, deliver))
    await pacer.process_request(call, ("message",), {}, "sendMessage", {"chat_id": 5}, None)
    await outbox.progress(5, 1)  # an intermediate edit: waits for the chat's slot, low priority
    await asyncio.sleep(0.05)
    state["stage"] = "complete"
    await outbox.progress(5, 1)  # newer state: the waiting edit is overtaken
    await outbox.deliver(5, 1)
    await asyncio.wait_for(outbox.wait_idle(), 3)
    assert seen == ["message", "edit:complete", "audio"]
    assert delivered == [1]


# ---- slots taken ahead: wait first, render once -------------------------------------------------


async def test_a_call_inside_ahead_spends_the_held_slots_without_waiting_again() -> None:
    pacer = ChatPacer(global_per_second=1, per_chat_interval=10.0)
    calls, callback = recorded()

    async with pacer.ahead(7):
        # Both budgets are exhausted now (1 per second, 1 per 10 s for the chat), yet the call goes at once.
        await asyncio.wait_for(
            pacer.process_request(callback, ("edit",), {}, "editMessageText", {"chat_id": 7}, Pace.low()),
            0.5,
        )
    assert calls == ["edit"]
    # The slot was spent like any call: the chat's next call has to wait for its interval.
    late = asyncio.create_task(
        pacer.process_request(callback, ("next",), {}, "sendMessage", {"chat_id": 7}, None)
    )
    await asyncio.sleep(0.05)
    assert not late.done()
    late.cancel()
    await asyncio.gather(late, return_exceptions=True)


async def test_slots_held_ahead_and_not_used_are_free_again_at_once() -> None:
    pacer = ChatPacer(global_per_second=1, per_chat_interval=10.0)
    async with pacer.ahead(7):
        pass  # the state needed no edit after all: nothing was sent
    calls, callback = recorded()

    await asyncio.wait_for(
        pacer.process_request(callback, ("now",), {}, "sendMessage", {"chat_id": 7}, None), 0.5
    )
    assert calls == ["now"]


async def test_a_second_call_inside_ahead_waits_its_turn_instead_of_deadlocking() -> None:
    pacer = ChatPacer(per_chat_interval=0.1)
    calls, callback = recorded()

    async with pacer.ahead(3):
        await pacer.process_request(callback, ("edit",), {}, "editMessageText", {"chat_id": 3}, None)
        await asyncio.wait_for(
            pacer.process_request(callback, ("resend",), {}, "sendMessage", {"chat_id": 3}, None), 1
        )
    assert calls == ["edit", "resend"]


async def test_waiting_ahead_is_preemptible_and_renders_nothing(storage: Storage) -> None:
    pacer = ChatPacer(per_chat_interval=0.3)
    seen, call = recorded()
    renders: list[str] = []
    state = {"stage": "text"}

    async def show_progress(task_id: int) -> None:
        renders.append(state["stage"])  # what an optional step reads and renders, once its turn came
        pace = Pace.low() if state["stage"] != "complete" else None
        await pacer.process_request(
            call, (f"edit:{state['stage']}",), {}, "editMessageText", {"chat_id": 5}, pace
        )

    async def deliver(track_id: int) -> None:
        await pacer.process_request(call, ("audio",), {}, "sendAudio", {"chat_id": 5}, None)

    outbox = _Outbox(storage, _Chat(show_progress, deliver), slots_ahead=pacer.ahead)
    await pacer.process_request(call, ("message",), {}, "sendMessage", {"chat_id": 5}, None)
    await outbox.progress(5, 1, optional=True)  # waits for the chat's second before rendering anything
    await asyncio.sleep(0.05)
    assert renders == []
    state["stage"] = "first"
    await outbox.progress(5, 1, optional=True)  # overtaken while waiting: cancelled, nothing was rendered
    await asyncio.sleep(0.05)
    state["stage"] = "complete"
    await outbox.progress(5, 1)  # the final state is mandatory
    await outbox.deliver(5, 1)
    await asyncio.wait_for(outbox.wait_idle(), 3)
    assert renders == ["complete"]
    assert seen == ["message", "edit:complete", "audio"]


async def test_newer_work_during_a_steps_reads_is_not_lost(storage: Storage) -> None:
    """The step was reading (not yet waiting) when the task completed: it must give way, not wait stale."""
    pacer = ChatPacer(global_per_second=6, per_chat_interval=0.01)  # LOW keeps a reserve of 1: it waits
    seen, call = recorded()
    state = {"stage": "text"}
    reading = asyncio.Event()

    async def show_progress(task_id: int) -> None:
        stage = state["stage"]
        reading.set()
        await asyncio.sleep(0.05)  # reading the task and rendering: not waiting for a slot yet
        pace = Pace.low() if stage != "complete" else None
        await pacer.process_request(call, (f"edit:{stage}",), {}, "editMessageText", {"chat_id": 5}, pace)

    outbox = _Outbox(storage, _Chat(show_progress))
    for other in range(5):  # the budget is busy: only the reserve is left, which LOW may not take
        await pacer.process_request(call, ("busy",), {}, "sendMessage", {"chat_id": 100 + other}, None)
    await outbox.progress(5, 1)  # an intermediate state, mandatory here (no ahead): renders, then waits LOW
    await asyncio.wait_for(reading.wait(), 1)
    state["stage"] = "complete"
    await outbox.progress(5, 1)  # arrives while the step reads: it must not go on to wait with "text"
    await asyncio.wait_for(outbox.wait_idle(), 0.8)  # well before the budget's second is over
    assert [s for s in seen if s != "busy"] == ["edit:complete"]


async def test_calls_that_others_wait_for_go_first_longest_chain_first() -> None:
    pacer = ChatPacer(global_per_second=1, per_chat_interval=0.001)
    order, callback = recorded()

    await pacer.process_request(callback, ("x",), {}, "sendMessage", {"chat_id": 9}, None)
    queued = []
    for name, endpoint, chat, pace in (
        ("text", "sendMessage", 1, None),
        ("last audio", "sendAudio", 2, None),
        ("first audio", "sendAudio", 3, Pace.leading(1)),
        ("final edit", "editMessageText", 4, Pace.leading(2)),
    ):
        queued.append(
            asyncio.create_task(
                pacer.process_request(callback, (name,), {}, endpoint, {"chat_id": chat}, pace)
            )
        )
        await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.gather(*queued), 8)
    assert order == ["x", "final edit", "first audio", "last audio", "text"]


async def test_a_call_cancelled_before_sending_leaves_the_chats_second_unspent() -> None:
    pacer = ChatPacer(global_per_second=2, per_chat_interval=10.0)
    seen, call = recorded()
    for other in (1, 2):  # the global budget is used up for the next second
        await pacer.process_request(call, ("busy",), {}, "sendMessage", {"chat_id": other}, None)
    flag = Preemptible()
    context = contextvars.copy_context()
    context.run(PREEMPTIBLE.set, flag)
    edit = asyncio.create_task(
        pacer.process_request(call, ("edit",), {}, "editMessageText", {"chat_id": 7}, Pace.low()),
        context=context,
    )
    await asyncio.sleep(0.05)
    assert flag.waiting  # it holds the chat's slot and waits for a global one
    edit.cancel()
    await asyncio.gather(edit, return_exceptions=True)
    # Nothing was sent to chat 7, so its next call waits only for the global budget, not 10 s.
    await asyncio.wait_for(
        pacer.process_request(call, ("final",), {}, "editMessageText", {"chat_id": 7}, None), 2
    )
    assert seen == ["busy", "busy", "final"]
