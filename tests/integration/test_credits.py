"""Charging tasks with credits (payments on): held at creation, settled, released, never overspent."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from bot.settings import Settings
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.ledger import EntryKind, LedgerRepository

ADMIN = 9001
PAYMENTS = {"STARS_PACKS": "10:50,50:200", "MAX_ACTIVE_TASKS_PER_USER": 20, "MAX_TASKS_PER_DAY": 50}


async def test_ten_simultaneous_songs_with_credits_for_three_make_exactly_three(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    person = ScriptedPerson(telegram, 4101)
    async with start_bot(make_settings(FREE_CREDITS=3, **PAYMENTS)) as bot:
        await asyncio.gather(*(person.say(f"/generate song number {i}") for i in range(10)))
        await telegram.wait_for(lambda: len(telegram.audios(person.user_id)) == 6, timeout=30)
        ledger = bot.services.storage.ledger

        async def settled() -> bool:
            return await ledger.held(person.user_id) == 0

        await wait_until(settled, timeout=10)
        assert len(await bot.services.storage.tasks.recent_for_user(person.user_id, limit=20)) == 3
        assert len(provider.api_requests("generate")) == 3
        shorts = [m for m in telegram.bot_messages(person.user_id) if "Not enough credits" in (m.text or "")]
        assert len(shorts) == 7
        assert await ledger.balance(person.user_id) == 0
        kinds = sorted(e.kind for e in await ledger.entries(person.user_id))
        assert kinds == sorted([EntryKind.GRANT] + [EntryKind.HOLD] * 3 + [EntryKind.SETTLE] * 3)


async def test_a_song_failed_by_the_provider_gives_its_credits_back(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    person = ScriptedPerson(telegram, 4102)
    provider.script(fail_with=(531, "Generation failed, credits refunded"))
    async with start_bot(make_settings(FREE_CREDITS=1, **PAYMENTS)) as bot:
        ledger = bot.services.storage.ledger
        await person.say("/generate a song that fails")

        async def released() -> bool:
            return any(e.kind is EntryKind.RELEASE for e in await ledger.entries(person.user_id))

        await wait_until(released, timeout=15)
        assert await ledger.balance(person.user_id) == 1
        # The credit given back buys the next song.
        await person.say("/generate a song that works")
        await telegram.wait_for(lambda: len(telegram.audios(person.user_id)) == 2, timeout=20)
        assert len(provider.api_requests("generate")) == 2


async def test_the_persons_own_error_after_acceptance_keeps_the_credits(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    person = ScriptedPerson(telegram, 4103)
    provider.script(sensitive=True)
    async with start_bot(make_settings(FREE_CREDITS=1, **PAYMENTS)) as bot:
        ledger = bot.services.storage.ledger
        await person.say("/generate a song with words the provider refuses")

        async def ended() -> bool:
            return await ledger.by_key("settle:1") is not None or await ledger.by_key("release:1") is not None

        await wait_until(ended, timeout=15)
        assert await ledger.by_key("release:1") is None
        assert await ledger.balance(person.user_id) == 0
        await person.say("/generate another")
        await person.wait_for_text("Not enough credits")
        assert len(provider.api_requests("generate")) == 1


async def test_admins_are_never_charged_and_payments_off_writes_no_entries(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    admin = ScriptedPerson(telegram, ADMIN)
    async with start_bot(make_settings(ADMIN_USER_IDS=str(ADMIN), **PAYMENTS)) as bot:
        await admin.say("/generate an admin's song")
        await telegram.wait_for(lambda: len(telegram.audios(ADMIN)) == 2, timeout=20)
        assert await bot.services.storage.ledger.entries(ADMIN) == []
    person = ScriptedPerson(telegram, 4104)
    async with start_bot(make_settings()) as bot:
        await person.say("/generate a free song")
        await telegram.wait_for(lambda: len(telegram.audios(person.user_id)) == 2, timeout=20)
        assert await bot.services.storage.ledger.entries(person.user_id) == []


async def test_a_referral_rewards_both_sides_once_at_the_newcomers_first_song(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    referrer, newcomer, other = (ScriptedPerson(telegram, uid) for uid in (4301, 4302, 4303))
    settings = make_settings(FREE_CREDITS=2, REFERRAL_CREDITS=3, **PAYMENTS)
    async with start_bot(settings) as bot:
        ledger = bot.services.storage.ledger
        await referrer.say("/balance")
        await referrer.wait_for_text("Invite friends with your link")
        [line] = [m.text for m in telegram.bot_messages(referrer.user_id) if "start=ref_" in (m.text or "")]
        assert line is not None
        code = line.split("start=", 1)[1].split()[0]

        await referrer.say(f"/start {code}")  # one's own link earns nothing
        await newcomer.say(f"/start {code}")
        await newcomer.wait_for_text("you and the friend who invited you each get 3 credits")
        await newcomer.say(f"/start {code}")  # a second arrival changes nothing
        await other.say(f"/start {code[:-1]}x")  # nor does a forged code
        for song in range(2):
            await newcomer.say(f"/generate song {song}")
            await newcomer.wait_for_audios(2 * (song + 1))

        async def rewarded() -> bool:
            return await ledger.balance(referrer.user_id) == 2 + 3

        await wait_until(rewarded, timeout=10)
        await wait_until(lambda: _settled(ledger, newcomer.user_id), timeout=10)
        assert await ledger.balance(newcomer.user_id) == 2 + 3 - 2
        referral_entries = [
            e
            for uid in (referrer.user_id, newcomer.user_id, other.user_id)
            for e in await ledger.entries(uid)
            if e.kind is EntryKind.REFERRAL
        ]
        assert sorted((e.user_id, e.amount) for e in referral_entries) == [(4301, 3), (4302, 3)]
        assert await ledger.entries(other.user_id) == []


async def _settled(ledger: LedgerRepository, user_id: int) -> bool:
    return await ledger.held(user_id) == 0
