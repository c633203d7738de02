"""Payload variants seen in real traffic, sent by the provider emulator and read by the whole bot.

Mostly in polling mode: there record-info and the synchronous answers are all the bot hears, so a variant
misread there leaves a charged task abandoned or a person waiting until the bot's own timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import pytest

from bot.settings import Settings
from emulators.audio_fixtures import make_mp3
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.models import Stage

ALICE = 1001
StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]
WaitUntil = Callable[..., Awaitable[None]]


def polling(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(webhook=False, SUNO_POLL_INTERVAL=0.2)


async def generate_and_receive(telegram: TelegramEmulator, bot: RunningBot) -> None:
    await telegram.user_sends_text(ALICE, "/generate a calm lo-fi song about rain")
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
    await bot.services.tasks.idle()
    stored = await bot.services.storage.tasks.tracks(1)
    assert len(stored) == 2 and all(t.sent_at is not None for t in stored)


@pytest.mark.parametrize("place", ["data.task_id", "taskId"])
async def test_a_submission_answer_names_its_task_anywhere(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    place: str,
) -> None:
    provider.vary(task_id_at=place)
    async with start_bot(polling(make_settings)) as bot:
        await generate_and_receive(telegram, bot)
        task = await bot.services.storage.tasks.require(1)
        assert task.provider_task_id == provider.last_task.task_id  # the charged task, not abandoned
    assert len(provider.api_requests("generate")) == 1


async def test_an_undocumented_failure_status_fails_at_once_with_its_reason(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: WaitUntil,
) -> None:
    provider.vary(statuses={"GENERATE_AUDIO_FAILED": "FAILED"}, reason_key="errorMsg")
    provider.script(fail_with=(501, "Audio generation failed: the model is busy"))
    async with start_bot(polling(make_settings)) as bot:
        await telegram.user_sends_text(ALICE, "/generate a calm lo-fi song about rain")

        async def failed() -> bool:
            task = await bot.services.storage.tasks.get(1)
            return task is not None and task.stage is Stage.FAILED

        await wait_until(failed, timeout=10)  # not the bot's own 30-minute timeout
        task = await bot.services.storage.tasks.require(1)
        assert task.error_code == 501
        assert task.error_text == "Audio generation failed: the model is busy"
        await bot.services.tasks.idle()
        await telegram.wait_for(
            lambda: "failed on the provider's side" in (telegram.bot_messages(ALICE)[0].text or "")
        )
    assert telegram.audios(ALICE) == []


async def test_an_undocumented_waiting_status_keeps_waiting_and_is_logged_once(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    provider.vary(statuses={"PENDING": "GENERATING", "TEXT_SUCCESS": "GENERATING"})
    provider.stage_delays = (0.8, 1.2, 1.6)  # several polls see GENERATING first
    caplog.set_level(logging.WARNING, logger="bot.tasks.poller")
    async with start_bot(polling(make_settings)) as bot:
        await generate_and_receive(telegram, bot)
    seen = [r for r in caplog.records if "'GENERATING' is not documented" in r.getMessage()]
    assert len(seen) == 1 and "task 1" in seen[0].getMessage()
    polled = [r for r in provider.api_requests("record-info") if r.code == 200]
    assert len(polled) >= 3


@pytest.mark.parametrize("webhook", [False, True], ids=["polling", "callbacks"])
async def test_placeholder_tracks_are_skipped_and_the_good_ones_delivered(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    webhook: bool,
) -> None:
    provider.vary(placeholder_tracks=1)
    settings = make_settings(webhook=webhook, SUNO_POLL_INTERVAL=0.2 if not webhook else 30)
    async with start_bot(settings) as bot:
        await generate_and_receive(telegram, bot)
        stored = await bot.services.storage.tasks.tracks(1)
        assert sorted(t.audio_id for t in stored) == sorted(t.id for t in provider.last_task.tracks)
    if webhook:
        assert all(c.delivered and len(c.attempts) == 1 for c in provider.last_task.callbacks)


async def test_an_upload_answer_with_file_url(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    provider.vary(upload_url_key="fileUrl")
    bob = ScriptedPerson(telegram, 2002, first_name="Bob", timeout=20)
    async with start_bot(polling(make_settings)):
        await bob.send_audio(make_mp3(10.5, frequency=500), file_name="hum.mp3")
        await bob.answer("What should I do with it?", button="Cover")
        await bob.answer("Which style?", text="reggae")
        await bob.answer("What is the title?", text="Hum")
        await bob.answer("Send the lyrics", button="Instrumental")
        await bob.wait_for_audios(2)
    [request] = provider.api_requests("upload-cover")
    [uploaded] = provider.uploads.values()
    assert request.json["uploadUrl"] == uploaded.download_url
