"""The provider emulator's answer and download faults, over real loopback HTTP.

A lost answer must really leave a task behind (charged, calling back, known to record-info) while the
client learns nothing; the task-created hook must hold the answer; failing downloads must fail exactly
the scripted number of GETs and then serve the real bytes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from emulators.provider.server import ProviderEmulator
from emulators.provider.tasks import EmulatedTask

KEY = "test-suno-key"
FAST = (0.02, 0.04, 0.06)
CB = "http://127.0.0.1:9/cb"  # a closed loopback port: callbacks fail fast and never leave the host
GENERATE = "/api/v1/generate"


@dataclass
class CallbackReceiver:
    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        return web.json_response({"ok": True})

    def stages_of(self, task_id: str) -> list[str]:
        return [b["data"]["callbackType"] for b in self.received if b["data"]["task_id"] == task_id]


@pytest.fixture
async def emulator() -> AsyncIterator[ProviderEmulator]:
    async with ProviderEmulator(KEY, stage_delays=FAST, track_seconds=1.0) as emu:
        yield emu


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Awaitable[Any]]) -> CallbackReceiver:
    cb = CallbackReceiver()
    app = web.Application()
    app.router.add_post("/cb", cb.handle)
    server = await aiohttp_server(app)
    cb.url = str(server.make_url("/cb"))
    return cb


@pytest.fixture
async def api(emulator: ProviderEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(emulator.url, headers={"Authorization": f"Bearer {KEY}"}) as session:
        yield session


def simple(cb: str = CB, **extra: Any) -> dict[str, Any]:
    return {"customMode": False, "instrumental": False, "model": "V4_5", "prompt": "a calm song about rain",
            "callBackUrl": cb, **extra}  # fmt: skip


async def post(session: aiohttp.ClientSession, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with session.post(path, json=body) as response:
        return response.status, await response.json()


async def submit(session: aiohttp.ClientSession, body: dict[str, Any], path: str = GENERATE) -> str:
    status, envelope = await post(session, path, body)
    assert (status, envelope["code"]) == (200, 200), envelope
    return str(envelope["data"]["taskId"])


async def record_info(session: aiohttp.ClientSession, task_id: str) -> dict[str, Any]:
    async with session.get("/api/v1/generate/record-info", params={"taskId": task_id}) as response:
        envelope = await response.json()
    assert envelope["code"] == 200, envelope
    return dict(envelope["data"])


async def assert_task_lives_on(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver, task: EmulatedTask
) -> None:
    """The lost answer's task is a real one: charged, known to record-info, calling back to the end."""
    assert emulator.credits == 1000 - emulator.cost_per_task
    await emulator.wait_for(lambda: receiver.stages_of(task.task_id) == ["text", "first", "complete"])
    assert (await record_info(api, task.task_id))["status"] == "SUCCESS"


# --- on_task_created ----------------------------------------------------------------------------


async def test_on_task_created_holds_the_answer_while_the_task_runs(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    entered: asyncio.Queue[EmulatedTask] = asyncio.Queue()
    release = asyncio.Event()

    async def hook(task: EmulatedTask) -> None:
        entered.put_nowait(task)
        await release.wait()

    emulator.on_task_created = hook
    answer = asyncio.create_task(submit(api, simple(receiver.url)))
    task = await asyncio.wait_for(entered.get(), 5)
    record = emulator.api_requests("generate")[-1]
    assert emulator.tasks[task.task_id] is task and record.task_id == task.task_id
    assert record.http_status is None and not answer.done()
    # The task does not wait for the answer: its callbacks can reach the bot first.
    await emulator.wait_for(lambda: receiver.stages_of(task.task_id) == ["text", "first", "complete"])
    assert not answer.done()

    release.set()
    assert await asyncio.wait_for(answer, 5) == task.task_id
    assert record.http_status == 200

    emulator.on_task_created = None
    await asyncio.wait_for(submit(api, simple()), 5)
    assert entered.empty()


async def test_on_task_created_is_not_called_for_refused_requests(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    created: list[str] = []

    async def hook(task: EmulatedTask) -> None:
        created.append(task.task_id)

    emulator.on_task_created = hook
    status, envelope = await post(api, GENERATE, simple(model="V9"))
    assert (status, envelope["code"]) == (200, 400)
    assert created == []
    task_id = await submit(api, simple())
    assert created == [task_id]


# --- lose_next_answer ---------------------------------------------------------------------------


async def test_lost_answer_reset(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    emulator.lose_next_answer("reset")
    # ClientOSError (connection reset) or ServerDisconnectedError, depending on the race.
    with pytest.raises(aiohttp.ClientConnectionError):
        await post(api, GENERATE, simple(receiver.url))
    task = emulator.last_task
    record = emulator.api_requests("generate")[-1]
    assert (record.fault, record.http_status, record.task_id) == ("lost:reset", 0, task.task_id)
    await assert_task_lives_on(emulator, api, receiver, task)

    second = await submit(api, simple())  # one lost answer was scripted, the next one arrives
    assert second != task.task_id and emulator.api_requests("generate")[-1].fault is None


async def test_lost_answer_500(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    emulator.lose_next_answer("500")
    status, envelope = await post(api, GENERATE, simple(receiver.url))
    assert (status, envelope["code"], envelope["data"]) == (500, 500, None)
    task = emulator.last_task
    assert emulator.api_requests("generate")[-1].fault == "lost:500"
    await assert_task_lives_on(emulator, api, receiver, task)


async def test_lost_answer_timeout_answers_too_late(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    emulator.lose_next_answer("timeout", delay=30)
    with pytest.raises(TimeoutError):
        async with api.post(GENERATE, json=simple(receiver.url), timeout=aiohttp.ClientTimeout(total=0.5)):
            pass
    task = emulator.last_task
    assert emulator.api_requests("generate")[-1].fault == "lost:timeout"
    await assert_task_lives_on(emulator, api, receiver, task)

    # The answer does come, after the delay, and names the task.
    emulator.lose_next_answer("timeout", delay=0.3)
    started = time.monotonic()
    late = await submit(api, simple())
    assert time.monotonic() - started >= 0.3 and late == emulator.last_task.task_id


async def test_close_does_not_wait_for_a_late_answer() -> None:
    emu = ProviderEmulator(KEY, stage_delays=FAST)
    await emu.start()
    async with aiohttp.ClientSession(emu.url, headers={"Authorization": f"Bearer {KEY}"}) as session:
        emu.lose_next_answer("timeout", delay=60)
        pending = asyncio.create_task(post(session, GENERATE, simple()))
        await emu.wait_for(lambda: bool(emu.tasks))
        async with asyncio.timeout(5):
            await emu.close()
        # Whether the late answer slipped out during the shutdown or the connection went first, the
        # request is over: nothing is left holding the loop.
        await asyncio.wait_for(asyncio.gather(pending, return_exceptions=True), 5)


async def test_lost_answers_match_their_endpoint_and_skip_refused_requests(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    done = await submit(api, simple())
    await emulator.wait_for(lambda: emulator.tasks[done].status == "SUCCESS")
    audio_id = emulator.tasks[done].tracks[0].id
    extend = {"defaultParamFlag": False, "audioId": audio_id, "model": "V4_5", "callBackUrl": CB}

    emulator.lose_next_answer("500", endpoint="generate/extend", times=2)
    await submit(api, simple())  # generate is not generate/extend
    emulator.fail_next_request("extend", 430, "Call frequency too high")
    assert (await post(api, "/api/v1/generate/extend", extend))[1]["code"] == 430  # nothing created
    status, envelope = await post(api, "/api/v1/generate/extend", {**extend, "model": "V5"})
    assert (status, envelope["code"]) == (200, 400)  # refused by validation: no task, nothing lost
    for _ in range(2):
        assert await post(api, "/api/v1/generate/extend", extend) == (
            500,
            {"code": 500, "msg": "Internal Server Error", "data": None},
        )
    await submit(api, extend, "/api/v1/generate/extend")
    kinds = [t.kind for t in emulator.tasks.values()]
    assert kinds == ["generate", "generate", "extend", "extend", "extend"]


@pytest.mark.parametrize(
    "kwargs",
    [{"mode": "drop"}, {"endpoint": "generate/credit"}, {"endpoint": "upload"}, {"times": 0}, {"delay": -1}],
)
def test_lose_next_answer_arguments_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ProviderEmulator(KEY).lose_next_answer(**kwargs)


# --- fail_next_downloads ------------------------------------------------------------------------


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, str, bytes]:
    async with session.get(url) as response:
        return response.status, response.content_type, await response.read()


async def test_fail_next_downloads_then_serve_the_real_bytes(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    task_id = await submit(api, simple())
    await emulator.wait_for(lambda: emulator.tasks[task_id].status == "SUCCESS")
    track = emulator.tasks[task_id].tracks[0]
    urls = track.urls(emulator.url)

    emulator.fail_next_downloads(2, status=503)
    assert (await get(api, f"{emulator.url}/media/audio/unknown.mp3"))[0] == 404  # does not use the count
    async with api.head(urls["audio"]) as response:
        assert response.status == 200  # HEAD neither
    assert await get(api, urls["image"]) == (200, "image/jpeg", track.image)  # images are not audio
    status, content_type, body = await get(api, urls["audio"])
    assert (status, content_type) == (503, "text/html") and b"503 Service Unavailable" in body
    assert (await get(api, urls["stream"]))[0] == 503  # the stream URL is audio too
    assert await get(api, urls["audio"]) == (200, "audio/mpeg", track.audio)
    media = [r for r in emulator.requests if r.host == "media" and r.method == "GET"]
    assert [(r.http_status, r.fault) for r in media[-3:]] == [(503, "download:503")] * 2 + [(200, None)]

    emulator.fail_next_downloads(1, status=404, media="image")
    assert (await get(api, urls["audio"]))[0] == 200
    assert (await get(api, urls["image"]))[0] == 404
    assert (await get(api, urls["image"]))[0] == 200

    emulator.fail_next_downloads(2, media="any")
    statuses = [(await get(api, url))[0] for url in (urls["image"], urls["audio"], urls["audio"])]
    assert statuses == [500, 500, 200]


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"status": 200}, {"status": 302}, {"media": "video"}])
def test_fail_next_downloads_arguments_are_checked(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ProviderEmulator(KEY).fail_next_downloads(**kwargs)
