"""What an operator gets beyond the chat: the bot's profile texts, /broadcast, and the low-balance alert."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

from bot.i18n import Texts
from bot.settings import Settings
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator

ADMIN = 9001
NEWS = "New styles are in!\nTry /generate a sea shanty about coffee."

StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]


async def people_who_started(telegram: TelegramEmulator, user_ids: range) -> list[ScriptedPerson]:
    people = [ScriptedPerson(telegram, uid) for uid in user_ids]
    for person in people:
        await person.say("/start")
    await telegram.wait_for(lambda: all(p.bot_said("I make music") for p in people), timeout=30)
    return people


def copies(telegram: TelegramEmulator, chat_id: int, text: str = NEWS) -> int:
    return sum(1 for m in telegram.bot_messages(chat_id) if m.text == text)


# ---- the bot's profile ---------------------------------------------------------------------------------


async def test_the_description_is_set_from_the_catalogue_in_both_languages_and_only_when_it_changed(
    settings: Settings, start_bot: StartBot, telegram: TelegramEmulator
) -> None:
    en, ru = Texts("en"), Texts("ru")
    async with start_bot(settings):
        assert telegram.descriptions == {"": en("bot.description"), "ru": ru("bot.description")}
        assert telegram.short_descriptions == {
            "": en("bot.short_description"),
            "ru": ru("bot.short_description"),
        }
    sets = len(telegram.calls("setMyDescription")) + len(telegram.calls("setMyShortDescription"))
    assert sets == 4

    # Telegram limits how often these may be set: a restart with the same texts only reads them.
    async with start_bot(settings):
        pass
    assert len(telegram.calls("setMyDescription")) + len(telegram.calls("setMyShortDescription")) == sets
    assert len(telegram.calls("getMyDescription")) == 4


# ---- /broadcast ----------------------------------------------------------------------------------------


async def test_a_broadcast_asks_first_then_reaches_everyone_and_the_admin_gets_the_count(
    make_settings: Callable[..., Settings], start_bot: StartBot, telegram: TelegramEmulator
) -> None:
    async with start_bot(make_settings(ADMIN_USER_IDS=str(ADMIN))) as bot:
        people = await people_who_started(telegram, range(7101, 7105))
        gone = ScriptedPerson(telegram, 7105)
        await gone.say("/start")
        await gone.wait_for_text("I make music")
        telegram.block_bot(gone.user_id)
        admin = ScriptedPerson(telegram, ADMIN)

        await people[0].say(f"/broadcast {NEWS}")
        await people[0].wait_for_text("for the bot's admins")

        await admin.say(f"/broadcast {NEWS}")
        await admin.wait_for_text(f"Send this to 5 people?\n\n{NEWS}")  # the admin and the four, not the gone
        assert not any(copies(telegram, p.user_id) for p in people)  # nothing before the confirmation

        await admin.press("Send to 5")
        await admin.wait_for_text("Broadcast #1 is done: 5 delivered, 1 had blocked the bot, 0 failed.")
        assert [copies(telegram, p.user_id) for p in [*people, admin]] == [1, 1, 1, 1, 1]
        assert copies(telegram, gone.user_id) == 0
        assert admin.bot_said("Sending broadcast #1 to 5 people", since_last_action=False)

        # A second press (a stale button, a double tap) sends nothing again.
        confirmation = next(
            m for m in telegram.bot_messages(ADMIN) if "Sending broadcast #1" in (m.text or "")
        )
        query = await telegram.user_presses_button(
            ADMIN, confirmation.message_id, "bc:send:1", require_button=False
        )
        await telegram.wait_for(
            lambda: any(
                a.callback_query_id == query and "not waiting" in (a.text or "")
                for a in telegram.answered_callbacks
            )
        )
        assert "Sending broadcast #1" in (telegram.store.message(ADMIN, confirmation.message_id).text or "")
        await bot.services.tasks.idle()
        assert [copies(telegram, p.user_id) for p in [*people, admin]] == [1, 1, 1, 1, 1]
        dones = [m for m in telegram.bot_messages(ADMIN) if "Broadcast #1 is done" in (m.text or "")]
        assert len(dones) == 1
    assert telegram.violations == []  # paced within Telegram's limits


async def test_a_cancelled_broadcast_sends_nothing(
    make_settings: Callable[..., Settings], start_bot: StartBot, telegram: TelegramEmulator
) -> None:
    async with start_bot(make_settings(ADMIN_USER_IDS=str(ADMIN))) as bot:
        people = await people_who_started(telegram, range(7201, 7203))
        admin = ScriptedPerson(telegram, ADMIN)
        await admin.say(f"/broadcast {NEWS}")
        await admin.wait_for_text("Send this to 3 people?")
        await admin.press("Cancel")
        await telegram.wait_for(
            lambda: admin.bot_said("Broadcast cancelled: nothing", since_last_action=False)
        )
        await bot.services.tasks.idle()
        assert [copies(telegram, p.user_id) for p in [*people, admin]] == [0, 0, 0]

        await admin.say("/broadcast")
        await admin.wait_for_text("Usage: /broadcast <text>")


async def test_a_broadcast_stopped_half_way_goes_on_after_a_restart_exactly_once(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    # A slow global pace keeps the broadcast going long enough to stop the bot in the middle of it.
    settings = make_settings(ADMIN_USER_IDS=str(ADMIN), TELEGRAM_GLOBAL_RATE=4)
    everyone = [*range(7301, 7311), ADMIN]
    async with start_bot(settings):
        await people_who_started(telegram, range(7301, 7311))
        admin = ScriptedPerson(telegram, ADMIN)
        await admin.say(f"/broadcast {NEWS}")
        await admin.wait_for_text("Send this to 11 people?")
        await admin.press("Send to 11")
        await telegram.wait_for(lambda: sum(copies(telegram, uid) for uid in everyone) >= 2, timeout=20)
    sent_before = sum(copies(telegram, uid) for uid in everyone)
    assert sent_before < len(everyone), "the broadcast finished before the stop: nothing left to resume"
    assert not admin.bot_said("Broadcast #1 is done", since_last_action=False)

    async with start_bot(settings) as bot:
        await admin.wait_for_text("Broadcast #1 is done: 11 delivered, 0 had blocked the bot, 0 failed.")
        await bot.services.tasks.idle()
        counts = await bot.services.storage.broadcasts.counts(1)
    assert [copies(telegram, uid) for uid in everyone] == [1] * len(everyone)
    assert counts == {"pending": 0, "delivered": 11, "blocked": 0, "failed": 0}
    assert len([m for m in telegram.bot_messages(ADMIN) if "Broadcast #1 is done" in (m.text or "")]) == 1


# ---- the low-balance alert -----------------------------------------------------------------------------


async def test_a_low_balance_alerts_the_admins_once_per_episode(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    settings = make_settings(ADMIN_USER_IDS=str(ADMIN), CREDITS_ALERT_BELOW=500, CREDITS_CHECK_INTERVAL=0.01)
    person, admin = ScriptedPerson(telegram, 7401), ScriptedPerson(telegram, ADMIN)

    def alerts() -> list[str]:
        return [m.text or "" for m in telegram.bot_messages(ADMIN) if "below the 500" in (m.text or "")]

    async def song(bot: RunningBot) -> None:
        """One song made; then wait until the balance check it caused has read the balance."""
        before = len(provider.api_requests("credit"))
        await person.say("/generate a calm song")
        await person.wait_for_audios(len(telegram.audios(person.user_id)) + 2)
        await telegram.wait_for(lambda: len(provider.api_requests("credit")) > before, timeout=10)
        await bot.services.tasks.idle()

    async with start_bot(settings) as bot:
        await admin.say("/start")
        await admin.wait_for_text("I make music")
        await song(bot)  # 1000 credits: fine
        assert alerts() == []

        provider.credits = 300
        await song(bot)
        await telegram.wait_for(lambda: len(alerts()) == 1, timeout=10)
        assert "balance is 288 credits" in alerts()[0]  # 300 less the song's 12

        await song(bot)  # still low: the same episode, no second alert
        provider.credits = 2000
        await song(bot)  # back above: the episode ends
        assert len(alerts()) == 1

    provider.credits = 100
    async with start_bot(settings) as bot:  # a new episode, after a restart too
        await song(bot)
        await telegram.wait_for(lambda: len(alerts()) == 2, timeout=10)
        assert "balance is 88 credits" in alerts()[1]
