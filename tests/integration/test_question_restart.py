"""Open questions are kept in the database: a restart mid-question carries on where the person was."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import pytest

from bot.settings import Settings
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.telegram.server import TelegramEmulator
from storage.models import TaskKind
from storage.store import Storage

ALICE = 1001


@pytest.fixture
def alice(telegram: TelegramEmulator) -> ScriptedPerson:
    return ScriptedPerson(telegram, ALICE, first_name="Alice", timeout=15)


async def stored_step(storage: Storage) -> int | None:
    """The step of Alice's stored draft, None when nothing is stored for her."""
    rows = {row.user_id: row.data for row in await storage.conversations.user_data()}
    return json.loads(rows[ALICE])["draft"]["step"] if ALICE in rows else None


async def test_a_restart_mid_custom_carries_on_with_the_earlier_answers(
    settings: Settings,
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    alice: ScriptedPerson,
) -> None:
    async with start_bot(settings):
        await alice.say("/custom")
        await alice.answer("What is the title?", text="Night Drive")
        await alice.wait_for_text("Which style?")
    async with start_bot(settings) as bot:  # the same data dir: a deploy, or a crash and a restart
        await alice.say("synthwave")
        await alice.answer("Send the lyrics", button="Instrumental")
        await alice.wait_for_text("Night Drive")  # the progress message names the task
        [task] = await bot.services.storage.tasks.recent_for_user(ALICE)
        assert task.kind is TaskKind.CUSTOM
        assert task.params["title"] == "Night Drive" and task.params["style"] == "synthwave"
        assert task.params["instrumental"] is True


async def test_an_answer_is_stored_within_about_a_second_and_forgotten_when_the_question_ends(
    bot: RunningBot, alice: ScriptedPerson, wait_until: Callable[..., Awaitable[None]]
) -> None:
    storage = bot.services.storage

    async def title_stored() -> bool:
        return await stored_step(storage) == 1

    async def nothing_stored() -> bool:
        return await stored_step(storage) is None and await storage.conversations.conversations("forms") == []

    await alice.say("/custom")
    await alice.answer("What is the title?", text="Night Drive")
    await alice.wait_for_text("Which style?")
    # Without a shutdown to flush it: what a crash would find. PTB writes every second; 3 s is slack.
    await wait_until(title_stored, timeout=3)
    assert len(await storage.conversations.conversations("forms")) == 1
    await alice.say("/cancel")
    await alice.wait_for_text("Cancelled")
    await wait_until(nothing_stored, timeout=3)
