"""Audio intake refusals, the file route's token rules, and question flows that get interrupted."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import aiohttp
import pytest

from bot.settings import Settings
from emulators.audio_fixtures import make_mp3
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.conversations import UserDataWrite
from storage.store import Storage

CAROL = 3003


@pytest.fixture
def carol(telegram: TelegramEmulator) -> ScriptedPerson:
    return ScriptedPerson(telegram, CAROL, first_name="Carol", timeout=15)


def provider_untouched(provider: ProviderEmulator) -> bool:
    return not [r for r in provider.requests if r.host in ("api", "upload")]


async def test_a_file_over_twenty_megabytes_is_refused_before_download(
    bot: RunningBot, carol: ScriptedPerson, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    await carol.send_audio(b"\xff" * (20 * 1024 * 1024 + 10), kind="document", file_name="huge.mp3")
    await carol.wait_for_text("bots can only download files up to 20.0 MB")
    assert telegram.calls("getFile") == []  # nothing was downloaded
    assert provider_untouched(provider)


async def test_a_file_that_is_not_audio_is_refused(bot: RunningBot, carol: ScriptedPerson) -> None:
    await carol.send_audio(b"%PDF-1.4 not a song" * 50, kind="document", file_name="song.mp3")
    await carol.wait_for_text("can't read this file as audio")


async def test_a_file_too_long_for_a_cover_is_refused_when_cover_is_chosen(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    carol: ScriptedPerson,
    provider: ProviderEmulator,
) -> None:
    async with start_bot(make_settings(SUNO_MODEL="V4_5ALL")):  # V4_5ALL takes one minute at most
        await carol.send_audio(make_mp3(61.5), file_name="long.mp3")
        await carol.answer("What should I do with it?", button="Cover")
        await carol.wait_for_text("Cover takes audio up to 1:00 long; this one is 1:01")
        await carol.press("Add vocals")  # other tasks still accept it
        await carol.wait_for_text("Send the lyrics to sing")
    assert provider_untouched(provider)


async def test_a_short_clip_gets_a_warning_for_vocals(bot: RunningBot, carol: ScriptedPerson) -> None:
    await carol.send_audio(make_mp3(4.0), file_name="tiny.mp3")
    await carol.answer("What should I do with it?", button="Add vocals")
    await carol.wait_for_text("Clips under 10 seconds may give limited results")


async def test_cancel_leaves_the_question_and_nothing_is_sent(
    bot: RunningBot, carol: ScriptedPerson, provider: ProviderEmulator
) -> None:
    await carol.say("/custom")
    await carol.answer("What is the title?", text="Half a song")
    await carol.answer("Which style?", text="/cancel")
    await carol.wait_for_text("Cancelled")
    await carol.say("pop")  # no question is open any more: the bot says what it can do
    await carol.wait_for_text("I make songs")
    assert provider_untouched(provider)


async def test_a_restart_mid_question_carries_on_with_the_file(
    settings: Settings,
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    carol: ScriptedPerson,
    provider: ProviderEmulator,
) -> None:
    async with start_bot(settings):
        await carol.send_audio(make_mp3(12.0), file_name="take.mp3")
        await carol.answer("What should I do with it?", button="Cover")
        await carol.wait_for_text("Which style?")
    async with start_bot(settings):
        await carol.answer("Which style?", text="disco")
        await carol.answer("What is the title?", button="Use “take”")  # the draft kept the file's name
        await carol.wait_for_text("Send the lyrics")
    assert provider_untouched(provider)


async def test_a_stored_question_this_version_cannot_read_asks_to_start_again(
    settings: Settings,
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    carol: ScriptedPerson,
    provider: ProviderEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with start_bot(settings):
        await carol.send_audio(make_mp3(12.0), file_name="take.mp3")
        await carol.answer("What should I do with it?", button="Cover")
        await carol.wait_for_text("Which style?")
    # As an upgrade that changed the draft's format would leave it.
    url = settings.database_url.get_secret_value() if settings.database_url else None
    storage = Storage(settings.database_path, url=url)
    await storage.open()
    try:
        unreadable = UserDataWrite(CAROL, '{"draft": {"format": 0, "flow": "cover"}}')
        await storage.conversations.write([unreadable], now=time.time())
    finally:
        await storage.close()
    async with start_bot(settings):
        assert "dropping the stored question of user 3003" in caplog.text
        await carol.say("disco")
        await carol.wait_for_text("please start again")
        await carol.press("Cover")  # the file is still there: the menu works again
        await carol.wait_for_text("Which style?")
    assert provider_untouched(provider)


async def test_a_second_audio_mid_question_starts_over_with_that_file(
    bot: RunningBot, carol: ScriptedPerson, provider: ProviderEmulator
) -> None:
    await carol.send_audio(make_mp3(12.0, frequency=300), file_name="first.mp3")
    await carol.answer("What should I do with it?", button="Cover")
    await carol.answer("Which style?", text="rock")
    await carol.wait_for_text("What is the title?")
    await carol.send_audio(make_mp3(13.0, frequency=600), file_name="second.mp3")
    await carol.answer("What should I do with it?", button="Add instrumental")
    await carol.answer("Which style?", text="strings")
    await carol.answer("What is the title?", button="Use “second”")
    await carol.answer("Any styles to avoid?", button="Just avoid")
    await carol.answer("Which model?", button="V5")
    await carol.wait_for_audios(2)
    assert [r.path for r in provider.requests if r.host == "api" and r.method == "POST"] == [
        "/api/v1/generate/add-instrumental"
    ]
    second = await bot.services.storage.uploads.get(2)
    assert second is not None and provider.last_task.upload_sha256 == second.sha256


async def test_file_route_serves_only_valid_unexpired_tokens(bot: RunningBot, carol: ScriptedPerson) -> None:
    audio = make_mp3(12.0)
    await carol.send_audio(audio, file_name="mine.mp3")
    await carol.wait_for_text("What should I do with it?")
    await carol.send_audio(make_mp3(12.5), file_name="other.mp3")
    await carol.wait_for_text("What should I do with it?")
    signer = bot.services.signer
    good = signer.file_token(1)
    upload_id, expires, mac = good.split(".")
    async with aiohttp.ClientSession() as http:

        async def status(token: str) -> int:
            async with http.get(f"{bot.url}/files/{token}") as response:
                if response.status == 200:
                    assert await response.read() == audio
                return response.status

        assert await status(good) == 200
        assert await status(f"2.{expires}.{mac}") == 403  # the same signature for another file
        assert await status(f"{upload_id}.{int(expires) + 3600}.{mac}") == 403  # a stretched expiry
        assert await status(signer.file_token(1, ttl=-1)) == 403  # expired
        assert await status(signer.file_token(1, now=time.time() - 7200)) == 403
        assert await status("garbage") == 403
        assert await status("..%2F..%2Fetc%2Fpasswd") == 403
        assert await status(signer.callback_token(1)) == 403  # a callback token is no file token
        assert await status(signer.file_token(99)) == 404  # signed, but no such file
        await bot.services.storage.uploads.mark_deleted(1, now=time.time())
        assert await status(good) == 404
