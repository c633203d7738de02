"""Durability: pending work survives Telegram going away, a busy database, lost answers and restarts.

Every test drives the real bot against the emulators' scripted faults: front-proxy outages of the Bot
API, failing media downloads, lost submission answers, and a second connection holding the bot's SQLite
file exclusively (as a backup tool or an operator's sqlite3 shell would), with no restart unless the
test says so. What must hold each time: each track reaches the person exactly once, each request reaches
the provider exactly once, and nobody is shown a failure that did not happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
import pytest

from bot.locales.en import MESSAGES
from bot.settings import Settings
from bot.tasks.submitter import QUEUE_REFRESH_SECONDS
from emulators.harness import RunningBot
from emulators.provider.faults import LostAnswerMode
from emulators.provider.server import ProviderEmulator
from emulators.provider.tasks import EmulatedTask
from emulators.telegram.outage import OutageMode
from emulators.telegram.server import ChatEvent, TelegramEmulator
from storage.models import Stage
from tests.integration.test_faults import (
    ALICE,
    PROMPT,
    StartBot,
    WaitUntil,
    all_callbacks_answered,
    assert_delivered_once,
    generate,
    held_task,
    progress_messages,
    stage_is,
)

# Every failure a person can be shown starts with one of these (the text before any placeholder).
FAILURE_TEXTS = [text.split("{")[0] for key, text in MESSAGES.items() if key.startswith("error.")]
FAILED_MARK = f"❌ {MESSAGES['stage.failed']}"
QUEUE_TEXT = "in the queue"


def failures_shown(telegram: TelegramEmulator, user: int) -> list[str]:
    """Every failure the person's chat ever showed, in any message and any edit of it."""
    shown = []
    for message in telegram.bot_messages(user, include_deleted=True):
        for text in message.edits or [message.text or ""]:
            if FAILED_MARK in text or any(failure in text for failure in FAILURE_TEXTS):
                shown.append(text)
    return shown


def progress_text(telegram: TelegramEmulator, user: int = ALICE) -> str:
    messages = progress_messages(telegram, user)
    return (messages[0].text or "") if messages else ""


def delivered_and_done(telegram: TelegramEmulator, user: int = ALICE) -> Callable[[], bool]:
    return lambda: len(telegram.audios(user)) == 2 and "Done!" in progress_text(telegram, user)


class DatabaseHold:
    """Another connection holding the bot's database exclusively for `seconds`, then letting go.

    The bot's own connections wait their busy (SQLite) or lock (PostgreSQL) timeout for it and then fail,
    which is what a long backup, a migration by hand or a slow disk does to a running bot. On PostgreSQL
    every table is locked in EXCLUSIVE mode, which, like SQLite's WAL, still lets reads through.
    """

    def __init__(self, settings: Settings, seconds: float) -> None:
        self.path = settings.database_path
        self.url = settings.database_url.get_secret_value() if settings.database_url else None
        self.seconds = seconds
        self.taken_at: float | None = None  # time.time(), as log records stamp themselves
        self.released_at: float | None = None
        self._holder: asyncio.Task[None] | None = None

    @property
    def taken(self) -> bool:
        return self.taken_at is not None

    def take_now(self) -> None:
        """Take it at once, from a synchronous hook, so it is held before the hook's caller goes on.

        Only a write of the bot's already under way can delay it, and that one commits on its own
        thread, so blocking the loop for it cannot deadlock."""
        self._hold(self._exclusive())

    async def take(self) -> None:
        self._hold(await asyncio.to_thread(self._exclusive))

    def _exclusive(self) -> Any:
        if self.url is None:
            conn = sqlite3.connect(self.path, timeout=2.0, isolation_level=None, check_same_thread=False)
            conn.execute("BEGIN EXCLUSIVE")
            return conn
        pg = psycopg.connect(self.url)  # a transaction is open from the first statement until rollback
        tables = [row[0] for row in pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        pg.execute(f"LOCK TABLE {', '.join(tables)} IN EXCLUSIVE MODE")
        return pg

    def _hold(self, conn: Any) -> None:
        self.taken_at = time.time()
        self._holder = asyncio.get_running_loop().create_task(self._release_later(conn))

    async def _release_later(self, conn: Any) -> None:
        try:
            await asyncio.sleep(self.seconds)  # the length of the scripted fault, like an outage's
        finally:
            await asyncio.to_thread(_release, conn)
            self.released_at = time.time()

    async def close(self) -> None:
        if self._holder is not None:
            await self._holder


def _release(conn: Any) -> None:
    conn.rollback()
    conn.close()


@contextlib.asynccontextmanager
async def database_hold(settings: Settings, seconds: float) -> AsyncIterator[DatabaseHold]:
    hold = DatabaseHold(settings, seconds)
    try:
        yield hold
    finally:
        await hold.close()


# ---- Telegram goes away ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["502", "reset"])
async def test_telegram_outage_while_a_song_completes(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, mode: OutageMode
) -> None:
    provider.script(delays=(0.05, 0.1, 1.0))
    await generate(telegram)
    await telegram.wait_for(lambda: len(progress_messages(telegram)) == 1)
    outage = telegram.outage(15, mode=mode)
    # The provider finishes (its callbacks reach the bot, not Telegram) while Telegram is away.
    await provider.wait_for(lambda: bool(provider.tasks) and provider.last_task.terminal, timeout=10)
    await all_callbacks_answered(provider)
    assert outage.active
    await outage.over()
    refused = {c.method for c in telegram.requests if c.fault == f"outage:{mode}"}
    assert {"sendAudio", "editMessageText"} & refused, refused  # the bot did try while it was away
    # Telegram was asked whether it was back (getMe) while it was away...
    assert "getMe" in refused, refused
    # ...so what waited for it goes out at once, without a restart and without waiting out each item's
    # backoff (up to a minute): within a probe's interval and the chat's pace.
    await telegram.wait_for(delivered_and_done(telegram), timeout=6)
    await assert_delivered_once(bot, telegram)
    assert [c.status for c in telegram.calls("sendAudio") if c.fault is None] == [200, 200]
    assert "Done!" in progress_text(telegram)
    assert failures_shown(telegram, ALICE) == []


async def test_a_failed_final_edit_is_shown_again_and_the_tracks_still_go(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.script(delays=(0.05, 0.1, 60))  # `complete` only when the test says so
    await generate(telegram)
    await telegram.wait_for(lambda: "First track ready" in progress_text(telegram))
    await bot.services.tasks.idle()
    telegram.fail_next("editMessageText", error_code=500)
    provider.complete_now(provider.last_task.task_id)
    await telegram.wait_for(delivered_and_done(telegram), timeout=20)
    await assert_delivered_once(bot, telegram)
    failed = [c for c in telegram.calls("editMessageText") if c.status == 500]
    assert len(failed) == 1 and "Done!" in failed[0].params["text"]  # it was the final edit that failed
    assert "Done!" in progress_text(telegram)


# ---- the provider's CDN ---------------------------------------------------------------------------


async def test_a_track_download_failing_once_is_retried(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    # Uploads only: the bot downloads each track itself, so the failure is the bot's own download.
    settings = make_settings(DELIVERY_URL_SCHEMES="")
    provider.fail_next_downloads(1)
    async with start_bot(settings) as bot:
        await generate(telegram)
        await telegram.wait_for(delivered_and_done(telegram), timeout=20)
        await assert_delivered_once(bot, telegram)
    audio_gets = [r for r in provider.requests if r.method == "GET" and "/media/audio" in r.path]
    assert [r.fault for r in audio_gets][:1] == ["download:500"] and len(audio_gets) == 3
    assert [c.status for c in telegram.calls("sendAudio")] == [200, 200]
    assert failures_shown(telegram, ALICE) == []


# ---- the database is busy -------------------------------------------------------------------------


async def test_a_database_locked_as_a_submission_returns_loses_nothing(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The locked bot answers the provider's callbacks with errors, and the provider may give up on
    # them after its retries; polling every second brings their news in once the database is free.
    settings = make_settings(SUNO_POLL_INTERVAL=1)
    async with database_hold(settings, 12.0) as hold, start_bot(settings) as bot:

        async def lock_on_first_task(task: EmulatedTask) -> None:
            provider.on_task_created = None
            await hold.take()

        provider.on_task_created = lock_on_first_task
        await generate(telegram)
        await provider.wait_for(lambda: hold.taken, timeout=10)
        await telegram.wait_for(delivered_and_done(telegram), timeout=40)
        await assert_delivered_once(bot, telegram)
        assert hold.released_at is not None  # the song's events are writes: none landed before
        task = await bot.services.storage.tasks.require(1)
    provider_id = provider.last_task.task_id
    assert len(provider.api_requests("generate")) == 1 and len(provider.tasks) == 1
    assert task.provider_task_id == provider_id
    assert failures_shown(telegram, ALICE) == []
    assert hold.taken_at is not None
    # Named in the log early in the wait, before the database's busy timeout (5 s) could end a first
    # attempt: a process killed while it waits leaves the provider's id for an operator to reconcile.
    waited = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING
        and provider_id in r.getMessage()
        and hold.taken_at <= r.created <= hold.taken_at + 4.5
    ]
    assert waited, [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


async def test_a_database_locked_as_telegram_takes_a_track_sends_it_once(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings()
    # Longer than the bot's busy timeout (5 s), so recording the first track fails at least once.
    async with database_hold(settings, 6.5) as hold:

        def lock_on_first_audio(event: ChatEvent) -> None:
            if event.kind == "bot_audio" and not hold.taken:
                hold.take_now()  # before Telegram's answer leaves

        telegram.subscribe(lock_on_first_audio)
        async with start_bot(settings) as first:
            await generate(telegram)
            await telegram.wait_for(lambda: hold.taken, timeout=15)
            await telegram.wait_for(delivered_and_done(telegram), timeout=30)
            await assert_delivered_once(first, telegram)
            assert hold.released_at is not None
    first_audio = telegram.audios(ALICE)[0]
    # The hold did meet the write that records it: the send was kept and its record written again.
    assert any(
        f"delivered as message {first_audio.message_id}, but recording it failed" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    ), [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(telegram.calls("sendAudio")) == 2
    async with start_bot(settings) as second:  # a restart finds both recorded as sent
        await second.services.tasks.idle()
        await assert_delivered_once(second, telegram)
    assert len(telegram.calls("sendAudio")) == 2
    assert failures_shown(telegram, ALICE) == []


# ---- restarts -------------------------------------------------------------------------------------


async def test_a_restart_while_people_wait_for_the_budget_keeps_their_places(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    first_person, waiting = 5100, [5101, 5102, 5103, 5104, 5105]
    # One request a minute: after the first person's, the five wait for the budget.
    before = make_settings(SUNO_REQUESTS_PER_WINDOW=1, SUNO_REQUEST_WINDOW=60)
    # After the restart, one every two seconds: the last ones still wait when positions refresh.
    after = make_settings(port=before.port, SUNO_REQUESTS_PER_WINDOW=1, SUNO_REQUEST_WINDOW=2)
    prompts = {user: f"{PROMPT} for {user}" for user in [first_person, *waiting]}
    async with start_bot(before) as bot:
        await generate(telegram, first_person, prompts[first_person])
        await telegram.wait_for(lambda: len(telegram.audios(first_person)) == 2, timeout=15)
        for user in waiting:
            # One after another: people writing in the same millisecond have no order to keep (on
            # PostgreSQL their requests are stored side by side), people a moment apart do.
            await generate(telegram, user, prompts[user])
            await telegram.wait_for(lambda user=user: bool(progress_messages(telegram, user)), timeout=5)
        await telegram.wait_for(
            lambda: all(QUEUE_TEXT in progress_text(telegram, u) for u in waiting),
            timeout=QUEUE_REFRESH_SECONDS + 5,
        )
        assert len(provider.api_requests("generate")) == 1
    edits_before = {u: len(progress_messages(telegram, u)[0].edits) for u in waiting}
    restarted = time.monotonic()
    async with start_bot(after) as bot:
        await telegram.wait_for(
            lambda: all(len(telegram.audios(u)) == 2 for u in waiting), timeout=len(waiting) * 2 + 15
        )
        await bot.services.tasks.idle()
        sent = provider.api_requests("generate")
        assert [r.json["prompt"] for r in sent] == [prompts[u] for u in [first_person, *waiting]]
        for user, request in zip(waiting, sent[1:], strict=True):
            assert failures_shown(telegram, user) == []
            (message,) = progress_messages(telegram, user)
            assert "Done!" in (message.text or "")
            if request.arrived - restarted > QUEUE_REFRESH_SECONDS + 0.5:
                # Still waiting when positions were refreshed: shown its place again after the restart.
                after_restart = message.edits[edits_before[user] :]
                assert any(QUEUE_TEXT in text for text in after_restart), after_restart
        assert sum(r.arrived - restarted > QUEUE_REFRESH_SECONDS + 0.5 for r in sent) >= 1
        for task in await bot.services.storage.tasks.many(range(1, 7)):
            assert task.stage is Stage.COMPLETE


# ---- the provider's answer is lost ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["reset", "500"])
async def test_a_lost_submission_answer_is_adopted_from_the_first_callback(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, mode: LostAnswerMode
) -> None:
    assert bot.settings.public_url is not None
    provider.lose_next_answer(mode)
    await generate(telegram)
    await telegram.wait_for(delivered_and_done(telegram), timeout=20)
    await all_callbacks_answered(provider)
    await assert_delivered_once(bot, telegram)
    (sent,) = provider.api_requests("generate")
    assert sent.fault == f"lost:{mode}"
    assert len(provider.tasks) == 1
    task = await bot.services.storage.tasks.require(1)
    assert task.provider_task_id == provider.last_task.task_id
    assert failures_shown(telegram, ALICE) == []


@pytest.mark.parametrize("mode", ["reset", "500"])
async def test_a_lost_submission_answer_in_polling_mode_is_told_not_resent(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: WaitUntil,
    mode: LostAnswerMode,
) -> None:
    settings = make_settings(webhook=False, SUNO_POLL_INTERVAL=0.3)
    provider.lose_next_answer(mode)
    async with start_bot(settings) as bot:
        await generate(telegram)
        await wait_until(await stage_is(bot, Stage.FAILED))
        unconfirmed = MESSAGES["error.unconfirmed"]
        await telegram.wait_for(lambda: unconfirmed in progress_text(telegram), timeout=10)
        await bot.services.tasks.idle()
        assert len(provider.api_requests("generate")) == 1  # never sent again
        assert telegram.audios(ALICE) == []


# ---- idle means idle ------------------------------------------------------------------------------


# SQLite only: on PostgreSQL the dispatcher looks at the shared table every second by design (another
# replica may have recorded work and died), which tests/unit/test_work_queue_capacity.py covers.
@pytest.mark.sqlite_only
async def test_the_work_dispatcher_sleeps_while_nothing_is_due(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, wait_until: WaitUntil
) -> None:
    # A song done, and one the provider holds: its poll is due in SUNO_POLL_INTERVAL (30 s), not now.
    await generate(telegram)
    await telegram.wait_for(delivered_and_done(telegram), timeout=15)
    await held_task(telegram, provider, 1002)
    await wait_until(task_stage_is(bot, 2, Stage.SUBMITTED))
    await bot.services.tasks.idle()
    statements: list[str] = []

    def touching_work() -> list[str]:
        return [s for s in statements if " work" in s.lower()]

    # SQLite's own trace hook on the bot's writer connection: every claim and outcome goes through it.
    db = bot.services.storage.db
    await db.conn.set_trace_callback(statements.append)
    try:
        # An observation window, not a wait for something: nothing may happen in it.
        await asyncio.sleep(2.0)
        assert touching_work() == []
        assert bot.services.tasks.queue.held == 0
        # The hook does see the dispatcher when it runs: woken, it claims (and finds nothing due).
        bot.services.tasks.queue.wake()

        async def claimed() -> bool:
            return bool(touching_work())

        await wait_until(claimed, timeout=5)
    finally:
        await db.conn.set_trace_callback(None)


def task_stage_is(bot: RunningBot, task_id: int, stage: Stage) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        task = await bot.services.storage.tasks.get(task_id)
        return task is not None and task.stage is stage

    return check
