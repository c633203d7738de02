"""Two real replicas on one PostgreSQL database serve any request: question flows, deliveries, crashes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from emulators.balancer import Balancer
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.models import TaskKind
from storage.store import Storage
from tests.replicas.conftest import StartReplicas

ALICE = 1001


@pytest.fixture
async def shared(tmp_path: Path, postgres_url: str) -> AsyncIterator[Storage]:
    """The replicas' database, as the test reads it."""
    store = Storage(tmp_path / "unused.sqlite3", url=postgres_url)
    await store.open()
    yield store
    await store.close()


async def test_a_custom_flow_whose_answers_alternate_between_replicas_carries_on(
    start_replicas: StartReplicas,
    balancer: Balancer,
    telegram: TelegramEmulator,
    shared: Storage,
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    await start_replicas(2)
    alice = ScriptedPerson(telegram, ALICE, timeout=20)

    async def stored_step(step: int) -> None:
        # The question reaches the person a few milliseconds before its replica has written it; a person
        # reads it first, the script waits for the write instead.
        async def reached() -> bool:
            rows = {row.user_id: row.data for row in await shared.conversations.user_data()}
            return ALICE in rows and json.loads(rows[ALICE])["draft"]["step"] == step

        await wait_until(reached, timeout=5)

    served_before = dict(balancer.served)
    # Each update the emulator posts to the webhook goes to the replica pinned for it, in turn.
    balancer.pin_next(0)
    await alice.say("/custom")
    await alice.wait_for_text("What is the title?")
    await stored_step(0)
    balancer.pin_next(1)
    await alice.say("Night Drive")
    await alice.wait_for_text("Which style?")
    await stored_step(1)
    balancer.pin_next(0)
    await alice.say("synthwave")
    await alice.wait_for_text("Send the lyrics")
    await stored_step(2)
    balancer.pin_next(1)
    await alice.press("Instrumental")
    await alice.wait_for_text("Night Drive")  # the progress message names the task: every answer held
    [task] = await shared.tasks.recent_for_user(ALICE)
    assert task.kind is TaskKind.CUSTOM
    assert task.params["title"] == "Night Drive" and task.params["style"] == "synthwave"
    assert task.params["instrumental"] is True
    assert balancer.served[0] - served_before.get(0, 0) >= 2
    assert balancer.served[1] - served_before.get(1, 0) >= 2


async def stages(shared: Storage, people: list[int]) -> list[str]:
    found = []
    for person in people:
        found += [task.stage.value for task in await shared.tasks.recent_for_user(person)]
    return found


def assert_each_delivered_once(telegram: TelegramEmulator, people: list[int]) -> None:
    for person in people:
        audios = telegram.audios(person)
        assert len(audios) == 2, (person, len(audios))
        assert len({m.audio["sha256"] for m in audios}) == 2, person
    assert len(telegram.calls("sendAudio")) == 2 * len(people)


async def test_a_burst_of_40_people_across_two_replicas_is_delivered_exactly_once_within_the_limits(
    start_replicas: StartReplicas,
    balancer: Balancer,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    await start_replicas(2)
    people = [2000 + n for n in range(40)]
    await asyncio.gather(*(telegram.user_sends_text(p, f"/generate a song number {p}") for p in people))
    await telegram.wait_for(lambda: all(len(telegram.audios(p)) >= 2 for p in people), timeout=150)
    assert_each_delivered_once(telegram, people)
    assert balancer.served[0] > 0 and balancer.served[1] > 0  # both replicas took part
    # The limits are the provider's and Telegram's, not each replica's: two replicas together stay
    # within them only when they share the budget and the pace (helper/limits, merged). Without it 91
    # requests of this burst went over the budget; the last two were each replica's start-up probe of the
    # balance, sent outside the budget (issue 14), and it now takes its slot too.
    assert provider.violations == [], [(v.arrived, v.path) for v in provider.violations]
    assert telegram.violations == []


async def test_kill_9_of_a_replica_after_first_leaves_the_other_to_deliver_every_track_once(
    start_replicas: StartReplicas,
    balancer: Balancer,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    shared: Storage,
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    provider.stage_delays = (0.05, 0.1, 3.0)  # a while between `first` and `complete`
    victim, survivor = await start_replicas(2)
    people = [3000 + n for n in range(10)]
    await asyncio.gather(*(telegram.user_sends_text(p, f"/generate a song number {p}") for p in people))

    async def all_first() -> bool:
        found = await stages(shared, people)
        return len(found) == len(people) and all(stage == "first" for stage in found)

    await wait_until(all_first, timeout=60)
    victim.kill()
    await victim.process.wait()  # type: ignore[union-attr]
    # The dead replica's leases run out (20 s) and the survivor takes its work over.
    await telegram.wait_for(lambda: all(len(telegram.audios(p)) >= 2 for p in people), timeout=120)

    async def all_complete() -> bool:
        found = await stages(shared, people)
        return all(stage == "complete" for stage in found)

    await wait_until(all_complete, timeout=30)
    assert_each_delivered_once(telegram, people)
    assert survivor.process is not None and survivor.process.returncode is None
