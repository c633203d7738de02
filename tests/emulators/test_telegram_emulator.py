"""The Telegram emulator, driven by the real PTB Bot (as the product will) and by raw HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import io
import math
from array import array
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import lameenc
import pytest
from aiohttp import web
from PIL import Image
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from emulators.harness import free_port, served
from emulators.telegram.server import ChatEvent, TelegramEmulator
from emulators.telegram.state import format_text, jpeg_size

CHAT = 42


def make_mp3(seconds: float = 1.0, rate: int = 22050) -> bytes:
    tone = (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate)))
    samples = array("h", tone)
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(64)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return bytes(encoder.encode(samples.tobytes()) + encoder.flush())


def make_image(size: tuple[int, int] = (90, 90), fmt: str = "JPEG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buffer, fmt)
    return buffer.getvalue()


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d, callback_data=d) for d in data]])


def seconds(value: int | dtm.timedelta) -> float:
    # PTB 22 returns retry_after as int or timedelta depending on PTB_TIMEDELTA.
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


@pytest.fixture
async def tg(tmp_path: Path) -> AsyncIterator[TelegramEmulator]:
    # per_chat_interval=0: most tests send bursts on purpose; the flood tests build their own emulator.
    async with TelegramEmulator(files_dir=tmp_path / "files", per_chat_interval=0) as emulator:
        yield emulator


def make_bot(tg: TelegramEmulator) -> Bot:
    return Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot")


@pytest.fixture
async def bot(tg: TelegramEmulator) -> AsyncIterator[Bot]:
    async with make_bot(tg) as ptb_bot:
        yield ptb_bot


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call_raw(
    http: aiohttp.ClientSession, url: str, *, json: Any = None, data: Any = None, get: bool = False
) -> tuple[int, dict[str, Any]]:
    method = "GET" if get else "POST"
    async with http.request(method, url, json=json, data=data) as response:
        return response.status, await response.json()


# --- PTB round trips ------------------------------------------------------------------------------


async def test_get_me(bot: Bot, tg: TelegramEmulator) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "music_test_bot" and me.id == 123456
    assert tg.requests[-1].method == "getMe" and tg.requests[-1].status == 200


async def test_send_then_edit_keeps_history_and_rejects_identical_edit(
    bot: Bot, tg: TelegramEmulator
) -> None:
    await tg.user_sends_text(CHAT, "/start")
    sent = await bot.send_message(CHAT, "Queued", reply_markup=keyboard("cancel"))
    edited = await bot.edit_message_text(
        "Lyrics ready", CHAT, sent.message_id, reply_markup=keyboard("cancel")
    )
    assert edited.text == "Lyrics ready" and edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("Lyrics ready", CHAT, sent.message_id, reply_markup=keyboard("cancel"))
    # Leaving out reply_markup removes the keyboard, as on the real server, so that edit is a change.
    await bot.edit_message_text("Lyrics ready", CHAT, sent.message_id)

    message = tg.bot_messages(CHAT)[0]
    assert message.edits == ["Queued", "Lyrics ready"]
    assert message.reply_markup is None and "reply_markup" not in message.raw
    assert [m.text for m in tg.messages(CHAT)] == ["/start", "Lyrics ready"]
    assert [m.from_bot for m in tg.messages(CHAT)] == [False, True]


async def test_edit_reply_markup_and_caption_not_modified(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    sent = await bot.send_message(CHAT, "menu", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard("a"))
    await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=keyboard("b"))
    assert tg.bot_messages(CHAT)[0].button_data() == ["b"]
    with pytest.raises(BadRequest, match=r"(?i)no caption"):
        await bot.edit_message_caption(CHAT, sent.message_id, caption="x")

    audio = await bot.send_audio(CHAT, make_mp3(0.3), caption="take 1", filename="a.mp3")
    await bot.edit_message_caption(CHAT, audio.message_id, caption="take 2")
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_caption(CHAT, audio.message_id, caption="take 2")
    with pytest.raises(BadRequest, match=r"(?i)no text in the message"):
        await bot.edit_message_text("x", CHAT, audio.message_id)
    assert tg.audios(CHAT)[0].edits == ["take 1", "take 2"]


async def test_send_audio_upload_with_thumbnail_then_download(bot: Bot, tg: TelegramEmulator) -> None:
    mp3 = make_mp3(1.0)
    await tg.user_sends_text(CHAT, "make me a song")
    message = await bot.send_audio(
        CHAT,
        mp3,
        filename="song.mp3",
        duration=1,
        title="Tone",
        performer="Emulator",
        caption="<b>Your</b> track",
        parse_mode="HTML",
        thumbnail=make_image((90, 60)),
    )
    audio = message.audio
    assert audio is not None and audio.file_id and audio.file_unique_id
    assert seconds(audio.duration) == 1 and (audio.title, audio.performer) == ("Tone", "Emulator")
    assert audio.file_size == len(mp3) and audio.mime_type == "audio/mpeg" and audio.file_name == "song.mp3"
    assert audio.thumbnail is not None and (audio.thumbnail.width, audio.thumbnail.height) == (90, 60)
    assert message.caption == "Your track" and message.caption_entities[0].type == "bold"

    observed = tg.audios(CHAT)[0].audio
    assert observed is not None and await asyncio.to_thread(Path(observed["path"]).read_bytes) == mp3
    assert observed["sha256"] == tg.requests[-1].params["audio"]["sha256"]

    file = await bot.get_file(audio.file_id)
    assert file.file_path is not None and file.file_path.endswith(".mp3")
    assert bytes(await file.download_as_bytearray()) == mp3

    # The file_id the emulator issued can be sent again; an invented one cannot.
    again = await bot.send_audio(CHAT, audio.file_id)
    assert again.audio is not None and again.audio.file_unique_id == audio.file_unique_id
    assert again.audio.title == "Tone"
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_audio(CHAT, "AgADBAADnotAfile")
    assert [m.audio["sent_by"] for m in tg.audios(CHAT)] == ["upload", "file_id"]  # type: ignore[index]


# --- Files sent by URL: the emulator fetches them as Telegram does -------------------------------


@pytest.fixture
async def web_host() -> AsyncIterator[tuple[str, bytes]]:
    """A loopback host for files sent by URL; yields its base URL and the MP3 it serves."""
    mp3 = make_mp3(2.0)
    never = asyncio.Event()

    async def track(request: web.Request) -> web.Response:
        return web.Response(body=mp3, content_type="audio/mpeg")

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<html>not a song</html>", content_type="text/html")

    async def missing(request: web.Request) -> web.Response:
        raise web.HTTPNotFound()

    async def endless(request: web.Request) -> web.StreamResponse:
        # No Content-Length: only counting the bytes as they come can stop it.
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await response.prepare(request)
        for _ in range(64):
            await response.write(mp3)
        await response.write_eof()
        return response

    async def stalled(request: web.Request) -> web.Response:
        await never.wait()  # a host that does not answer: the fetch's own timeout must end it
        return web.Response(status=503)

    app = web.Application()
    app.router.add_get("/track.mp3", track)
    app.router.add_get("/page.html", page)
    app.router.add_get("/missing.mp3", missing)
    app.router.add_get("/endless.mp3", endless)
    app.router.add_get("/stalled.mp3", stalled)
    async with served(app) as url:
        try:
            yield url, mp3
        finally:
            never.set()  # let the stalled handler end, or the server's shutdown would wait for it


async def test_send_audio_by_url_is_fetched_stored_and_downloadable(
    bot: Bot, tg: TelegramEmulator, web_host: tuple[str, bytes]
) -> None:
    host, mp3 = web_host
    await tg.user_sends_text(CHAT, "hi")
    # A URL with a thumbnail uploaded beside it: the call is multipart, the audio a string.
    message = await bot.send_audio(CHAT, f"{host}/track.mp3", title="Tone", thumbnail=make_image((80, 80)))
    audio = message.audio
    assert audio is not None and audio.file_id and audio.file_size == len(mp3)
    assert seconds(audio.duration) == 2  # probed from the fetched file: the sender gave none
    assert audio.mime_type == "audio/mpeg" and audio.file_name == "track.mp3" and audio.title == "Tone"
    assert audio.thumbnail is not None and audio.thumbnail.width == 80
    assert tg.calls("sendAudio")[-1].params["audio"] == f"{host}/track.mp3"  # a string, not an upload

    observed = tg.audios(CHAT)[0].audio
    assert observed is not None
    assert observed["sent_by"] == "url" and observed["source_url"] == f"{host}/track.mp3"
    assert await asyncio.to_thread(Path(observed["path"]).read_bytes) == mp3
    file = await bot.get_file(audio.file_id)
    assert bytes(await file.download_as_bytearray()) == mp3
    again = await bot.send_audio(CHAT, audio.file_id)  # its file_id works like an upload's
    assert again.audio is not None and again.audio.file_unique_id == audio.file_unique_id


async def test_urls_telegram_cannot_fetch_are_refused(
    bot: Bot, tg: TelegramEmulator, web_host: tuple[str, bytes]
) -> None:
    host, mp3 = web_host
    await tg.user_sends_text(CHAT, "hi")
    tg.max_url_bytes = 4 * len(mp3)
    tg.url_fetch_timeout = 0.5
    refusals = {
        f"{host}/missing.mp3": "failed to get HTTP URL content",  # not 200
        f"{host}/page.html": "wrong type of the web page content",  # not audio
        f"{host}/endless.mp3": "failed to get HTTP URL content",  # more than the limit
        f"{host}/stalled.mp3": "failed to get HTTP URL content",  # no answer in time
        f"http://127.0.0.1:{free_port()}/gone.mp3": "failed to get HTTP URL content",  # unreachable
    }
    for url, description in refusals.items():
        with pytest.raises(BadRequest, match=f"(?i){description}"):
            await bot.send_audio(CHAT, url)
        assert tg.calls("sendAudio")[-1].status == 400
    tg.max_url_bytes = len(mp3) - 1  # Content-Length says too big before a byte is read
    with pytest.raises(BadRequest, match=r"(?i)failed to get HTTP URL content"):
        await bot.send_audio(CHAT, f"{host}/track.mp3")
    assert tg.audios(CHAT) == []
    assert not [p for p in (tg.files_dir or Path()).iterdir() if p.name.startswith(".upload")]


async def test_a_thumbnail_beside_a_file_id_is_ignored(bot: Bot, tg: TelegramEmulator) -> None:
    """Telegram takes a thumbnail only with a new upload: a file sent again keeps the one it had."""
    await tg.user_sends_text(CHAT, "hi")
    first = await bot.send_audio(CHAT, make_mp3(0.2), title="Tone", thumbnail=make_image((90, 60)))
    assert first.audio is not None and first.audio.thumbnail is not None
    again = await bot.send_audio(CHAT, first.audio.file_id, thumbnail=make_image((80, 80)))
    assert again.audio is not None and again.audio.thumbnail is not None
    assert (again.audio.thumbnail.width, again.audio.thumbnail.height) == (90, 60)
    bare = await bot.send_audio(CHAT, make_mp3(0.2), title="Bare")
    assert bare.audio is not None
    resent = await bot.send_audio(CHAT, bare.audio.file_id, thumbnail=make_image((80, 80)))
    assert resent.audio is not None and resent.audio.thumbnail is None


async def test_bad_thumbnails_are_rejected(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    mp3 = make_mp3(0.2)
    with pytest.raises(BadRequest, match=r"(?i)wrong thumbnail.*JPEG"):
        await bot.send_audio(CHAT, mp3, thumbnail=make_image(fmt="PNG"))
    with pytest.raises(BadRequest, match=r"(?i)wrong thumbnail.*400x400"):
        await bot.send_audio(CHAT, mp3, thumbnail=make_image((400, 400)))
    assert tg.audios(CHAT) == []
    assert not [p for p in (tg.files_dir or Path()).iterdir() if p.name.startswith(".upload")]


async def test_documents_and_voice(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    doc = await bot.send_document(CHAT, b"x" * 1000, filename="lyrics.txt")
    assert doc.document is not None and doc.document.mime_type == "text/plain"
    voice = await bot.send_voice(CHAT, make_mp3(0.3), duration=1)
    assert voice.voice is not None and voice.voice.file_size
    assert [m.kind for m in tg.bot_messages(CHAT)] == ["document", "voice"]
    assert tg.audios(CHAT) == []
    with pytest.raises(BadRequest, match=r"(?i)can't use file of type Voice as Audio"):
        await bot.send_audio(CHAT, voice.voice.file_id)


async def test_user_audio_is_downloadable_and_size_limited(tmp_path: Path) -> None:
    mp3 = make_mp3(2.0)
    async with TelegramEmulator(max_download_bytes=len(mp3) - 1) as tg, make_bot(tg) as bot:
        raw = await tg.user_sends_audio(CHAT, mp3, title="Mine")
        assert raw["audio"]["duration"] == 2 and raw["audio"]["file_size"] == len(mp3)
        with pytest.raises(BadRequest, match=r"(?i)file is too big"):
            await bot.get_file(raw["audio"]["file_id"])
        tg.max_download_bytes = len(mp3)
        file = await bot.get_file(raw["audio"]["file_id"])
        assert bytes(await file.download_as_bytearray()) == mp3
        with pytest.raises(BadRequest, match=r"(?i)invalid file_id"):
            await bot.get_file("nope")


async def test_without_files_dir_uploads_are_hashed_not_kept() -> None:
    mp3 = make_mp3(0.5)
    async with TelegramEmulator() as tg, make_bot(tg) as bot:
        await tg.user_sends_text(CHAT, "hi")
        sent = await bot.send_audio(CHAT, mp3, filename="s.mp3")
        observed = tg.audios(CHAT)[0].audio
        assert observed is not None and observed["path"] is None and observed["file_size"] == len(mp3)
        assert sent.audio is not None
        file = await bot.get_file(sent.audio.file_id)
        with pytest.raises(TelegramError, match=r"(?i)kept no bytes"):  # PTB maps a 404 to InvalidToken
            await file.download_as_bytearray()


# --- Validation -----------------------------------------------------------------------------------


async def test_routing_errors(tg: TelegramEmulator, http: aiohttp.ClientSession) -> None:
    base = f"{tg.url}/bot{tg.token}"
    assert await call_raw(http, f"{base}/noSuchMethod") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert await call_raw(http, f"{tg.url}/bot999:wrong/getMe") == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    assert [(r.method, r.status) for r in tg.requests] == [("noSuchMethod", 404), ("getMe", 401)]
    status, body = await call_raw(http, f"{base}/GETME", get=True)  # method names ignore case
    assert status == 200 and body["result"]["is_bot"] is True
    status, body = await call_raw(http, f"{base}/sendAnimation", data={"chat_id": "1", "animation": "x"})
    assert status == 400 and "does not implement sendAnimation" in body["description"]
    status, _ = await call_raw(http, f"{tg.url}/file/bot{tg.token}/music/nothing.mp3", get=True)
    assert status == 404


async def test_field_validation(tg: TelegramEmulator, http: aiohttp.ClientSession) -> None:
    base = f"{tg.url}/bot{tg.token}"
    await tg.user_sends_text(CHAT, "hi")
    status, body = await call_raw(
        http, f"{base}/sendMessage", json={"chat_id": CHAT, "text": "x", "colour": 1}
    )
    assert status == 400 and 'unexpected parameter "colour"' in body["description"]
    status, body = await call_raw(http, f"{base}/sendMessage", json={"chat_id": CHAT})
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")
    status, body = await call_raw(http, f"{base}/sendMessage", data={"text": "x"})
    assert (status, body["description"]) == (400, "Bad Request: chat_id is empty")
    status, body = await call_raw(http, f"{base}/sendMessage", json={"chat_id": 7, "text": "x"})
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    status, body = await call_raw(
        http, f"{base}/deleteMessage", data={"chat_id": str(CHAT), "message_id": "x1"}
    )
    assert status == 400 and "Integer" in body["description"]
    # Query-string parameters and JSON bodies both work; JSON numbers are fine for string fields.
    status, body = await call_raw(http, f"{base}/sendMessage?chat_id={CHAT}&text=via%20query", get=True)
    assert status == 200 and body["result"]["text"] == "via query"
    status, body = await call_raw(http, f"{base}/sendMessage", json={"chat_id": str(CHAT), "text": 12345})
    assert status == 200 and body["result"]["text"] == "12345"
    assert [r.status for r in tg.calls("sendMessage")] == [400, 400, 400, 400, 200, 200]


async def test_unknown_fields_allowed_when_configured(http: aiohttp.ClientSession) -> None:
    async with TelegramEmulator(reject_unknown_fields=False) as tg:
        status, _ = await call_raw(http, f"{tg.url}/bot{tg.token}/getMe", json={"whatever": 1})
        assert status == 200


async def test_text_and_caption_limits(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    await bot.send_message(CHAT, "a" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "a" * 4097)
    # Markup does not count, escaped characters count once.
    await bot.send_message(CHAT, "<b>" + "&lt;" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(CHAT, "  \n ")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities: Unsupported start tag \"3\""):
        await bot.send_message(CHAT, "I <3 music", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)reserved and must be escaped"):
        await bot.send_message(CHAT, "Done.", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
        await bot.send_audio(CHAT, make_mp3(0.2), caption="c" * 1025)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "x", reply_markup=keyboard("d" * 65))


def test_formatted_text_parsers() -> None:
    assert format_text("  <b>hé</b> <a href='https://x.y'>link</a> ", "HTML", None) == (
        "hé link",
        [
            {"type": "bold", "offset": 0, "length": 2},
            {"type": "text_link", "offset": 3, "length": 4, "url": "https://x.y"},
        ],
    )
    assert format_text("*bold* \\. _it_", "MarkdownV2", None)[0] == "bold . it"
    assert format_text("😀 <i>x</i>", "HTML", None)[1] == [{"type": "italic", "offset": 3, "length": 1}]
    assert jpeg_size(make_image((17, 33))) == (17, 33)
    assert jpeg_size(make_image(fmt="PNG")) is None


# --- Scripted faults ------------------------------------------------------------------------------


async def test_fail_next_429_is_retry_after_then_recovers(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    tg.fail_next("editMessageText", retry_after=3)
    sent = await bot.send_message(CHAT, "one")  # other methods are unaffected
    with pytest.raises(RetryAfter) as caught:
        await bot.edit_message_text("two", CHAT, sent.message_id)
    assert seconds(caught.value.retry_after) == 3
    await bot.edit_message_text("two", CHAT, sent.message_id)
    assert [r.status for r in tg.calls("editMessageText")] == [429, 200]

    tg.fail_next("sendMessage", error_code=500, chat_id=CHAT, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(CHAT, "x")
    await bot.send_message(CHAT, "x")
    with pytest.raises(ValueError, match=r"(?i)not a Bot API method"):
        tg.fail_next("sendMesage")


async def test_blocked_user_is_forbidden(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    tg.block_bot(CHAT)
    with pytest.raises(Forbidden, match=r"(?i)blocked by the user"):
        await bot.send_message(CHAT, "are you there?")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(CHAT, "typing")
    updates = await bot.get_updates()
    assert updates[-1].my_chat_member is not None
    assert updates[-1].my_chat_member.new_chat_member.status == "kicked"
    await tg.user_sends_text(CHAT, "sorry, back")  # writing again unblocks, as a real client does
    await bot.send_message(CHAT, "welcome back")


# --- Updates: long polling and webhooks -----------------------------------------------------------


async def test_get_updates_long_poll(bot: Bot, tg: TelegramEmulator) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_for(lambda: any(r.method == "getUpdates" for r in tg.requests))
    raw = await tg.user_sends_text(CHAT, "/start", first_name="Bob")
    updates = await asyncio.wait_for(poll, 3)
    assert [u.message.text for u in updates if u.message] == ["/start"]
    assert updates[0].message is not None and updates[0].message.message_id == raw["message_id"]
    assert updates[0].message.entities[0].type == "bot_command"
    # Unconfirmed updates come again; an offset past them confirms them.
    assert (await bot.get_updates())[0].update_id == updates[0].update_id
    await tg.user_sends_text(CHAT, "second")
    later = await bot.get_updates(offset=updates[0].update_id + 1)
    assert [u.message.text for u in later if u.message] == ["second"]
    assert later[0].update_id > updates[0].update_id


async def test_newer_get_updates_terminates_older_long_poll(bot: Bot, tg: TelegramEmulator) -> None:
    older = asyncio.create_task(bot.get_updates(timeout=5))
    await tg.wait_for(lambda: bool(tg.calls("getUpdates")))
    async with make_bot(tg) as second_instance:  # PTB keeps one connection for getUpdates per Bot
        assert await second_instance.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
        await asyncio.wait_for(older, 3)


async def test_ptb_application_polling_end_to_end(tg: TelegramEmulator) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Welcome!", reply_markup=keyboard("new_song"))

    app = (
        ApplicationBuilder()
        .token(tg.token)
        .base_url(f"{tg.url}/bot")
        .base_file_url(f"{tg.url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await tg.user_sends_text(CHAT, "/start")
        await tg.wait_for(lambda: bool(tg.bot_messages(CHAT)))
        await app.updater.stop()
        await app.stop()
    reply = tg.bot_messages(CHAT)[0]
    assert reply.text == "Welcome!" and reply.button_data() == ["new_song"]
    assert tg.pending_updates == []  # PTB confirmed what it processed


async def test_webhook_delivery_with_secret_and_retries(bot: Bot, tg: TelegramEmulator) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    failures = [500]  # the first delivery fails, so the update must stay pending and be retried

    async def hook(request: web.Request) -> web.Response:
        if failures:
            return web.Response(status=failures.pop())
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        with pytest.raises(BadRequest, match=r"(?i)unallowed characters"):
            await bot.set_webhook(url, secret_token="not ok!")
        assert await bot.set_webhook(
            url, secret_token="s3cret_-", allowed_updates=["message", "callback_query"]
        )
        info = await bot.get_webhook_info()
        assert info.url == url and info.allowed_updates == ("message", "callback_query")
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()

        await tg.user_sends_text(CHAT, "first")
        await tg.user_sends_text(CHAT, "second")
        await tg.wait_for(lambda: len(received) == 2, timeout=5)
        assert [secret for secret, _ in received] == ["s3cret_-", "s3cret_-"]
        assert [body["message"]["text"] for _, body in received] == ["first", "second"]
        assert [d.status for d in tg.webhook_deliveries] == [500, 200, 200]
        assert tg.webhook.pending_update_count == 0 and "500" in (tg.webhook.last_error_message or "")

        await runner.cleanup()  # the bot goes away: updates wait, errors are recorded
        await tg.user_sends_text(CHAT, "while down")
        await tg.wait_for(lambda: tg.webhook_deliveries[-1].status is None, timeout=5)
        assert tg.webhook.pending_update_count == 1
        assert await bot.delete_webhook()
        updates = await bot.get_updates()
        assert [u.message.text for u in updates if u.message] == ["while down"]
    finally:
        await runner.cleanup()


async def test_strict_webhook_url() -> None:
    async with TelegramEmulator(strict_webhook_url=True) as tg, make_bot(tg) as bot:
        with pytest.raises(BadRequest, match=r"(?i)HTTPS URL must be provided"):
            await bot.set_webhook("http://example.com/hook")
        with pytest.raises(BadRequest, match=r"(?i)ports 80, 88, 443 or 8443"):
            await bot.set_webhook("https://example.com:9000/hook")
        assert await bot.set_webhook("https://example.com:8443/hook")


# --- Callbacks, actions, commands -----------------------------------------------------------------


async def test_button_press_and_callback_answer(bot: Bot, tg: TelegramEmulator) -> None:
    events: list[ChatEvent] = []
    tg.subscribe(events.append)
    await tg.user_sends_text(CHAT, "hi")
    menu = await bot.send_message(CHAT, "Pick", reply_markup=keyboard("simple", "custom"))
    with pytest.raises(ValueError, match=r"(?i)no button"):
        await tg.user_presses_button(CHAT, menu.message_id, "gone")
    query_id = await tg.user_presses_button(CHAT, menu.message_id, "custom")
    updates = await bot.get_updates()
    query = updates[-1].callback_query
    assert query is not None and query.id == query_id and query.data == "custom"
    assert query.message is not None and query.message.message_id == menu.message_id
    with pytest.raises(BadRequest, match=r"(?i)MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(query_id, text="x" * 201)
    await bot.answer_callback_query(query_id, text="Custom mode")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    assert tg.answered_callbacks[0].text == "Custom mode" and tg.answered_callbacks[0].data == "custom"
    assert [e.kind for e in events] == ["user_message", "bot_message", "user_callback", "callback_answered"]


async def test_chat_action_delete_and_commands(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    await bot.send_chat_action(CHAT, "upload_document")
    with pytest.raises(BadRequest, match=r"(?i)wrong parameter action"):
        await bot.send_chat_action(CHAT, "upload_audio")
    assert [a.action for a in tg.chat_actions] == ["upload_document"]
    sent = await bot.send_message(CHAT, "temporary")
    assert await bot.delete_message(CHAT, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(CHAT, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", CHAT, sent.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("x", CHAT, 1)  # the person's own message
    assert tg.bot_messages(CHAT) == [] and len(tg.bot_messages(CHAT, include_deleted=True)) == 1

    await bot.set_my_commands([("start", "Start"), ("new", "New song")])
    await bot.set_my_commands([("start", "Начать")], language_code="ru")
    assert [c["command"] for c in tg.commands] == ["start", "new"]
    assert tg.commands_for(language_code="ru") == [{"command": "start", "description": "Начать"}]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "new"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad-Name", "x")])
    await bot.delete_my_commands()
    assert tg.commands == []


async def test_descriptions_per_language_within_the_bot_api_bounds(bot: Bot, tg: TelegramEmulator) -> None:
    await bot.set_my_description("Songs from a sentence.")
    await bot.set_my_description("Песни из одной фразы.", language_code="ru")
    await bot.set_my_short_description("x" * 120)
    assert tg.descriptions == {"": "Songs from a sentence.", "ru": "Песни из одной фразы."}
    assert (await bot.get_my_description(language_code="ru")).description == "Песни из одной фразы."
    # A language without its own sees the default one.
    assert (await bot.get_my_description(language_code="de")).description == "Songs from a sentence."
    assert (await bot.get_my_short_description()).short_description == "x" * 120

    with pytest.raises(BadRequest, match="too long"):
        await bot.set_my_short_description("x" * 121)
    with pytest.raises(BadRequest, match="too long"):
        await bot.set_my_description("x" * 513)
    with pytest.raises(BadRequest, match="language code"):
        await bot.set_my_description("Songs", language_code="english")
    assert tg.short_descriptions == {"": "x" * 120}  # refused calls change nothing

    await bot.set_my_description("", language_code="ru")  # an empty text removes the language's own
    assert tg.descriptions == {"": "Songs from a sentence."}
    assert (await bot.get_my_description(language_code="ru")).description == "Songs from a sentence."


# --- Uploads over HTTP ----------------------------------------------------------------------------


async def test_multipart_upload_over_limit_is_413(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    async with TelegramEmulator(files_dir=tmp_path, max_upload_bytes=1_000_000) as tg:
        await tg.user_sends_text(CHAT, "hi")
        form = aiohttp.FormData()
        form.add_field("chat_id", str(CHAT))
        form.add_field(
            "audio", io.BytesIO(b"\xff\xfb" * 600_000), filename="big.mp3", content_type="audio/mpeg"
        )
        status, body = await call_raw(http, f"{tg.url}/bot{tg.token}/sendAudio", data=form)
        assert (status, body["description"]) == (413, "Request Entity Too Large")
        assert tg.audios(CHAT) == [] and not await asyncio.to_thread(lambda: list(tmp_path.glob(".upload-*")))
        async with make_bot(tg) as bot:
            with pytest.raises(NetworkError, match=r"(?i)too large"):
                await bot.send_audio(CHAT, b"\xff\xfb" * 600_000)


async def test_multipart_attach_reference_and_unreferenced_part(
    tg: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    await tg.user_sends_text(CHAT, "hi")
    url = f"{tg.url}/bot{tg.token}/sendAudio"
    form = aiohttp.FormData()
    form.add_field("chat_id", str(CHAT))
    form.add_field("audio", "attach://track")
    form.add_field("track", make_mp3(0.2), filename="t.mp3", content_type="audio/mpeg")
    status, body = await call_raw(http, url, data=form)
    assert status == 200 and body["result"]["audio"]["file_name"] == "t.mp3"
    form = aiohttp.FormData()
    form.add_field("chat_id", str(CHAT))
    form.add_field("audio", make_mp3(0.2), filename="t.mp3")
    form.add_field("stray", b"123", filename="x.bin")
    status, body = await call_raw(http, url, data=form)
    assert status == 400 and "stray" in body["description"]


# --- Flood limits ---------------------------------------------------------------------------------


async def test_per_chat_violations_are_counted(tmp_path: Path) -> None:
    async with TelegramEmulator(per_chat_interval=1.0) as tg, make_bot(tg) as bot:
        await tg.user_sends_text(CHAT, "hi")
        await tg.user_sends_text(CHAT + 1, "hi")
        await bot.send_chat_action(CHAT, "typing")  # not counted
        await bot.send_message(CHAT, "one")
        await bot.send_message(CHAT, "two")
        await bot.send_message(CHAT + 1, "other chat")
        assert [(v.kind, v.chat_id, v.method, v.refused) for v in tg.violations] == [
            ("per_chat", CHAT, "sendMessage", False)
        ]
        assert len(tg.bot_messages(CHAT)) == 2  # counted, still executed


async def test_enforced_limits_answer_429_without_executing() -> None:
    async with TelegramEmulator(per_chat_interval=10.0, enforce_limits=True) as tg, make_bot(tg) as bot:
        await tg.user_sends_text(CHAT, "hi")
        await bot.send_message(CHAT, "one")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(CHAT, "two")
        assert 1 <= seconds(caught.value.retry_after) <= 10
        assert [m.text for m in tg.bot_messages(CHAT)] == ["one"]
        assert tg.violations[0].refused is True


async def test_global_violations() -> None:
    async with TelegramEmulator(per_chat_interval=0, global_per_second=3) as tg, make_bot(tg) as bot:
        for user in range(1, 6):
            await tg.user_sends_text(user, "hi")
        await asyncio.gather(*(bot.send_message(user, "news") for user in range(1, 6)))
        assert [v.kind for v in tg.violations] == ["global", "global"]


# --- Waiting --------------------------------------------------------------------------------------


async def test_wait_for_times_out_with_a_useful_message(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hello?")
    await bot.send_message(CHAT, "working on it")
    with pytest.raises(TimeoutError) as caught:
        await tg.wait_for(lambda: len(tg.audios(CHAT)) > 0, timeout=0.2)
    message = str(caught.value)
    assert "0.2s" in message and "sendMessage" in message and "'working on it'" in message


async def test_wait_for_wakes_on_change(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    waiter = asyncio.create_task(tg.wait_for(lambda: bool(tg.bot_messages(CHAT)), timeout=5))
    await asyncio.sleep(0)
    assert not waiter.done()
    await bot.send_message(CHAT, "done")
    await asyncio.wait_for(waiter, 1)
