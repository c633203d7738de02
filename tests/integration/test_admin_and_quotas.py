"""Access, quotas under concurrency, and the admin commands, through the real bot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from bot.settings import Settings
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator

ADMIN = 9001


async def test_many_people_at_once_each_get_at_most_their_quota(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    settings = make_settings(MAX_ACTIVE_TASKS_PER_USER=1, MAX_TASKS_PER_DAY=2)
    people = [ScriptedPerson(telegram, 5000 + i) for i in range(12)]
    async with start_bot(settings) as bot:
        for _ in people:  # every task stays running, so no one can slip in a second
            provider.script(hold=True)
        # Every person fires three /generate at once: exactly one each may start.
        await asyncio.gather(*(p.say(f"/generate song number {i}") for p in people for i in range(3)))
        await telegram.wait_for(lambda: all(p.bot_said("songs in the making") for p in people), timeout=30)
        await telegram.wait_for(lambda: len(provider.api_requests("generate")) == len(people), timeout=30)
        for person in people:
            assert await bot.services.storage.tasks.count_active(person.user_id) == 1
        assert len(provider.api_requests("generate")) == len(people)


async def test_allowed_users_and_admin_commands(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    settings = make_settings(ALLOWED_USER_IDS="7001", ADMIN_USER_IDS=str(ADMIN))
    stranger, member, admin = (ScriptedPerson(telegram, uid) for uid in (7002, 7001, ADMIN))
    async with start_bot(settings):
        await stranger.say("/generate a song")
        await stranger.wait_for_text("this bot is private")
        assert provider.api_requests("generate") == []

        await member.say("/credits")
        await member.wait_for_text("for the bot's admins")

        await admin.say("/credits")
        await admin.wait_for_text(f"Provider balance: {provider.credits} credits")

        await admin.say("/allow 7002")
        await admin.wait_for_text("User 7002 may use the bot now")
        await stranger.say("/generate a song")
        await telegram.wait_for(lambda: len(telegram.audios(7002)) == 2, timeout=20)

        await admin.say("/block 7001")
        await admin.wait_for_text("User 7001 is blocked")
        await member.say("/generate another")
        await member.wait_for_text("this bot is private")

        await admin.say("/stats")
        await admin.wait_for_text("Today: 1 tasks, 1 done, 0 failed")


async def test_out_of_credits_tells_each_person_and_alerts_admins_once(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    admin = ScriptedPerson(telegram, ADMIN)
    people = [ScriptedPerson(telegram, 8000 + i) for i in range(3)]
    provider.fail_next_request("generate", 429, "Insufficient credits", times=3)
    async with start_bot(make_settings(ADMIN_USER_IDS=str(ADMIN))) as bot:
        await admin.say("/start")
        await admin.wait_for_text("I make music")
        for person in people:
            await person.say("/generate a song")
        await telegram.wait_for(lambda: all(p.bot_said("out of credits") for p in people), timeout=20)
        await bot.services.tasks.idle()
    alerts = [m for m in telegram.bot_messages(ADMIN) if "out of credits" in (m.text or "")]
    assert len(alerts) == 1
    assert len(provider.api_requests("generate")) == 3  # 429 is never retried: each was asked once


async def test_waiting_people_see_their_place_in_the_provider_queue(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    # One request per 3 s: the second and third submissions wait their turn.
    settings = make_settings(SUNO_REQUESTS_PER_WINDOW=1, SUNO_REQUEST_WINDOW=3)
    people = [ScriptedPerson(telegram, 8100 + i) for i in range(3)]
    async with start_bot(settings) as bot:
        for person in people:
            await person.say(f"/generate song for {person.user_id}")
            await person.wait_for_text("Song from a description")
        last = people[-1]
        await telegram.wait_for(lambda: last.bot_said("in the queue"), timeout=10)
        assert bot.services.tasks.queue_position(3) in (1, 2)
        await telegram.wait_for(lambda: len(provider.api_requests("generate")) == 3, timeout=20)
        assert provider.violations == []
