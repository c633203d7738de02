"""Recovery of a track with no audio (issue 16 item 11): asked for before anyone is told it failed.

A song whose track comes back with an empty audio_url, or whose audio will not download, is recovered
through POST /api/v1/suno/recovery (its own task, durable like any other, charging nothing): the fresh
link is delivered once; what cannot be recovered is told in one message, with the credits back when none
of the song reached the person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Literal

import pytest

from bot.settings import Settings
from bot.tasks.submitter import ADOPT_WINDOW, MAX_RESENT_ATTEMPTS
from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.ledger import EntryKind
from storage.models import Stage, Task, TaskKind
from storage.work import Kind, WorkItem

ALICE = 1001
PROMPT = "a calm lo-fi song about rain"
PAYMENTS = {"STARS_PACKS": "10:50", "FREE_CREDITS": 1, "MAX_ACTIVE_TASKS_PER_USER": 5}
StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]
WaitUntil = Callable[..., Awaitable[None]]


def lost_notices(telegram: TelegramEmulator) -> list[str]:
    return [m.text or "" for m in telegram.bot_messages(ALICE) if "could not be recovered" in (m.text or "")]


async def recovery_of(bot: RunningBot) -> Task:
    [task] = [
        t for t in await bot.services.storage.tasks.recent_for_user(ALICE) if t.kind is TaskKind.RECOVERY
    ]
    return task


def recovery_posts(provider: ProviderEmulator) -> list[object]:
    return [r for r in provider.api_requests("suno/recovery") if r.method == "POST"]


async def assert_both_delivered_once(bot: RunningBot, telegram: TelegramEmulator) -> None:
    await bot.services.tasks.idle()
    audios = telegram.audios(ALICE)
    assert len(audios) == 2 and len(telegram.calls("sendAudio")) == 2
    tracks = await bot.services.storage.tasks.tracks(1)
    assert all(t.sent_at is not None and t.telegram_file_id for t in tracks)
    assert {t.telegram_message_id for t in tracks} == {m.message_id for m in audios}
    assert lost_notices(telegram) == []


async def test_a_track_with_no_audio_is_recovered_and_delivered_once_at_no_cost(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    provider.script(lose_audio=(1,))
    async with start_bot(make_settings(**PAYMENTS)) as bot:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=40)
        await assert_both_delivered_once(bot, telegram)

        music = provider.last_task
        [post] = recovery_posts(provider)
        assert post.json["sunoTaskId"] == music.task_id  # type: ignore[attr-defined]
        assert post.json["callBackUrl"].startswith(bot.url + "/callbacks/")  # type: ignore[attr-defined]
        recovery = await recovery_of(bot)
        assert recovery.stage is Stage.COMPLETE and recovery.progress_message_id is None
        # The recovered file is M4A, named and sent as such; the first track is the song's own MP3.
        names = [m.audio["file_name"] for m in telegram.audios(ALICE)]
        assert names[0].endswith(".mp3") and names[1].endswith(".m4a"), names
        # One progress message, which said the audio was being recovered, and says so no more.
        [progress] = [m for m in telegram.bot_messages(ALICE) if m.audio is None]
        assert any("Recovering the audio of 1 track" in text for text in progress.edits)
        assert "Recovering" not in (progress.text or "") and "Done!" in (progress.text or "")
        # The song cost its one credit; the recovery nothing.
        ledger = bot.services.storage.ledger
        assert await ledger.balance(ALICE) == 0
        assert sorted(e.kind for e in await ledger.entries(ALICE)) == sorted(
            [EntryKind.GRANT, EntryKind.HOLD, EntryKind.SETTLE]
        )
        assert bot.services.metrics.tasks_created.labels(kind="recovery")._value.get() == 1


async def test_a_lost_recovery_callback_is_made_up_for_by_polling(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    provider.script(lose_audio=(0,))
    provider.recovery.script(drop_callback=True)
    async with start_bot(make_settings(SUNO_POLL_INTERVAL=0.3)) as bot:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=40)
        await assert_both_delivered_once(bot, telegram)
    polls = provider.api_requests("suno/recovery/record-info")
    assert polls and all(r.query == {"task_id": provider.recovery.last_task.task_id} for r in polls)
    assert provider.recovery.last_task.callbacks == []


async def test_recovery_in_polling_mode_waits_through_running_answers(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    provider.script(lose_audio=(1,))
    provider.recovery.script(hold=True)
    async with start_bot(make_settings(webhook=False, SUNO_POLL_INTERVAL=0.3)) as bot:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        polls = lambda: provider.api_requests("suno/recovery/record-info")  # noqa: E731
        await provider.wait_for(lambda: len([r for r in polls() if r.code == 201]) >= 2, timeout=40)
        assert len(telegram.audios(ALICE)) == 1 and lost_notices(telegram) == []
        provider.recovery.release(provider.recovery.last_task.task_id)
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=40)
        await assert_both_delivered_once(bot, telegram)


async def test_a_song_whose_audio_is_all_lost_is_told_once_with_the_credit_back(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: WaitUntil,
) -> None:
    provider.script(lose_audio=(0, 1))
    provider.recovery.script(failed={0: "clip_error", 1: "no_audio_id_mappings"})
    settings = make_settings(**PAYMENTS)
    async with start_bot(settings) as bot:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        await telegram.wait_for(lambda: len(lost_notices(telegram)) == 1, timeout=40)
        await bot.services.tasks.idle()
        [notice] = lost_notices(telegram)
        assert "Track 1 of “A Calm Lo Fi Song About”" in notice or "Track 1 of “" in notice
        assert "Track 2 of" in notice
        assert "the track itself as broken" in notice and "has no such track any more" in notice
        assert "clip_error" not in notice
        assert "credits are back on your balance" in notice
        ledger = bot.services.storage.ledger
        assert await ledger.balance(ALICE) == 1
        assert [e.kind for e in await ledger.entries(ALICE)].count(EntryKind.RELEASE) == 1
    # Told once, credited once: a restart finds nothing left to do.
    async with start_bot(settings) as again:
        await again.services.tasks.idle()
        assert len(lost_notices(telegram)) == 1
        assert await again.services.storage.ledger.balance(ALICE) == 1
    assert telegram.audios(ALICE) == []


async def test_a_partly_lost_song_names_the_lost_track_and_keeps_the_credit(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    provider.script(lose_audio=(1,))
    provider.recovery.script(failed={1: "mango_transfer_failed"})
    async with start_bot(make_settings(**PAYMENTS)) as bot:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        await telegram.wait_for(lambda: len(lost_notices(telegram)) == 1, timeout=40)
        await bot.services.tasks.idle()
        [notice] = lost_notices(telegram)
        assert notice.startswith("Track 2 of “") and "could not copy the recovered file" in notice
        assert "credits" not in notice
        assert len(telegram.audios(ALICE)) == 1
        assert await bot.services.storage.ledger.balance(ALICE) == 0


@pytest.mark.parametrize(
    ("fault", "webhook"),
    [
        ("refused", True),  # 404: a provider that lacks the endpoint
        ("server_error", False),  # a 500 to every POST, in polling mode: asked again, then given up
        ("failure_callback", True),  # the recovery task fails as a whole
        ("failed_poll", False),
    ],
)
async def test_a_failed_recovery_tells_the_person_the_track_failed(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    fault: str,
    webhook: bool,
) -> None:
    provider.script(lose_audio=(1,))
    if fault == "refused":
        provider.fail_next_request("suno/recovery", 404, "Not Found")
    elif fault == "server_error":
        provider.fail_next_request("suno/recovery", 500, "Internal Server Error", times=MAX_RESENT_ATTEMPTS)
    else:
        provider.recovery.script(fail_with=(500, "Server error"), drop_callback=fault == "failed_poll")
    async with start_bot(make_settings(webhook=webhook, SUNO_POLL_INTERVAL=0.3)) as bot:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        await telegram.wait_for(lambda: len(lost_notices(telegram)) == 1, timeout=40)
        await bot.services.tasks.idle()
        [notice] = lost_notices(telegram)
        assert notice.startswith("Track 2 of") and "could not recover it" in notice
        assert len(telegram.audios(ALICE)) == 1
        assert (await recovery_of(bot)).stage is Stage.FAILED
        # The song's own progress message is not turned into a failure: its first track came.
        [progress] = [m for m in telegram.bot_messages(ALICE) if m.audio is None and m.text != notice]
        assert "Done!" in (progress.text or "") and "Recovering" not in (progress.text or "")


async def test_a_restart_while_recovery_is_pending_still_delivers_once(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: WaitUntil,
) -> None:
    provider.script(lose_audio=(1,))
    provider.recovery.script(hold=True)
    settings = make_settings(SUNO_POLL_INTERVAL=0.5)
    async with start_bot(settings) as first:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 1, timeout=40)
        await provider.wait_for(lambda: bool(provider.recovery.tasks), timeout=10)

        async def submitted() -> bool:
            return (await recovery_of(first)).provider_task_id is not None

        await wait_until(submitted, timeout=10)
    provider.recovery.release(provider.recovery.last_task.task_id)  # it ends while no bot runs
    async with start_bot(settings) as second:
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=40)
        await assert_both_delivered_once(second, telegram)
        assert (await recovery_of(second)).stage is Stage.COMPLETE
    assert len(recovery_posts(provider)) == 1


async def test_a_track_whose_download_keeps_failing_is_delivered_from_its_recovered_link(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    # Uploads only, so the bot downloads the track itself; the CDN says the file is gone (an expired link).
    provider.fail_next_downloads(1, status=404)
    async with start_bot(make_settings(DELIVERY_URL_SCHEMES="")) as bot:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=40)
        await assert_both_delivered_once(bot, telegram)
        assert not any("could not fetch" in (m.text or "") for m in telegram.bot_messages(ALICE))
        assert len(recovery_posts(provider)) == 1
        names = sorted(m.audio["file_name"] for m in telegram.audios(ALICE))
        assert [n.rsplit(".", 1)[-1] for n in names].count("m4a") == 1, names
    recovered = [r for r in provider.requests if r.path.startswith("/media/recovered/")]
    assert recovered


async def test_a_download_that_recovery_cannot_help_still_gives_the_link(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    provider.fail_next_downloads(1, status=404)
    provider.recovery.script(failed={0: "clip_error", 1: "clip_error"})
    async with start_bot(make_settings(DELIVERY_URL_SCHEMES="")) as bot:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        links = lambda: [m for m in telegram.bot_messages(ALICE) if "could not fetch" in (m.text or "")]  # noqa: E731
        await telegram.wait_for(lambda: len(links()) == 1 and len(telegram.audios(ALICE)) == 1, timeout=40)
        await bot.services.tasks.idle()
        [link] = links()
        assert "/media/audio/" in (link.text or "")
        assert lost_notices(telegram) == []
        tracks = await bot.services.storage.tasks.tracks(1)
        assert all(t.sent_at is not None for t in tracks)


# ---- a recovery POST whose answer is a server error is asked again, not waited on --------------------


async def recovery_submit(bot: RunningBot) -> WorkItem | None:
    recovery = [
        t for t in await bot.services.storage.tasks.recent_for_user(ALICE) if t.kind is TaskKind.RECOVERY
    ]
    if not recovery:
        return None
    items = await bot.services.storage.work.items(kind=Kind.SUBMIT)
    return next((i for i in items if i.task_id == recovery[0].id), None)


async def test_a_recovery_post_answered_with_a_server_error_is_sent_again_and_delivers_once(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    provider.script(lose_audio=(1,))
    provider.fail_next_request("suno/recovery", 500, "Internal Server Error")
    async with start_bot(make_settings(**PAYMENTS)) as bot:
        assert bot.settings.public_url is not None  # callbacks: a song's 500 would wait 10 minutes
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        # Far below the ten minutes a song's own unclear answer waits for a callback.
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
        await assert_both_delivered_once(bot, telegram)
        assert [r.code for r in recovery_posts(provider)] == [500, 200]  # type: ignore[attr-defined]
        assert (await recovery_of(bot)).stage is Stage.COMPLETE
        assert await bot.services.storage.ledger.balance(ALICE) == 0  # the song's credit, nothing more


@pytest.mark.parametrize("lost", ["500", "reset"])
async def test_a_recovery_made_but_unanswered_is_asked_again_and_delivered_once(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    lost: Literal["500", "reset"],
) -> None:
    # The provider made the first recovery but its answer was lost, and its callback never comes: the
    # second ask is the one delivered, and the first (a harmless extra) is never heard of.
    provider.script(lose_audio=(1,))
    provider.recovery.script(lose_answer=lost, drop_callback=True)
    async with start_bot(make_settings()) as bot:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
        await assert_both_delivered_once(bot, telegram)
        _made_first, second = provider.recovery.tasks
        assert [r.fault for r in recovery_posts(provider)] == [f"lost:{lost}", None]  # type: ignore[attr-defined]
        assert (await recovery_of(bot)).provider_task_id == second


async def test_a_late_callback_of_an_unanswered_recovery_is_adopted(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    provider.script(lose_audio=(1,))
    provider.recovery.script(lose_answer="500")  # made, its answer an HTTP 500, its callback on time
    async with start_bot(make_settings()) as bot:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
        await assert_both_delivered_once(bot, telegram)
        # Its callback usually lands before the next ask is due; asked again or not, one delivery.
        assert (await recovery_of(bot)).provider_task_id in provider.recovery.tasks
        assert 1 <= len(recovery_posts(provider)) <= 2


async def test_a_recovery_post_that_keeps_failing_ends_as_a_failed_recovery_with_the_credit_back(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    provider.script(lose_audio=(0, 1))
    provider.fail_next_request("suno/recovery", 500, "Internal Server Error", times=MAX_RESENT_ATTEMPTS + 1)
    async with start_bot(make_settings(**PAYMENTS)) as bot:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")
        await telegram.wait_for(lambda: len(lost_notices(telegram)) == 1, timeout=40)
        await bot.services.tasks.idle()
        [notice] = lost_notices(telegram)
        assert "Track 1 of" in notice and "Track 2 of" in notice and "could not recover it" in notice
        assert "credits are back on your balance" in notice
        assert [r.code for r in recovery_posts(provider)] == [500] * MAX_RESENT_ATTEMPTS  # type: ignore[attr-defined]
        assert (await recovery_of(bot)).stage is Stage.FAILED
        ledger = bot.services.storage.ledger
        assert await ledger.balance(ALICE) == 1
        assert [e.kind for e in await ledger.entries(ALICE)].count(EntryKind.RELEASE) == 1
        assert telegram.audios(ALICE) == []


async def test_a_restart_between_recovery_attempts_continues_their_count(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: WaitUntil,
) -> None:
    provider.script(lose_audio=(1,))
    provider.fail_next_request("suno/recovery", 500, "Internal Server Error", times=MAX_RESENT_ATTEMPTS)
    settings = make_settings()
    async with start_bot(settings) as first:
        await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")

        async def one_attempt_counted() -> bool:
            item = await recovery_submit(first)
            return item is not None and item.attempts == 1

        await wait_until(one_attempt_counted, timeout=30)
    assert len(recovery_posts(provider)) == 1
    async with start_bot(settings) as second:
        await telegram.wait_for(lambda: len(lost_notices(telegram)) == 1, timeout=40)
        await second.services.tasks.idle()
        assert (await recovery_of(second)).stage is Stage.FAILED
    assert len(recovery_posts(provider)) == MAX_RESENT_ATTEMPTS
    assert len(telegram.audios(ALICE)) == 1


async def test_a_songs_own_submission_answered_with_a_server_error_still_waits_for_its_callback(
    bot: RunningBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: WaitUntil,
) -> None:
    # Sending a song again could make and charge a second one: only recovery is sent again.
    assert bot.settings.public_url is not None
    provider.fail_next_request("generate", 500, "Internal Server Error")
    await telegram.user_sends_text(ALICE, f"/generate {PROMPT}")

    async def waiting_for_a_callback() -> bool:
        task = await bot.services.storage.tasks.get(1)
        items = await bot.services.storage.work.items(kind=Kind.SUBMIT)
        return (
            task is not None
            and task.submit_started_at is not None
            and any(i.task_id == 1 and i.due_at >= task.submit_started_at + ADOPT_WINDOW - 1 for i in items)
        )

    await wait_until(waiting_for_a_callback, timeout=10)
    task = await bot.services.storage.tasks.require(1)
    assert task.stage is Stage.QUEUED and task.provider_task_id is None
    assert len(provider.api_requests("generate")) == 1
    assert lost_notices(telegram) == [] and "could not" not in " ".join(
        m.text or "" for m in telegram.bot_messages(ALICE)
    )
