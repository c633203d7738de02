"""The aiohttp request backend, driven by a real PTB `Bot` against a small Bot API server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, TimedOut

from bot.telegram.request import AiohttpRequest
from emulators.harness import served

TOKEN = "123456:test-token-not-real"


@dataclass
class Seen:
    requests: list[dict[str, Any]] = field(default_factory=list)
    delay: float = 0.0


def _message(chat_id: int, text: str = "") -> dict[str, Any]:
    return {"message_id": 7, "date": 0, "chat": {"id": chat_id, "type": "private"}, "text": text}


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Seen]]:
    seen = Seen()

    async def method(request: web.Request) -> web.Response:
        name = request.match_info["method"]
        entry: dict[str, Any] = {
            "method": name,
            "content_type": request.content_type,
            "user_agent": request.headers.get("User-Agent", ""),
        }
        if request.content_type == "multipart/form-data":
            fields: dict[str, Any] = {}
            async for part in await request.multipart():
                data = await part.read()  # type: ignore[union-attr]
                fields[part.name or ""] = (part.filename, bytes(data)) if part.filename else data.decode()  # type: ignore[union-attr]
            entry["fields"] = fields
        elif request.content_type == "application/json":
            entry["fields"] = await request.json()
        else:
            entry["fields"] = dict(await request.post())
        seen.requests.append(entry)
        await asyncio.sleep(seen.delay)
        if name == "getMe":
            result: Any = {"id": 123456, "is_bot": True, "first_name": "Test", "username": "test_bot"}
        elif name == "deleteMessage":
            return web.json_response(
                {"ok": False, "error_code": 400, "description": "Bad Request: message to delete not found"},
                status=400,
            )
        else:
            result = _message(int(entry["fields"]["chat_id"]), str(entry["fields"].get("text", "")))
        return web.json_response({"ok": True, "result": result})

    app = web.Application(client_max_size=8 * 1024 * 1024)  # room for the multi-megabyte file test
    app.router.add_post(f"/bot{TOKEN}/{{method}}", method)
    async with served(app) as url:
        yield url, seen


def _bot(url: str, **timeouts: float) -> Bot:
    return Bot(TOKEN, base_url=f"{url}/bot", request=AiohttpRequest(**timeouts))


async def test_parameters_go_as_a_json_object_and_the_answer_comes_back(server: tuple[str, Seen]) -> None:
    url, seen = server
    async with _bot(url) as bot:
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("Extend", callback_data="x:1")]])
        message = await bot.send_message(42, "héllo 🎵", reply_markup=markup)
    assert message.message_id == 7 and message.text == "héllo 🎵"
    sent = seen.requests[-1]
    assert sent["method"] == "sendMessage"
    assert sent["content_type"] == "application/json"
    # Native JSON values, nested objects included: not the form's strings of JSON.
    assert sent["fields"]["chat_id"] == 42 and sent["fields"]["text"] == "héllo 🎵"
    assert sent["fields"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "x:1"
    assert sent["user_agent"].startswith("python-telegram-bot")


async def test_files_go_as_multipart(server: tuple[str, Seen]) -> None:
    url, seen = server
    async with _bot(url) as bot:
        await bot.send_document(42, document=b"\x00\x01 not text", filename="notes.bin", caption="c")
    sent = seen.requests[-1]
    assert sent["content_type"] == "multipart/form-data"
    assert sent["fields"]["chat_id"] == "42" and sent["fields"]["caption"] == "c"
    name, content = next(v for v in sent["fields"].values() if isinstance(v, tuple))
    assert name == "notes.bin" and content == b"\x00\x01 not text"


async def test_a_file_over_a_megabyte_goes_as_a_stream_and_arrives_whole(server: tuple[str, Seen]) -> None:
    # Raw bytes over 1 MB make aiohttp warn that writing them may block the event loop (under the
    # test's warnings-as-errors, the send fails): files go as streams, written in chunks.
    url, seen = server
    content = bytes(range(256)) * 12_000  # 3 MB
    async with _bot(url) as bot:
        await bot.send_document(42, document=content, filename="big.bin")
    name, received = next(v for v in seen.requests[-1]["fields"].values() if isinstance(v, tuple))
    assert name == "big.bin" and received == content


async def test_error_answers_become_ptb_exceptions(server: tuple[str, Seen]) -> None:
    url, _ = server
    async with _bot(url) as bot:
        with pytest.raises(BadRequest, match="Message to delete not found"):
            await bot.delete_message(42, 1)


async def test_a_slow_answer_times_out(server: tuple[str, Seen]) -> None:
    url, seen = server
    async with _bot(url) as bot:
        seen.delay = 2.0
        with pytest.raises(TimedOut):
            await bot.send_message(42, "slow", read_timeout=0.2)


async def test_nobody_listening_is_a_network_error(unused_tcp_port: int) -> None:
    request = AiohttpRequest(connect_timeout=2)
    await request.initialize()
    try:
        with pytest.raises(NetworkError):
            await request.post(f"http://127.0.0.1:{unused_tcp_port}/bot{TOKEN}/getMe")
    finally:
        await request.shutdown()


async def test_it_must_be_initialised_first() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:9/x", "POST")


async def test_shutdown_then_initialise_again(server: tuple[str, Seen]) -> None:
    url, seen = server
    bot = _bot(url)
    async with bot:
        await bot.send_message(1, "a")
    async with bot:
        await bot.send_message(1, "b")
    assert [r["fields"].get("text") for r in seen.requests if r["method"] == "sendMessage"] == ["a", "b"]
