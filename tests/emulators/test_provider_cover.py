"""The emulator's cover art endpoint is as strict as the provider's (provider-tools.md §7)."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from PIL import Image

from emulators.provider.server import ProviderEmulator

KEY = "test-suno-key"
FAST = (0.02, 0.04, 0.06)
CB = "http://127.0.0.1:9/cb"  # a closed loopback port: callbacks fail fast and never leave the host
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
async def emulator() -> AsyncIterator[ProviderEmulator]:
    async with ProviderEmulator(KEY, stage_delays=FAST, track_seconds=2.0) as emu:
        yield emu


@pytest.fixture
async def api(emulator: ProviderEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(emulator.url, headers={"Authorization": f"Bearer {KEY}"}) as session:
        yield session


async def _call(
    api: aiohttp.ClientSession, body: Any = None, *, task_id: str | None = None
) -> dict[str, Any]:
    if body is not None:
        request = api.post("/api/v1/suno/cover/generate", json=body)
    else:
        request = api.get("/api/v1/suno/cover/record-info", params={"taskId": task_id or ""})
    async with request as response:
        assert response.status == 200
        return await response.json()


async def _music(emulator: ProviderEmulator, api: aiohttp.ClientSession) -> str:
    body = {"customMode": False, "instrumental": False, "model": "V4_5", "prompt": "rain", "callBackUrl": CB}
    async with api.post("/api/v1/generate", json=body) as response:
        task_id = str((await response.json())["data"]["taskId"])
    await emulator.wait_for(lambda: emulator.tasks[task_id].status == "SUCCESS")
    return task_id


async def test_a_cover_is_two_jpegs_and_a_repeat_names_it(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    music = await _music(emulator, api)
    made = await _call(api, {"taskId": music, "callBackUrl": CB})
    assert made["code"] == 200
    cover = made["data"]["taskId"]
    assert cover != music
    await emulator.wait_for(lambda: emulator.studio.tasks[cover].success_flag == "SUCCESS")

    record = (await _call(api, task_id=cover))["data"]
    assert (record["successFlag"], record["parentTaskId"], record["errorCode"]) == (1, music, 200)
    assert ISO.match(record["createTime"]) and ISO.match(record["completeTime"])
    colours = set()
    for url in record["response"]["images"]:
        async with api.get(url) as response:
            with Image.open(io.BytesIO(await response.read())) as image:
                assert (image.format, image.size) == ("JPEG", (600, 600))
                colours.add(image.getpixel((0, 0)))
    assert len(colours) == 2

    credits = emulator.credits
    repeat = await _call(api, {"taskId": music, "callBackUrl": CB})
    assert (repeat["code"], repeat["data"]) == (400, {"taskId": cover})
    assert emulator.credits == credits  # a repeat costs nothing


async def test_cover_refusals(emulator: ProviderEmulator, api: aiohttp.ClientSession) -> None:
    music = await _music(emulator, api)
    for body, code in [
        ({"callBackUrl": CB}, 422),
        ({"taskId": music}, 422),
        ({"taskId": music, "callBackUrl": "not a url"}, 422),
        ({"taskId": "f" * 32, "callBackUrl": CB}, 404),
    ]:
        assert (await _call(api, body))["code"] == code, body
    assert (await _call(api, task_id="nope"))["code"] == 400
    emulator.credits = 0
    assert (await _call(api, {"taskId": music, "callBackUrl": CB}))["code"] == 402


async def test_a_failed_cover_reports_flag_3_and_may_be_asked_again(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    music = await _music(emulator, api)
    emulator.studio.fail_next(501, "Cover generation failed")
    cover = (await _call(api, {"taskId": music, "callBackUrl": CB}))["data"]["taskId"]
    await emulator.wait_for(lambda: emulator.studio.tasks[cover].success_flag == "FAILED")
    record = (await _call(api, task_id=cover))["data"]
    assert (record["successFlag"], record["errorCode"], record["response"]) == (3, 500, None)
    await emulator.wait_for(lambda: bool(emulator.studio.tasks[cover].callbacks))
    assert emulator.studio.tasks[cover].callbacks[0] == {
        "code": 501,
        "msg": "Cover generation failed",
        "data": {"taskId": cover, "images": None},
    }
    again = await _call(api, {"taskId": music, "callBackUrl": CB})
    assert again["code"] == 200 and again["data"]["taskId"] != cover
