"""The credit ledger: idempotent entries, holds that never overspend, and holds ended with their task."""

from __future__ import annotations

import pytest

from bot.payments.referrals import ReferralCodes
from storage.ledger import Charge, EntryKind, InsufficientCredits
from storage.models import Stage, Task, TaskKind
from storage.store import Storage

NOW = 1_700_000_000.0
PARAMS = {"customMode": False, "model": "V4_5", "prompt": "rain"}


async def paid_task(storage: Storage, user_id: int, charge: Charge) -> Task:
    return await storage.tasks.create(
        user_id=user_id,
        chat_id=user_id,
        kind=TaskKind.GENERATE,
        params=PARAMS,
        model="V4_5",
        now=NOW,
        charge=charge,
    )


async def test_an_entry_is_written_once_per_key(storage: Storage) -> None:
    for _ in range(3):
        await storage.ledger.append(
            user_id=1, kind=EntryKind.PURCHASE, amount=10, reason="pack", key="charge:abc", now=NOW
        )
    assert await storage.ledger.balance(1) == 10
    assert [e.key for e in await storage.ledger.entries(1)] == ["charge:abc"]


async def test_free_credits_are_granted_once_and_a_short_balance_makes_no_task(storage: Storage) -> None:
    charge = Charge(credits=2, free_credits=3)
    first = await paid_task(storage, 7, charge)
    with pytest.raises(InsufficientCredits) as short:
        await paid_task(storage, 7, charge)
    assert (short.value.balance, short.value.needed) == (1, 2)
    # The refused task rolled back with its hold: only the first exists.
    assert [t.id for t in await storage.tasks.recent_for_user(7)] == [first.id]
    assert await storage.ledger.balance(7) == 1
    assert await storage.ledger.held(7) == 2


async def test_a_hold_is_settled_on_completion_and_released_on_a_failure_not_the_persons(
    storage: Storage,
) -> None:
    charge = Charge(credits=1, free_credits=3)
    done, broken, refused = [await paid_task(storage, 8, charge) for _ in range(3)]
    for task in (done, broken, refused):
        await storage.tasks.mark_submitted(task.id, f"p-{task.id}", now=NOW + 1)
    await storage.tasks.apply(
        event_id=None, task_id=done.id, reported=Stage.COMPLETE, tracks=[], error_code=None,
        error_text=None, now=NOW + 2,
    )  # fmt: skip
    await storage.tasks.mark_failed(broken.id, code=531, text="refunded", now=NOW + 2)
    await storage.tasks.mark_failed(refused.id, code=400, text="sensitive", now=NOW + 2)
    # Failing again ends nothing twice.
    await storage.tasks.mark_failed(broken.id, code=500, text="again", now=NOW + 3)
    kinds = {e.key: (e.kind, e.amount) for e in await storage.ledger.entries(8)}
    assert kinds[f"settle:{done.id}"] == (EntryKind.SETTLE, 0)
    assert kinds[f"release:{broken.id}"] == (EntryKind.RELEASE, 1)
    assert kinds[f"settle:{refused.id}"] == (EntryKind.SETTLE, 0)
    assert f"release:{refused.id}" not in kinds
    assert await storage.ledger.balance(8) == 1
    assert await storage.ledger.held(8) == 0


async def test_a_failure_before_the_provider_accepted_the_task_gives_the_credits_back(
    storage: Storage,
) -> None:
    task = await paid_task(storage, 9, Charge(credits=1, free_credits=1))
    # 400 on submission: the provider refused before making anything, so it charged nothing.
    await storage.tasks.mark_failed(task.id, code=400, text="bad request", now=NOW + 1)
    assert await storage.ledger.balance(9) == 1


async def test_tasks_without_a_charge_write_no_entries(storage: Storage) -> None:
    task = await storage.tasks.create(
        user_id=5, chat_id=5, kind=TaskKind.GENERATE, params=PARAMS, model="V4_5", now=NOW
    )
    await storage.tasks.mark_failed(task.id, code=500, text="x", now=NOW + 1)
    assert await storage.ledger.entries(5) == []


async def test_only_a_newcomer_is_referred_once_and_never_by_themselves(storage: Storage) -> None:
    assert not await storage.ledger.refer(20, 20, 3, now=NOW)
    assert await storage.ledger.refer(21, 20, 3, now=NOW)
    assert not await storage.ledger.refer(21, 22, 3, now=NOW)  # the first link stands
    await paid_task(storage, 23, Charge(credits=1, free_credits=1))
    assert not await storage.ledger.refer(23, 20, 3, now=NOW)  # made a song already: not new


def test_referral_codes_name_their_person_and_refuse_forgeries() -> None:
    codes = ReferralCodes("key")
    code = codes.code(123456789)
    assert code.startswith("ref_") and len(code) <= 64
    assert codes.read(code) == 123456789
    assert codes.read(code[:-1] + ("A" if code[-1] != "A" else "B")) is None
    assert ReferralCodes("other key").read(code) is None
    assert codes.read("ref_") is None and codes.read("hello") is None
