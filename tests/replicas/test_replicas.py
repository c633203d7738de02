"""Two real replicas on one PostgreSQL database serve any request: question flows, deliveries, crashes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from emulators.balancer import Balancer
from emulators.person import ScriptedPerson
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
