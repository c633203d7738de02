"""Outages of the Telegram emulator's front proxy, met by the real PTB Bot and by raw aiohttp.

What matters here is what a client sees (an HTML 502 or a reset, never the JSON envelope) and that a
refused call leaves no trace in the chat, so the bot's fault tests can trust both.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections.abc import AsyncIterator

import aiohttp
import pytest
from telegram import Bot
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut

from emulators.audio_fixtures import make_mp3
from emulators.telegram.server import TelegramEmulator

CHAT = 42


@pytest.fixture
async def tg() -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(per_chat_interval=0) as emulator:
        await emulator.user_sends_text(CHAT, "/start")  # message 1: the chat exists
        yield emulator


@pytest.fixture
async def bot(tg: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot") as ptb_bot:
        yield ptb_bot


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_502_outage_is_nginx_html_and_ptb_raises_network_error(
    bot: Bot, tg: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    outage = tg.outage(math.inf)
    with pytest.raises(NetworkError, match=r"Bad Gateway \(502\)") as raised:
        await bot.send_message(CHAT, "Queued")
    assert not isinstance(raised.value, BadRequest | TimedOut)
    assert isinstance(raised.value.__cause__, TelegramError)
    assert "Invalid server response" in str(raised.value.__cause__)

    async with http.post(
        f"{tg.url}/bot{tg.token}/sendMessage", json={"chat_id": CHAT, "text": "raw"}
    ) as response:
        assert response.status == 502 and response.content_type == "text/html"
        body = await response.text()
    assert "<title>502 Bad Gateway</title>" in body and "nginx" in body and '"ok"' not in body
    # The proxy answers before the API would look at the token or the method name.
    async with http.post(f"{tg.url}/botWRONG/notAMethod") as response:
        assert response.status == 502

    assert tg.bot_messages(CHAT) == []
    refused = tg.requests[-3:]
    assert [(r.status, r.fault) for r in refused] == [(502, "outage:502")] * 3
    first = refused[0]
    assert (first.method, first.chat_id, first.params["text"]) == ("sendMessage", CHAT, "Queued")
    assert tg.outage_refused == outage.refused == 3

    outage.end()
    await asyncio.wait_for(outage.over(), 1)
    sent = await bot.send_message(CHAT, "Queued")
    assert sent.message_id == 2  # the refused sends used up no message ids: they were never applied
    assert [m.text for m in tg.bot_messages(CHAT)] == ["Queued"]
    assert (tg.requests[-1].status, tg.requests[-1].fault) == (200, None)
    assert tg.outage_refused == 3


async def test_reset_outage_closes_the_connection_without_an_answer(
    bot: Bot, tg: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    message = await bot.send_message(CHAT, "Queued")
    async with tg.outage(math.inf, mode="reset"):
        # ClientOSError (connection reset) or ServerDisconnectedError, depending on the race.
        with pytest.raises(aiohttp.ClientConnectionError):
            async with http.post(
                f"{tg.url}/bot{tg.token}/sendMessage", json={"chat_id": CHAT, "text": "raw"}
            ) as response:
                await response.read()
        with pytest.raises(NetworkError) as raised:
            await bot.edit_message_text("Lyrics ready", CHAT, message.message_id)
        assert not isinstance(raised.value, TimedOut)  # a reset is not a timeout: it comes at once

    assert [m.edits for m in tg.bot_messages(CHAT)] == [["Queued"]]
    refused = tg.requests[-2:]
    assert [(r.method, r.status, r.fault) for r in refused] == [
        ("sendMessage", 0, "outage:reset"),
        ("editMessageText", 0, "outage:reset"),
    ]
    assert tg.outage_refused == 2

    await bot.edit_message_text("Lyrics ready", CHAT, message.message_id)  # leaving the block ended it
    assert tg.bot_messages(CHAT)[0].edits == ["Queued", "Lyrics ready"]


async def test_outage_of_named_methods_ends_by_itself(bot: Bot, tg: TelegramEmulator) -> None:
    audio = make_mp3(0.5)
    outage = tg.outage(0.5, mode="reset", methods={"SENDAUDIO"})
    await bot.send_message(CHAT, "still talking")  # other methods go through meanwhile
    with pytest.raises(NetworkError):
        await bot.send_audio(CHAT, audio, filename="song.mp3")
    assert tg.audios(CHAT) == []
    refused = tg.calls("sendAudio")[-1]
    # The multipart body was read before the reset, so a test can tell which upload was swallowed.
    assert refused.params["audio"]["sha256"] == hashlib.sha256(audio).hexdigest()
    assert (refused.chat_id, refused.fault) == (CHAT, "outage:reset")

    await asyncio.wait_for(outage.over(), 5)
    assert not outage.active
    await bot.send_audio(CHAT, audio, filename="song.mp3")
    assert len(tg.audios(CHAT)) == 1
    assert tg.outage_refused == 1


async def test_a_scripted_error_waits_for_the_first_call_past_the_outage(
    bot: Bot, tg: TelegramEmulator
) -> None:
    tg.fail_next("sendMessage", error_code=400)
    with tg.outage(math.inf), pytest.raises(NetworkError):
        await bot.send_message(CHAT, "one")
    with pytest.raises(BadRequest, match=r"(?i)scripted failure"):
        await bot.send_message(CHAT, "two")
    await bot.send_message(CHAT, "three")
    assert [m.text for m in tg.bot_messages(CHAT)] == ["three"]


@pytest.mark.parametrize(
    ("seconds", "kwargs"),
    [
        (0, {}),
        (-1, {}),
        (1, {"mode": "503"}),
        (1, {"methods": {"sendMesage"}}),  # a typo would make the outage never fire
        (1, {"methods": set()}),
    ],
)
async def test_outage_arguments_are_checked(tg: TelegramEmulator, seconds: float, kwargs: dict) -> None:
    with pytest.raises(ValueError):
        tg.outage(seconds, **kwargs)
    assert tg.outage_refused == 0
