"""A randomized run of a few hundred ledger operations: every balance is the sum of its entries and
matches an independent model of the rules (holds, settles, releases, purchases once, refunds)."""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.ledger import Charge, EntryKind, InsufficientCredits
from storage.models import Stage, TaskKind
from storage.store import Storage

NOW = 1_700_000_000.0
USERS = (1, 2, 3)
COST = 2
# Failures the person caused, which keep the credits once the provider accepted the task.
PERSONS_OWN = {400, 413, 451, 1001}

operation = st.one_of(
    st.tuples(st.just("task"), st.sampled_from(USERS)),
    st.tuples(st.just("submit"), st.integers(0, 400)),
    st.tuples(st.just("complete"), st.integers(0, 400)),
    st.tuples(st.just("fail"), st.integers(0, 400), st.sampled_from([400, 413, 500, 531, 408, 1001, 1004])),
    st.tuples(st.just("buy"), st.sampled_from(USERS), st.integers(0, 30), st.sampled_from([1, 5, 10])),
    st.tuples(st.just("refund"), st.integers(0, 30)),
    st.tuples(st.just("grant"), st.sampled_from(USERS), st.integers(1, 3)),
)


@dataclass
class Model:
    balance: dict[int, int] = field(default_factory=lambda: dict.fromkeys(USERS, 0))
    tasks: list[tuple[int, int]] = field(default_factory=list)  # (task id, user)
    submitted: set[int] = field(default_factory=set)
    ended: set[int] = field(default_factory=set)
    purchases: dict[str, tuple[int, int]] = field(default_factory=dict)  # charge -> (user, credits)
    refunded: set[str] = field(default_factory=set)
    grants: int = 0


async def run(ops: list[tuple[object, ...]], path: Path) -> None:
    storage = Storage(path)
    await storage.open()
    model = Model()
    ledger = storage.ledger
    try:
        for op in ops:
            kind = op[0]
            if kind == "task":
                user = int(op[1])  # type: ignore[call-overload]
                try:
                    task = await storage.tasks.create(
                        user_id=user, chat_id=user, kind=TaskKind.GENERATE, params={}, model=None, now=NOW,
                        charge=Charge(COST),
                    )  # fmt: skip
                except InsufficientCredits:
                    assert model.balance[user] < COST
                else:
                    assert model.balance[user] >= COST
                    model.balance[user] -= COST
                    model.tasks.append((task.id, user))
            elif kind in ("submit", "complete", "fail") and model.tasks:
                task_id, user = model.tasks[int(op[1]) % len(model.tasks)]  # type: ignore[call-overload]
                if kind == "submit":
                    await storage.tasks.mark_submitted(task_id, f"p{task_id}", now=NOW)
                    model.submitted.add(task_id)
                elif kind == "complete":
                    await storage.tasks.apply(
                        event_id=None, task_id=task_id, reported=Stage.COMPLETE, tracks=[], error_code=None,
                        error_text=None, now=NOW,
                    )  # fmt: skip
                    model.ended.add(task_id)
                else:
                    code = int(op[2])  # type: ignore[call-overload]
                    if await storage.tasks.mark_failed(task_id, code=code, text="x", now=NOW):
                        assert task_id not in model.ended
                        model.ended.add(task_id)
                        if not (code in PERSONS_OWN and task_id in model.submitted):
                            model.balance[user] += COST
            elif kind == "buy":
                user, charge, credits = int(op[1]), f"c{op[2]}", int(op[3])  # type: ignore[call-overload]
                written = await ledger.append(
                    user_id=user, kind=EntryKind.PURCHASE, amount=credits, reason="pack",
                    key=f"purchase:{charge}", now=NOW, stars=credits * 5,
                )  # fmt: skip
                assert written == (charge not in model.purchases)
                if written:
                    model.purchases[charge] = (user, credits)
                    model.balance[user] += credits
            elif kind == "refund":
                charge = f"c{op[1]}"
                if charge in model.purchases:
                    user, credits = model.purchases[charge]
                    written = await ledger.append(
                        user_id=user, kind=EntryKind.REFUND, amount=-credits, reason="refund",
                        key=f"refund:{charge}", now=NOW,
                    )  # fmt: skip
                    assert written == (charge not in model.refunded)
                    if written:
                        model.refunded.add(charge)
                        model.balance[user] -= credits
            elif kind == "grant":
                user, credits = int(op[1]), int(op[2])  # type: ignore[call-overload]
                model.grants += 1
                await ledger.append(
                    user_id=user, kind=EntryKind.ADJUSTMENT, amount=credits, reason="admin",
                    key=f"adjust:{model.grants}", now=NOW,
                )  # fmt: skip
                model.balance[user] += credits
        for user in USERS:
            entries = await ledger.entries(user, limit=10_000)
            assert await ledger.balance(user) == sum(e.amount for e in entries) == model.balance[user]
            open_tasks = [t for t, u in model.tasks if u == user and t not in model.ended]
            assert await ledger.held(user) == COST * len(open_tasks)
            assert len({e.key for e in entries}) == len(entries)
    finally:
        await storage.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=200, max_size=400))
def test_balances_are_the_sum_of_entries_after_a_randomized_run(ops: list[tuple[object, ...]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(run(ops, Path(folder) / "ledger.sqlite3"))
