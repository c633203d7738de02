"""Fault tests: the real bot (web server, PTB, storage, poller) against both emulators, with faults.

Duplicated, reordered, forged, malformed and missing callbacks; restarts between stages; Telegram's 429s
and blocked chats; invalid input and the provider's synchronous errors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiohttp
import pytest

from bot.settings import Settings
from bot.tasks.service import POLLING_CALLBACK_URL
from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.models import Stage
from storage.work import Kind

ALICE = 1001
BOB = 1002
PROMPT = "a calm lo-fi song about rain"

StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]
WaitUntil = Callable[..., Awaitable[None]]


async def generate(telegram: TelegramEmulator, user: int = ALICE, prompt: str = PROMPT) -> None:
    await telegram.user_sends_text(user, f"/generate {prompt}")


def progress_messages(telegram: TelegramEmulator, user: int = ALICE) -> list[Any]:
    return [m for m in telegram.bot_messages(user) if m.audio is None]


async def all_callbacks_answered(provider: ProviderEmulator) -> None:
    """Wait until the last task ended and every callback it sent got an answer (or was given up)."""
    await provider.wait_for(
        lambda: (
            provider.last_task.terminal
            and bool(provider.last_task.callbacks)
            and all(c.delivered or c.abandoned for c in provider.last_task.callbacks)
        ),
        timeout=15,
    )


async def assert_delivered_once(bot: RunningBot, telegram: TelegramEmulator, user: int = ALICE) -> None:
    """Two tracks, each sent exactly once, matching the provider's bytes, with one progress message."""
    await bot.services.tasks.idle()
    audios = telegram.audios(user)
    assert len(audios) == 2, [m.text for m in telegram.bot_messages(user)]
    assert len({m.audio["sha256"] for m in audios}) == 2
    assert len(progress_messages(telegram, user)) == 1
    stored = await bot.services.storage.tasks.tracks(1)
    assert len(stored) == 2 and all(t.sent_at is not None and t.telegram_file_id for t in stored)
    assert {t.telegram_message_id for t in stored} == {m.message_id for m in audios}


# ---- callbacks: duplicated, reordered ---------------------------------------------------------------


async def test_duplicated_callbacks_deliver_each_track_once(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.script(duplicate=True)
    await generate(telegram)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
    await all_callbacks_answered(provider)
    task = provider.last_task
    assert [c.stage for c in task.callbacks].count("complete") == 2
    assert all(c.delivered for c in task.callbacks)  # every duplicate was acknowledged
    await assert_delivered_once(bot, telegram)
    assert len(telegram.calls("sendAudio")) == 2
    assert "Done!" in progress_messages(telegram)[0].text
    assert (await bot.services.storage.tasks.require(1)).stage is Stage.COMPLETE
    assert telegram.violations == []


async def test_a_late_retry_is_stored_as_applied_and_changes_nothing(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, http: aiohttp.ClientSession
) -> None:
    await generate(telegram)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
    await all_callbacks_answered(provider)
    await bot.services.tasks.idle()
    calls_before = len(telegram.requests)
    complete = next(c for c in provider.last_task.callbacks if c.stage == "complete")

    async with http.post(provider.last_task.callback_url, json=complete.payload) as response:
        assert response.status == 200  # acknowledged like any callback...

    db = bot.services.storage.db
    last = await db.fetchone("SELECT stage, applied_at FROM events ORDER BY id DESC LIMIT 1")
    assert last is not None and last["stage"] == "complete"
    assert last["applied_at"] is not None  # ...stored, and already marked applied: nothing to redo
    await bot.services.tasks.idle()
    assert len(telegram.requests) == calls_before  # no edit, no second audio
    metrics = bot.services.metrics.render().decode()
    assert 'bot_callbacks_total{result="repeat"} 1.0' in metrics
    await assert_delivered_once(bot, telegram)


async def test_reordered_callbacks_end_complete(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.script(reorder=True)
    await generate(telegram)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
    await all_callbacks_answered(provider)
    assert [c.stage for c in provider.last_task.callbacks] == ["complete", "text", "first"]
    await assert_delivered_once(bot, telegram)
    task = await bot.services.storage.tasks.require(1)
    assert task.stage is Stage.COMPLETE
    progress = progress_messages(telegram)[0]
    assert "Done!" in progress.text, progress.edits
    # The late `text` and `first` never dragged the message back.
    done_at = next(i for i, text in enumerate(progress.edits) if "Done!" in text)
    assert all("Done!" in text for text in progress.edits[done_at:])


async def test_add_vocals_style_complete_only_callback(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    """Skipped stages are fine: only `complete` arrives."""
    provider.script(drop_stages={"text", "first"})
    await generate(telegram)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
    await assert_delivered_once(bot, telegram)
    assert "Done!" in progress_messages(telegram)[0].text


# ---- forged and malformed callbacks ----------------------------------------------------------------


async def held_task(telegram: TelegramEmulator, provider: ProviderEmulator, user: int) -> str:
    """A submitted task that the provider keeps in PENDING; returns the provider's task id."""
    before = len(provider.tasks)
    provider.script(hold=True)
    await generate(telegram, user)
    await provider.wait_for(lambda: len(provider.tasks) > before and provider.last_task.held, timeout=10)
    return provider.last_task.task_id


def complete_body(provider_task_id: str) -> dict[str, Any]:
    track = {
        "id": "forged-audio",
        "audio_url": "https://evil.example.com/a.mp3",
        "stream_audio_url": "https://evil.example.com/s",
        "image_url": "",
        "title": "Forged",
        "tags": "",
        "duration": 10.0,
    }
    return {
        "code": 200,
        "msg": "All generated successfully.",
        "data": {
            "callbackType": "complete",
            "task_id": provider_task_id,
            "data": [track, track | {"id": "x"}],
        },
    }


async def event_count(bot: RunningBot, *task_ids: int) -> int:
    return sum([len(await bot.services.storage.events.for_task(t)) for t in task_ids])


async def wait_submitted(bot: RunningBot, wait_until: WaitUntil, task_id: int) -> None:
    async def submitted() -> bool:
        return (await bot.services.storage.tasks.require(task_id)).stage is Stage.SUBMITTED

    await wait_until(submitted)


@pytest.fixture
async def alice_held(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, wait_until: WaitUntil
) -> str:
    """Alice's task 1, submitted and kept PENDING by the provider; the provider's task id."""
    provider_id = await held_task(telegram, provider, ALICE)
    await wait_submitted(bot, wait_until, 1)
    return provider_id


async def test_forged_callback_tokens_are_refused(
    bot: RunningBot, http: aiohttp.ClientSession, alice_held: str
) -> None:
    provider_id = alice_held
    real = bot.services.signer.callback_token(1)
    for token in (
        "garbage",
        "1.garbage",
        real[:-1] + ("A" if real[-1] != "A" else "B"),
        "1",
        "%C2%B2.abc",  # '²' passes str.isdigit() but not int()
        "1.%C3%A9",  # a non-ASCII MAC
        "99999999999999999999999.abc",
    ):
        async with http.post(f"{bot.url}/callbacks/{token}", json=complete_body(provider_id)) as response:
            assert response.status == 403, (token, response.status, await response.text())
    assert await event_count(bot, 1) == 0
    task = await bot.services.storage.tasks.require(1)
    assert task.stage is Stage.SUBMITTED
    assert await bot.services.storage.tasks.tracks(1) == []
    metrics = await (await http.get(f"{bot.url}/metrics")).text()
    assert 'bot_callbacks_total{result="forged"} 7.0' in metrics


async def test_valid_token_for_another_task_is_refused(
    bot: RunningBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    http: aiohttp.ClientSession,
    wait_until: WaitUntil,
) -> None:
    alice_provider_id = await held_task(telegram, provider, ALICE)
    bob_provider_id = await held_task(telegram, provider, BOB)
    await wait_submitted(bot, wait_until, 1)
    await wait_submitted(bot, wait_until, 2)
    signer = bot.services.signer
    # Bob's genuine token, carrying Alice's task: someone replays or redirects a callback.
    async with http.post(
        f"{bot.url}/callbacks/{signer.callback_token(2)}", json=complete_body(alice_provider_id)
    ) as response:
        assert response.status == 403
    # Alice's genuine token, naming a provider task that is not hers.
    async with http.post(
        f"{bot.url}/callbacks/{signer.callback_token(1)}", json=complete_body("someone-elses-task")
    ) as response:
        assert response.status == 403
    # A token for a task that does not exist.
    async with http.post(
        f"{bot.url}/callbacks/{signer.callback_token(77)}", json=complete_body(alice_provider_id)
    ) as response:
        assert response.status in (403, 404)
    await bot.services.tasks.idle()
    assert await event_count(bot, 1, 2) == 0
    for task_id in (1, 2):
        assert (await bot.services.storage.tasks.require(task_id)).stage is Stage.SUBMITTED
        assert await bot.services.storage.tasks.tracks(task_id) == []
    assert telegram.audios(ALICE) == [] and telegram.audios(BOB) == []
    # And the genuine provider still gets through afterwards.
    provider.release(alice_provider_id)
    provider.release(bob_provider_id)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2 and len(telegram.audios(BOB)) == 2, 15)
    await bot.services.tasks.idle()
    assert all("forged" not in m.audio.get("title", "").lower() for m in telegram.audios(ALICE))


async def test_malformed_callback_bodies_are_400(
    bot: RunningBot, http: aiohttp.ClientSession, alice_held: str
) -> None:
    url = f"{bot.url}/callbacks/{bot.services.signer.callback_token(1)}"
    for body in (
        b"{not json",
        b"",
        b"[]",
        b"null",
        b'{"code": 200}',
        b'{"code": 200, "data": {"callbackType": "complete"}}',
        b'{"code": 200, "data": {"callbackType": "later", "task_id": "x"}}',
        b"\xff\xfe\x00garbage",
        b"[" * 100_000,  # nested deeper than the JSON parser's recursion limit
    ):
        async with http.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            assert response.status == 400, (body[:40], response.status, await response.text())
    assert await event_count(bot, 1) == 0
    assert (await bot.services.storage.tasks.require(1)).stage is Stage.SUBMITTED


async def test_oversized_callback_is_413(
    bot: RunningBot, http: aiohttp.ClientSession, alice_held: str
) -> None:
    provider_id = alice_held
    url = f"{bot.url}/callbacks/{bot.services.signer.callback_token(1)}"
    body = complete_body(provider_id)
    body["padding"] = "x" * (600 * 1024)
    async with http.post(url, json=body) as response:
        assert response.status == 413

    async def chunked() -> Any:  # no Content-Length: the size is found while reading
        for _ in range(20):
            yield b" " * (64 * 1024)
        yield b"{}"

    async with http.post(url, data=chunked(), headers={"Content-Type": "application/json"}) as response:
        assert response.status == 413
    assert await event_count(bot, 1) == 0


async def test_telegram_webhook_needs_the_secret_token(
    bot: RunningBot, telegram: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": ALICE, "type": "private"},
            "from": {"id": ALICE, "is_bot": False, "first_name": "Mallory"},
            "text": "/generate forged",
            "entities": [{"type": "bot_command", "offset": 0, "length": 9}],
        },
    }
    for headers in (
        {},
        {"X-Telegram-Bot-Api-Secret-Token": "wrong"},
        {"X-Telegram-Bot-Api-Secret-Token": ""},
    ):
        async with http.post(f"{bot.url}/telegram", json=update, headers=headers) as response:
            assert response.status == 403
    assert telegram.webhook.secret_token == bot.services.telegram_secret  # what Telegram was told
    right = {"X-Telegram-Bot-Api-Secret-Token": bot.services.telegram_secret}
    async with http.post(f"{bot.url}/telegram", data=b"{oops", headers=right) as response:
        assert response.status == 400
    await bot.services.tasks.idle()
    assert await bot.services.storage.people.get(ALICE) is None
    assert await bot.services.storage.tasks.get(1) is None


# ---- callbacks that never come, and polling mode ---------------------------------------------------


async def test_lost_callbacks_are_recovered_by_polling(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    provider.script(drop_callbacks=True)
    async with start_bot(make_settings(SUNO_POLL_INTERVAL=0.3)) as bot:
        await generate(telegram)
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
        await assert_delivered_once(bot, telegram)
        assert provider.last_task.callbacks == []
        assert provider.api_requests("record-info")
        events = await bot.services.storage.events.for_task(1)
        assert events and {e.source for e in events} == {"poll"}
        assert "Done!" in progress_messages(telegram)[0].text


async def test_polling_mode_full_flow(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    settings = make_settings(webhook=False, SUNO_POLL_INTERVAL=0.3)
    assert settings.public_url is None
    async with start_bot(settings) as bot:
        await generate(telegram)
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
        await assert_delivered_once(bot, telegram)
        assert telegram.webhook.url == ""
        assert telegram.calls("getUpdates")
        (sent,) = provider.api_requests("generate")
        assert sent.json["callBackUrl"] == POLLING_CALLBACK_URL
        assert provider.api_requests("record-info")
        assert "Done!" in progress_messages(telegram)[0].text
        assert telegram.violations == []


# ---- restarts --------------------------------------------------------------------------------------


async def stage_is(bot: RunningBot, stage: Stage) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        task = await bot.services.storage.tasks.get(1)
        return task is not None and task.stage is stage

    return check


async def test_restart_between_first_and_complete(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: WaitUntil,
) -> None:
    settings = make_settings(SUNO_POLL_INTERVAL=0.5)
    provider.script(delays=(0.05, 0.1, 60))  # `complete` only when the test says so
    async with start_bot(settings) as first:
        await generate(telegram)
        await wait_until(await stage_is(first, Stage.FIRST))
        await first.services.tasks.idle()
    task_id = provider.last_task.task_id
    assert telegram.audios(ALICE) == []
    # While the bot is down the provider finishes, and gives up calling back.
    provider.complete_now(task_id)
    await provider.wait_for(
        lambda: any(c.stage == "complete" and c.abandoned for c in provider.last_task.callbacks)
    )
    async with start_bot(settings) as second:
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
        await assert_delivered_once(second, telegram)
        assert len(telegram.calls("sendAudio")) == 2
        assert any(r.query.get("taskId") == task_id for r in provider.api_requests("record-info"))
        assert "Done!" in progress_messages(telegram)[0].text
    assert len(provider.api_requests("generate")) == 1  # never submitted twice
    assert provider.credits == 1000 - provider.cost_per_task


async def test_restart_then_callback_reaches_the_new_instance(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: WaitUntil,
) -> None:
    settings = make_settings()  # polling every 30 s: only the callback can finish it in time
    provider.script(delays=(0.05, 0.1, 60))
    async with start_bot(settings) as first:
        await generate(telegram)
        await wait_until(await stage_is(first, Stage.FIRST))
    async with start_bot(settings) as second:
        provider.complete_now(provider.last_task.task_id)
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
        await all_callbacks_answered(provider)
        await assert_delivered_once(second, telegram)
    assert len(provider.api_requests("generate")) == 1


async def test_a_failed_upload_is_retried_without_a_restart(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: WaitUntil,
) -> None:
    settings = make_settings()
    telegram.fail_next("sendAudio", error_code=500)  # Telegram fails the first upload
    async with start_bot(settings) as first:
        await generate(telegram)
        await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
        await all_callbacks_answered(provider)
        await assert_delivered_once(first, telegram)
        assert [c.status for c in telegram.calls("sendAudio")] == [500, 200, 200]
    async with start_bot(settings) as second:  # a restart finds nothing left to send
        await second.services.tasks.idle()
    assert len(telegram.audios(ALICE)) == 2 and len(telegram.calls("sendAudio")) == 3


# ---- Telegram faults -------------------------------------------------------------------------------


async def test_telegram_429_on_send_audio(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    telegram.fail_next("sendAudio", error_code=429, retry_after=1)
    await generate(telegram)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
    await all_callbacks_answered(provider)
    await assert_delivered_once(bot, telegram)
    calls = telegram.calls("sendAudio")
    assert [c.status for c in calls] == [429, 200, 200]
    assert calls[1].time - calls[0].time >= 1.0  # retry_after honoured


async def test_telegram_429_on_progress_edit(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    telegram.fail_next("editMessageText", error_code=429, retry_after=1)
    await generate(telegram)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
    await all_callbacks_answered(provider)
    await assert_delivered_once(bot, telegram)
    assert 429 in [c.status for c in telegram.calls("editMessageText")]
    assert "Done!" in progress_messages(telegram)[0].text


async def test_person_who_blocked_the_bot_is_not_retried_forever(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, wait_until: WaitUntil
) -> None:
    provider_id = await held_task(telegram, provider, ALICE)
    await telegram.wait_for(lambda: len(progress_messages(telegram)) == 1)
    telegram.block_bot(ALICE)
    await telegram.wait_for(lambda: telegram.pending_updates == [])
    await bot.services.tasks.idle()
    provider.release(provider_id)
    await all_callbacks_answered(provider)

    async def blocked() -> bool:
        person = await bot.services.storage.people.get(ALICE)
        return person is not None and person.bot_blocked

    await wait_until(blocked)
    await bot.services.tasks.idle()
    assert (await bot.services.storage.tasks.require(1)).stage is Stage.COMPLETE
    attempts = len(telegram.calls("sendAudio"))
    assert attempts <= 2
    assert telegram.audios(ALICE) == []
    # Her deliveries ended for now (not pending, so no retry loop), and nothing is sent meanwhile.
    deliveries = await bot.services.storage.work.items(kind=Kind.DELIVER)
    assert len(deliveries) == 2 and {d.state for d in deliveries} == {"failed"}
    await bot.services.tasks.idle()
    assert len(telegram.calls("sendAudio")) == attempts
    # Writing to the bot again unblocks it, and the tracks she missed arrive, once each.
    await telegram.user_sends_text(ALICE, "/help")
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
    await bot.services.tasks.idle()
    assert len(telegram.audios(ALICE)) == 2
    assert all(t.sent_at is not None for t in await bot.services.storage.tasks.tracks(1))


# ---- invalid input and the provider's synchronous errors -------------------------------------------


async def test_too_long_description_is_explained_and_nothing_is_sent(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    await generate(telegram, prompt="x" * 600)
    await telegram.wait_for(lambda: len(telegram.bot_messages(ALICE)) >= 1)
    await bot.services.tasks.idle()
    (reply,) = telegram.bot_messages(ALICE)
    assert "500" in reply.text and "600" in reply.text
    assert provider.api_requests("generate") == []
    assert provider.requests == [] or all(
        r.host != "api" or "generate" not in r.path for r in provider.requests
    )
    assert await bot.services.storage.tasks.get(1) is None


async def test_out_of_credits_is_told_and_not_retried(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, wait_until: WaitUntil
) -> None:
    provider.fail_next_request("generate", 429, "Insufficient credits")
    await generate(telegram)
    await wait_until(await stage_is(bot, Stage.FAILED))
    await bot.services.tasks.idle()
    await telegram.wait_for(lambda: "out of credits" in (progress_messages(telegram)[0].text or ""))
    assert len(provider.api_requests("generate")) == 1  # 429 is never retried
    assert provider.tasks == {}
    task = await bot.services.storage.tasks.require(1)
    assert task.error_code == 429
    assert telegram.audios(ALICE) == []


async def test_invalid_parameters_from_the_provider_are_not_retried(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, wait_until: WaitUntil
) -> None:
    provider.fail_next_request("generate", 400, "Invalid parameters")
    await generate(telegram)
    await wait_until(await stage_is(bot, Stage.FAILED))
    await bot.services.tasks.idle()
    assert len(provider.api_requests("generate")) == 1
    assert "did not accept this request" in progress_messages(telegram)[0].text


async def test_call_frequency_too_high_is_retried_then_succeeds(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.fail_next_request("generate", 430, "Call frequency too high")
    await generate(telegram)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
    await all_callbacks_answered(provider)
    await assert_delivered_once(bot, telegram)
    sent = provider.api_requests("generate")
    assert [r.code for r in sent] == [430, 200]
    assert sent[1].arrived - sent[0].arrived >= 1.0  # backed off before retrying
    assert len(provider.tasks) == 1


async def test_provider_failure_callback_is_explained(
    bot: RunningBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: WaitUntil,
    http: aiohttp.ClientSession,
) -> None:
    provider.script(fail_with=(531, "Generation failed, credits refunded"))
    await generate(telegram)
    await wait_until(await stage_is(bot, Stage.FAILED))
    await bot.services.tasks.idle()
    await telegram.wait_for(lambda: "refunded" in (progress_messages(telegram)[0].text or ""))
    assert (await bot.services.storage.tasks.require(1)).error_code == 531
    assert telegram.audios(ALICE) == []
    # An operator sees how many tasks failed, and why, without reading code.
    metrics = await (await http.get(f"{bot.url}/metrics")).text()
    assert 'bot_tasks_finished_total{code="531",kind="generate",outcome="failed"} 1.0' in metrics


async def test_sensitive_words_are_explained(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, wait_until: WaitUntil
) -> None:
    provider.script(sensitive=True)
    await generate(telegram)
    await wait_until(await stage_is(bot, Stage.FAILED))
    await bot.services.tasks.idle()
    await telegram.wait_for(lambda: "does not allow" in (progress_messages(telegram)[0].text or ""))
    assert telegram.audios(ALICE) == []


# ---- operator routes -------------------------------------------------------------------------------


async def test_healthz(bot: RunningBot, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{bot.url}/healthz") as response:
        assert response.status == 200
        assert response.content_type == "application/json"
        body = await response.json()
    assert body["status"] == "ok" and body["storage"] == "ok" and body["mode"] == "webhook"


async def test_metrics_count_created_tasks(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, http: aiohttp.ClientSession
) -> None:
    await generate(telegram)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=15)
    await bot.services.tasks.idle()
    async with http.get(f"{bot.url}/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    assert 'bot_tasks_created_total{kind="generate"} 1.0' in text
    assert "bot_delivered_tracks_total 2.0" in text
