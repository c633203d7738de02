"""The provider emulator against raw HTTP: validation, budget, stages, callbacks, faults, uploads.

Everything talks over real loopback sockets: a plain aiohttp client for the API and a tiny aiohttp
app that receives the callbacks. Tests wait on conditions, never on fixed sleeps.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import mutagen
import pytest
from aiohttp import web
from PIL import Image

from emulators.audio_fixtures import make_big_mp3, make_jpeg, make_mp3, make_ogg_opus, mp3_duration
from emulators.provider.server import ProviderEmulator
from emulators.provider.tasks import EmulatedTask

KEY = "test-suno-key"
FAST = (0.02, 0.04, 0.06)
TRACK_SECONDS = 2.0
CB = "http://127.0.0.1:9/cb"  # a closed loopback port: callbacks fail fast and never leave the host


@dataclass
class CallbackReceiver:
    """Stands in for the bot's callback route; ``statuses`` scripts the next answers (200 after)."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(await request.json())
        status = self.statuses.pop(0) if self.statuses else 200
        return web.json_response({"ok": status == 200}, status=status)

    @property
    def stages(self) -> list[str]:
        return [body["data"]["callbackType"] for body in self.received]


async def _empty(_request: web.Request) -> web.Response:
    return web.Response(body=b"", content_type="audio/mpeg")


@pytest.fixture
async def emulator() -> AsyncIterator[ProviderEmulator]:
    async with ProviderEmulator(KEY, stage_delays=FAST, track_seconds=TRACK_SECONDS) as emu:
        yield emu


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Awaitable[Any]]) -> CallbackReceiver:
    cb = CallbackReceiver()
    app = web.Application()
    app.router.add_post("/cb", cb.handle)
    app.router.add_get("/empty", _empty)
    server = await aiohttp_server(app)
    cb.url = str(server.make_url("/cb"))
    return cb


@pytest.fixture
async def api(emulator: ProviderEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(emulator.url, headers={"Authorization": f"Bearer {KEY}"}) as session:
        yield session


async def call(session: aiohttp.ClientSession, path: str, body: Any = None) -> dict[str, Any]:
    method = session.post if body is not None else session.get
    async with method(path, json=body) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def fetch(session: aiohttp.ClientSession, url: str) -> tuple[bytes, aiohttp.ClientResponse]:
    async with session.get(url) as response:
        assert response.status == 200
        return await response.read(), response


def simple(cb: str = CB, **extra: Any) -> dict[str, Any]:
    return {"customMode": False, "instrumental": False, "model": "V4_5", "prompt": "a calm song about rain",
            "callBackUrl": cb, **extra}  # fmt: skip


def custom(model: str = "V4_5", cb: str = CB, **extra: Any) -> dict[str, Any]:
    return {"customMode": True, "instrumental": False, "model": model, "prompt": "[Verse] la la",
            "style": "lo-fi", "title": "Rain", "callBackUrl": cb, **extra}  # fmt: skip


async def submit(session: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> str:
    envelope = await call(session, path, body)
    assert envelope["code"] == 200, envelope
    assert len(envelope["data"]["taskId"]) == 32
    return str(envelope["data"]["taskId"])


async def finished_task(emulator: ProviderEmulator, api: aiohttp.ClientSession, **extra: Any) -> EmulatedTask:
    task_id = await submit(api, "/api/v1/generate", simple(**extra))
    await emulator.wait_for(lambda: emulator.tasks[task_id].status == "SUCCESS")
    return emulator.tasks[task_id]


async def stream_upload(
    session: aiohttp.ClientSession, data: bytes, name: str = "song.mp3"
) -> dict[str, Any]:
    form = aiohttp.FormData()
    # A file object, as a real client streams it (aiohttp warns about large raw-bytes bodies).
    form.add_field("file", io.BytesIO(data), filename=name, content_type="application/octet-stream")
    form.add_field("uploadPath", "bot/uploads")
    form.add_field("fileName", name)
    async with session.post("/api/file-stream-upload", data=form) as response:
        return await response.json()


def all_delivered(task: EmulatedTask, count: int) -> Callable[[], bool]:
    return lambda: len(task.callbacks) >= count and all(c.delivered or c.abandoned for c in task.callbacks)


# --- auth, envelopes, credits, budget -----------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}])
async def test_wrong_or_missing_key_is_401(emulator: ProviderEmulator, headers: dict[str, str]) -> None:
    async with aiohttp.ClientSession(emulator.url, headers=headers) as session:
        assert await call(session, "/api/v1/generate", simple()) == {
            "code": 401, "msg": "Unauthorized", "data": None}  # fmt: skip
        assert (await call(session, "/api/v1/generate/credit"))["code"] == 401
        assert (await stream_upload(session, b"x"))["code"] == 401
    assert not emulator.tasks
    assert [r.code for r in emulator.requests] == [401, 401, 401]


async def test_recorded_request_redacts_the_key(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    await call(api, "/api/v1/generate/credit")
    record = emulator.requests[0]
    assert record.headers["Authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(record) and "Bearer ***" in repr(record)


async def test_malformed_json_is_http_400(emulator: ProviderEmulator, api: aiohttp.ClientSession) -> None:
    async with api.post(
        "/api/v1/generate", data=b"{not json", headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 400
        assert (await r.json())["code"] == 400
    assert (await call(api, "/api/v1/generate", [1, 2]))["code"] == 400  # valid JSON, not an object


async def test_unknown_path_is_404(api: aiohttp.ClientSession) -> None:
    async with api.post("/api/v1/generate/remix", json={}) as response:
        assert response.status == 404
        assert (await response.json())["code"] == 404


async def test_credits_are_charged_and_429_when_exhausted() -> None:
    async with (
        ProviderEmulator(KEY, credits=20, cost_per_task=12, stage_delays=FAST) as emu,
        aiohttp.ClientSession(emu.url, headers={"Authorization": f"Bearer {KEY}"}) as api,
    ):
        await submit(api, "/api/v1/generate", simple())
        assert await call(api, "/api/v1/generate/credit") == {"code": 200, "msg": "success", "data": 8}
        refused = await call(api, "/api/v1/generate", simple())
        assert refused == {"code": 429, "msg": "Insufficient credits", "data": None}
        assert len(emu.tasks) == 1 and emu.credits == 8


@pytest.mark.parametrize("enforce", [True, False])
async def test_budget_sliding_window(enforce: bool) -> None:
    async with (
        ProviderEmulator(KEY, budget=3, budget_window=60, enforce_budget=enforce) as emu,
        aiohttp.ClientSession(emu.url, headers={"Authorization": f"Bearer {KEY}"}) as api,
    ):
        codes = [(await call(api, "/api/v1/generate/credit"))["code"] for _ in range(5)]
        await stream_upload(api, make_mp3(1.0))  # the upload host is outside the API budget
    assert codes == ([200, 200, 200, 405, 405] if enforce else [200] * 5)
    assert [v.in_window for v in emu.violations] == [3, 4]  # rejected arrivals still count
    assert all(v.rejected is enforce for v in emu.violations)


async def test_fail_next_request(emulator: ProviderEmulator, api: aiohttp.ClientSession) -> None:
    emulator.fail_next_request("generate", 430, "Call frequency too high", times=2)
    emulator.fail_next_request("credit", 500)
    for _ in range(2):
        assert (await call(api, "/api/v1/generate", simple()))["code"] == 430
    assert (await call(api, "/api/v1/generate/credit"))["code"] == 500
    await submit(api, "/api/v1/generate", simple())
    assert len(emulator.tasks) == 1
    assert emulator.credits == 1000 - 12


# --- validation ---------------------------------------------------------------------------------

GOOD_GENERATE = [
    simple(),
    simple(instrumental=True),
    simple(prompt="x" * 500),
    custom(),
    custom(instrumental=True, prompt=""),
    custom("V4", prompt="x" * 3000, style="s" * 200, title="t" * 80),
    custom("V5", prompt="x" * 5000, style="s" * 1000, title="t" * 100),
    custom(
        "V5_5", vocalGender="f", styleWeight=0.65, weirdnessConstraint=0, audioWeight=1, negativeTags="metal"
    ),
    custom(personaId="p-1", personaModel="voice_persona"),
    simple(cb="http://127.0.0.1:9/cb"),
]

BAD_GENERATE = [
    ({k: v for k, v in simple().items() if k != "customMode"}, 400, "customMode"),
    (simple(customMode="false"), 400, "customMode"),
    ({k: v for k, v in simple().items() if k != "instrumental"}, 400, "instrumental"),
    (simple(model="V4.5"), 400, "model"),
    (simple(model="V3_5"), 400, "model"),
    ({k: v for k, v in simple().items() if k != "model"}, 400, "model"),
    ({k: v for k, v in simple().items() if k != "callBackUrl"}, 400, "callBackUrl"),
    (simple(cb="not a url"), 400, "callBackUrl"),
    (simple(cb="ftp://example.com/cb"), 400, "callBackUrl"),
    (simple(prompt=""), 400, "prompt"),
    (simple(prompt="x" * 501), 413, "prompt"),
    (simple(style="pop"), 400, "style"),
    (simple(title="Song"), 400, "title"),
    (simple(personaId="p-1"), 400, "personaId"),
    (custom(title=""), 400, "title"),
    (custom(style=None), 400, "style"),
    (custom(prompt=""), 400, "prompt"),
    (custom("V4", prompt="x" * 3001), 413, "prompt"),
    (custom("V4", style="s" * 201), 413, "style"),
    (custom("V4", title="t" * 81), 413, "title"),
    (custom("V4_5ALL", title="t" * 81), 413, "title"),
    (custom("V5", title="t" * 101), 413, "title"),
    (custom("V5_5", prompt="x" * 5001), 413, "prompt"),
    (custom("V4_5PLUS", style="s" * 1001), 413, "style"),
    (custom(styleWeight=1.5), 400, "styleWeight"),
    (custom(audioWeight=0.555), 400, "audioWeight"),
    (custom(weirdnessConstraint=True), 400, "weirdnessConstraint"),
    (custom(vocalGender="male"), 400, "vocalGender"),
    (custom(personaModel="robot"), 400, "personaModel"),
]


@pytest.mark.parametrize("body", GOOD_GENERATE)
async def test_generate_accepts(api: aiohttp.ClientSession, body: dict[str, Any]) -> None:
    await submit(api, "/api/v1/generate", body)


@pytest.mark.parametrize(("body", "code", "field_name"), BAD_GENERATE)
async def test_generate_rejects(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, body: dict[str, Any], code: int, field_name: str
) -> None:
    envelope = await call(api, "/api/v1/generate", body)
    assert envelope["code"] == code and field_name in envelope["msg"], envelope
    assert envelope["data"] is None
    assert not emulator.tasks and emulator.credits == 1000


async def test_unknown_fields_are_ignored_but_recorded(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    await submit(api, "/api/v1/generate", simple(mood="happy", wait_audio=True))
    assert emulator.requests[-1].ignored_fields == ("mood", "wait_audio")


async def test_extend_rules(emulator: ProviderEmulator, api: aiohttp.ClientSession) -> None:
    source = await finished_task(emulator, api)
    audio_id, duration = source.tracks[0].id, source.tracks[0].duration
    inherit = {"defaultParamFlag": False, "audioId": audio_id, "model": "V4_5", "callBackUrl": CB}
    full = {**inherit, "defaultParamFlag": True, "prompt": "[Verse] more", "style": "pop", "title": "More",
            "continueAt": duration / 2}  # fmt: skip
    await submit(api, "/api/v1/generate/extend", inherit)
    extended = await submit(api, "/api/v1/generate/extend", full)
    assert emulator.tasks[extended].record_info("")["parentMusicId"] == audio_id
    bad = [
        ({**inherit, "audioId": "f" * 32}, 400, "audioId"),
        ({**inherit, "model": "V5"}, 400, "model"),
        ({**full, "continueAt": duration}, 400, "continueAt"),
        ({**full, "continueAt": 0}, 400, "continueAt"),
        ({k: v for k, v in full.items() if k != "continueAt"}, 400, "continueAt"),
        ({**full, "title": ""}, 400, "title"),
        ({**full, "style": "s" * 1001}, 413, "style"),
        ({k: v for k, v in inherit.items() if k != "defaultParamFlag"}, 400, "defaultParamFlag"),
    ]
    for body, code, name in bad:
        envelope = await call(api, "/api/v1/generate/extend", body)
        assert envelope["code"] == code and name in envelope["msg"], (body, envelope)


async def test_extend_refuses_a_track_still_generating(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    emulator.script(hold=True)
    task_id = await submit(api, "/api/v1/generate", simple())
    body = {"defaultParamFlag": False, "audioId": emulator.tasks[task_id].tracks[0].id, "model": "V4_5",
            "callBackUrl": CB}  # fmt: skip
    assert (await call(api, "/api/v1/generate/extend", body))["code"] == 400


UPLOAD = "http://127.0.0.1:9/song.mp3"  # refused at once: no DNS, no network
BAD_UPLOAD_ENDPOINTS = [
    ("upload-cover", {"uploadUrl": UPLOAD, **custom()}, None),
    ("upload-cover", {"uploadUrl": UPLOAD, **simple()}, None),
    ("upload-cover", {"uploadUrl": UPLOAD, **custom("V5_5"), "duration": 120}, None),
    ("upload-cover", simple(), (400, "uploadUrl")),
    ("upload-cover", {"uploadUrl": "file:///etc/passwd", **simple()}, (400, "uploadUrl")),
    ("upload-cover", {"uploadUrl": UPLOAD, **simple(prompt="x" * 501)}, (413, "prompt")),
    ("upload-cover", {"uploadUrl": UPLOAD, **custom("V4", title="t" * 81)}, (413, "title")),
    ("upload-cover", {"uploadUrl": UPLOAD, **custom("V5"), "duration": 120}, (400, "duration")),
    ("upload-cover", {"uploadUrl": UPLOAD, **custom("V5_5"), "duration": 5}, (400, "duration")),
    ("upload-extend", {"uploadUrl": UPLOAD, "defaultParamFlag": False, "instrumental": False, "model": "V4_5",
                       "prompt": "keep going", "callBackUrl": CB}, None),
    ("upload-extend", {"uploadUrl": UPLOAD, "defaultParamFlag": True, **custom(), "continueAt": 10}, None),
    ("upload-extend", {"uploadUrl": UPLOAD, "defaultParamFlag": True,
                       **custom(instrumental=True, prompt=None), "continueAt": 10}, None),
    ("upload-extend", {"uploadUrl": UPLOAD, "defaultParamFlag": True, **custom()}, (400, "continueAt")),
    ("upload-extend", {"uploadUrl": UPLOAD, "defaultParamFlag": True, **custom(prompt=None), "continueAt": 5},
     (400, "prompt")),
    ("upload-extend", {"uploadUrl": UPLOAD, **custom(), "continueAt": 5}, (400, "defaultParamFlag")),
    ("add-vocals", {"uploadUrl": UPLOAD, "prompt": "[Verse] hi", "title": "t" * 100, "style": "pop",
                    "negativeTags": "metal", "callBackUrl": CB}, None),
    ("add-vocals", {"uploadUrl": UPLOAD, "prompt": "[Verse] hi", "title": "t" * 101, "style": "pop",
                    "negativeTags": "metal", "callBackUrl": CB}, (413, "title")),
    ("add-vocals", {"uploadUrl": UPLOAD, "prompt": "[Verse] hi", "title": "T", "style": "pop",
                    "callBackUrl": CB}, (400, "negativeTags")),
    ("add-vocals", {"uploadUrl": UPLOAD, "prompt": "[Verse] hi", "title": "T", "style": "pop",
                    "model": "V4_5", "negativeTags": "metal", "callBackUrl": CB}, (400, "model")),
    ("add-instrumental", {"uploadUrl": UPLOAD, "title": "T", "tags": "jazz", "negativeTags": "metal",
                          "model": "V5_5", "callBackUrl": CB}, None),
    ("add-instrumental", {"uploadUrl": UPLOAD, "title": "T", "style": "jazz", "negativeTags": "metal",
                          "callBackUrl": CB}, (400, "tags")),
    ("add-instrumental", {"uploadUrl": UPLOAD, "title": "T", "tags": "jazz", "negativeTags": "metal",
                          "styleWeight": 2, "callBackUrl": CB}, (400, "styleWeight")),
]  # fmt: skip


@pytest.mark.parametrize(("endpoint", "body", "expected"), BAD_UPLOAD_ENDPOINTS)
async def test_upload_endpoint_rules(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, endpoint: str, body: dict[str, Any],
    expected: tuple[int, str] | None,
) -> None:  # fmt: skip
    body = {k: v for k, v in body.items() if v is not None}
    envelope = await call(api, f"/api/v1/generate/{endpoint}", body)
    if expected is None:
        assert envelope["code"] == 200, envelope
    else:
        assert envelope["code"] == expected[0] and expected[1] in envelope["msg"], envelope


# --- stages, callbacks and media ----------------------------------------------------------------


async def test_callbacks_in_order_with_real_media(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    task_id = await submit(api, "/api/v1/generate", simple(cb=receiver.url))
    task = emulator.tasks[task_id]
    await emulator.wait_for(all_delivered(task, 3))
    assert receiver.stages == ["text", "first", "complete"]
    text, first, complete = receiver.received
    assert text["code"] == 200 and text["data"] == {"callbackType": "text", "task_id": task_id, "data": []}
    assert [item["id"] for item in first["data"]["data"]] == [task.tracks[0].id]
    items = complete["data"]["data"]
    assert len(items) == 2 and items[0]["id"] != items[1]["id"]
    for item, track in zip(items, task.tracks, strict=True):
        assert item["model_name"] == "chirp-v4-5" and item["title"] and item["tags"] and item["prompt"]
        audio, response = await fetch(api, item["audio_url"])
        assert response.headers["Content-Type"] == "audio/mpeg"
        assert int(response.headers["Content-Length"]) == len(audio) == len(track.audio)
        assert mutagen.File(io.BytesIO(audio)).info.length == pytest.approx(TRACK_SECONDS, abs=0.1)
        assert item["duration"] == pytest.approx(TRACK_SECONDS, abs=0.1)
        assert (await fetch(api, item["stream_audio_url"]))[0] == audio
        image, _ = await fetch(api, item["image_url"])
        assert Image.open(io.BytesIO(image)).format == "JPEG"
    first_audio = (await fetch(api, items[0]["audio_url"]))[0]
    assert first_audio != (await fetch(api, items[1]["audio_url"]))[0]  # two distinct songs


async def test_record_info_moves_with_the_stages(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    emulator.script(hold=True, delays=(0.0, 0.0, 60.0))
    task_id = await submit(api, "/api/v1/generate", custom(instrumental=True, prompt=""))

    async def info() -> dict[str, Any]:
        envelope = await call(api, f"/api/v1/generate/record-info?taskId={task_id}")
        assert envelope["code"] == 200
        return envelope["data"]

    pending = await info()
    assert pending["status"] == "PENDING" and pending["response"] is None
    assert pending["errorCode"] is None and pending["operationType"] == "generate"
    emulator.release(task_id)
    await emulator.wait_for(lambda: emulator.tasks[task_id].status == "FIRST_SUCCESS")
    first = await info()
    ready, waiting = first["response"]["sunoData"]
    assert ready["audioUrl"].endswith(".mp3") and ready["duration"] > 0
    assert waiting["audioUrl"] == "" and waiting["streamAudioUrl"] and waiting["duration"] is None
    emulator.complete_now(task_id)
    await emulator.wait_for(lambda: emulator.tasks[task_id].status == "SUCCESS")
    done = await info()
    assert done["taskId"] == task_id and done["parentMusicId"] == ""
    assert set(done) == {"taskId", "parentMusicId", "param", "response", "status", "type", "operationType",
                         "errorCode", "errorMessage"}  # fmt: skip
    assert done["param"].startswith("{") and '"customMode": true' in done["param"]
    for item in done["response"]["sunoData"]:
        assert {"id", "audioUrl", "streamAudioUrl", "imageUrl", "prompt", "modelName", "title", "tags",
                "createTime", "duration"} <= set(item)  # fmt: skip
        assert item["prompt"] == "" and item["title"] == "Rain" and item["tags"] == "lo-fi"


async def test_record_info_unknown_task(emulator: ProviderEmulator, api: aiohttp.ClientSession) -> None:
    envelope = await call(api, "/api/v1/generate/record-info?taskId=" + "0" * 32)
    assert envelope["code"] == 400 and envelope["data"] is None
    assert emulator.unknown_task_ids == ["0" * 32]


async def test_status_advances_without_callbacks_delivered(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    task = await finished_task(emulator, api, cb="http://127.0.0.1:9/unreachable")
    assert task.stages_reached == ["text", "first", "complete"]


async def test_callback_retries_then_abandons() -> None:
    async with (
        ProviderEmulator(KEY, stage_delays=FAST, callback_retries=1) as emu,
        aiohttp.ClientSession(emu.url, headers={"Authorization": f"Bearer {KEY}"}) as api,
    ):
        task = await finished_task(emu, api, cb="http://127.0.0.1:9/unreachable")
        await emu.wait_for(all_delivered(task, 3))
    assert [len(c.attempts) for c in task.callbacks] == [2, 2, 2]
    assert all(c.abandoned and not c.delivered for c in task.callbacks)


async def test_callback_retried_until_answered_200(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    receiver.statuses = [500, 503]
    task_id = await submit(api, "/api/v1/generate", simple(cb=receiver.url))
    task = emulator.tasks[task_id]
    await emulator.wait_for(all_delivered(task, 3))
    assert [a.status for a in task.callbacks[0].attempts] == [500, 503, 200]
    assert receiver.stages == ["text", "text", "text", "first", "complete"]


# --- scripted faults ----------------------------------------------------------------------------


async def test_duplicate(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    emulator.script(duplicate=True)
    task = emulator.tasks[await submit(api, "/api/v1/generate", simple(cb=receiver.url))]
    await emulator.wait_for(all_delivered(task, 6))
    assert receiver.stages == ["text", "text", "first", "first", "complete", "complete"]


async def test_reorder(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    emulator.script(reorder=True)
    task = emulator.tasks[await submit(api, "/api/v1/generate", simple(cb=receiver.url))]
    await emulator.wait_for(all_delivered(task, 3))
    assert receiver.stages == ["complete", "text", "first"]


async def test_scripts_apply_in_order_to_the_next_tasks(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    emulator.script(drop_callbacks=True)
    emulator.script(drop_stages={"complete"})
    silent = emulator.tasks[await submit(api, "/api/v1/generate", simple(cb=receiver.url))]
    partial = emulator.tasks[await submit(api, "/api/v1/generate", simple(cb=receiver.url))]
    normal = emulator.tasks[await submit(api, "/api/v1/generate", simple(cb=receiver.url))]
    await emulator.wait_for(lambda: all(t.status == "SUCCESS" for t in (silent, partial, normal)))
    await emulator.wait_for(all_delivered(normal, 3))
    await emulator.wait_for(all_delivered(partial, 2))
    assert silent.callbacks == []
    assert [c.stage for c in partial.callbacks] == ["text", "first"]
    assert sorted(receiver.stages) == sorted(["text", "first", "text", "first", "complete"])


async def test_fail_with(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    emulator.script(fail_with=(501, "Generation failed"))
    task = emulator.tasks[await submit(api, "/api/v1/generate", simple(cb=receiver.url))]
    await emulator.wait_for(all_delivered(task, 2))
    assert receiver.stages == ["text", "error"]
    assert receiver.received[1] == {
        "code": 501, "msg": "Generation failed", "data": {"callbackType": "error", "task_id": task.task_id,
                                                          "data": None}}  # fmt: skip
    info = (await call(api, f"/api/v1/generate/record-info?taskId={task.task_id}"))["data"]
    assert (info["status"], info["errorCode"], info["errorMessage"]) == (
        "GENERATE_AUDIO_FAILED", 501, "Generation failed")  # fmt: skip
    assert emulator.credits == 1000 - 12


async def test_fail_with_531_refunds(emulator: ProviderEmulator, api: aiohttp.ClientSession) -> None:
    emulator.script(fail_with=(531, "Generation failed, credits refunded"))
    task_id = await submit(api, "/api/v1/generate", simple())
    await emulator.wait_for(lambda: emulator.tasks[task_id].terminal)
    assert emulator.credits == 1000


async def test_sensitive(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    emulator.script(sensitive=True)
    task = emulator.tasks[await submit(api, "/api/v1/generate", simple(cb=receiver.url))]
    await emulator.wait_for(all_delivered(task, 1))
    assert task.status == "SENSITIVE_WORD_ERROR" and task.error_code == 400
    assert receiver.stages == ["error"] and "sensitive word" in receiver.received[0]["msg"]


async def test_hold_release_and_fail_now(emulator: ProviderEmulator, api: aiohttp.ClientSession) -> None:
    emulator.script(hold=True)
    emulator.script(hold=True)
    released = await submit(api, "/api/v1/generate", simple())
    failed = await submit(api, "/api/v1/generate", simple())
    await emulator.wait_for(lambda: emulator.tasks[released].held and emulator.tasks[failed].held)
    emulator.release(released)
    emulator.fail_now(failed, 500, "Server error")
    await emulator.wait_for(lambda: emulator.tasks[released].status == "SUCCESS")
    assert emulator.tasks[failed].status == "GENERATE_AUDIO_FAILED"
    assert emulator.tasks[failed].error_code == 500


async def test_callback_exception_keeps_the_tracks(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    emulator.script(callback_exception=True)
    task_id = await submit(api, "/api/v1/generate", simple())
    await emulator.wait_for(lambda: emulator.tasks[task_id].terminal)
    info = (await call(api, f"/api/v1/generate/record-info?taskId={task_id}"))["data"]
    assert info["status"] == "CALLBACK_EXCEPTION" and len(info["response"]["sunoData"]) == 2


# --- upload host and upload tasks ---------------------------------------------------------------


async def test_stream_upload_then_add_vocals_downloads_the_same_bytes(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    data = make_mp3(12.0, frequency=330.0, tags={"title": "Mine", "artist": "Me"})
    uploaded = await stream_upload(api, data, "my song.mp3")
    assert (
        uploaded["success"] is True
        and uploaded["code"] == 200
        and uploaded["msg"] == "File uploaded successfully"
    )
    info = uploaded["data"]
    assert info["fileSize"] == len(data) and info["mimeType"] == "audio/mpeg"
    assert info["filePath"] == "bot/uploads/my song.mp3" and info["uploadedAt"].endswith("Z")
    assert (await fetch(api, info["downloadUrl"]))[0] == data
    body = {"uploadUrl": info["downloadUrl"], "prompt": "[Verse] hello", "title": "Mine", "style": "soul",
            "negativeTags": "metal", "callBackUrl": receiver.url}  # fmt: skip
    task = emulator.tasks[await submit(api, "/api/v1/generate/add-vocals", body)]
    await emulator.wait_for(all_delivered(task, 1))
    assert receiver.stages == ["complete"] and task.status == "SUCCESS"
    assert (
        task.upload_sha256 == hashlib.sha256(data).hexdigest() == next(iter(emulator.uploads.values())).sha256
    )
    assert task.upload_duration == pytest.approx(12.0, abs=0.1)
    assert emulator.downloads[-1].task_id == task.task_id


async def test_add_instrumental_accepts_a_voice_note(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    url = (await stream_upload(api, make_ogg_opus(3.0), "voice.ogg"))["data"]["downloadUrl"]
    body = {
        "uploadUrl": url,
        "title": "Hum",
        "tags": "folk",
        "negativeTags": "edm",
        "callBackUrl": receiver.url,
    }
    task = emulator.tasks[await submit(api, "/api/v1/generate/add-instrumental", body)]
    await emulator.wait_for(all_delivered(task, 1))
    assert receiver.stages == ["complete"]
    assert all(item["prompt"] == "" for item in receiver.received[0]["data"]["data"])


@pytest.mark.parametrize("where", ["closed port", "404", "empty"])
async def test_unreachable_upload_url_fails_with_451(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver, where: str
) -> None:
    url = {
        "closed port": "http://127.0.0.1:9/song.mp3",
        "404": f"{emulator.url}/media/uploads/nope/song.mp3",
        "empty": receiver.url.replace("/cb", "/empty"),
    }[where]
    body = {"uploadUrl": url, **custom(cb=receiver.url)}
    task = emulator.tasks[await submit(api, "/api/v1/generate/upload-cover", body)]
    await emulator.wait_for(all_delivered(task, 1))
    assert receiver.stages == ["error"] and receiver.received[0]["code"] == 451
    assert task.status == "CREATE_TASK_FAILED" and task.error_code == 451
    assert emulator.downloads[-1].url == url and emulator.downloads[-1].size == 0


@pytest.mark.parametrize(
    ("model", "audio", "ok"),
    [
        ("V4_5ALL", lambda: make_mp3(61.0, bitrate=32), False),
        ("V4_5ALL", lambda: make_mp3(50.0, bitrate=32), True),
        ("V4_5", lambda: make_big_mp3(8_000_000), False),  # about 500 s at 128 kbps: over 8 min
        ("V4_5", lambda: make_big_mp3(7_600_000), True),
    ],
    ids=["v45all-61s", "v45all-50s", "v45-500s", "v45-475s"],
)
async def test_upload_cover_duration_limit(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, model: str, audio: Callable[[], bytes], ok: bool
) -> None:
    url = (await stream_upload(api, audio()))["data"]["downloadUrl"]
    task_id = await submit(api, "/api/v1/generate/upload-cover", {"uploadUrl": url, **custom(model)})
    await emulator.wait_for(lambda: emulator.tasks[task_id].terminal)
    task = emulator.tasks[task_id]
    assert (task.status == "SUCCESS") is ok, (task.upload_duration, task.error_message)
    if not ok:
        assert task.status == "CREATE_TASK_FAILED" and task.error_code == 400
        assert "too long" in str(task.error_message)


async def test_release_before_the_upload_is_fetched_still_counts(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    url = (await stream_upload(api, make_mp3(3.0)))["data"]["downloadUrl"]
    emulator.script(hold=True)
    task_id = await submit(api, "/api/v1/generate/upload-cover", {"uploadUrl": url, **simple()})
    emulator.release(task_id)  # the runner is still downloading: it has not reached its hold
    await emulator.wait_for(lambda: emulator.tasks[task_id].status == "SUCCESS")


async def test_fail_next_request_matches_whole_segments(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    emulator.fail_next_request("extend", 455, "System maintenance")
    body = {"uploadUrl": UPLOAD, "defaultParamFlag": False, "model": "V4_5", "callBackUrl": CB}
    assert (await call(api, "/api/v1/generate/upload-extend", body))["code"] == 200
    source = await finished_task(emulator, api)
    extend = {"defaultParamFlag": False, "audioId": source.tracks[0].id, "model": "V4_5", "callBackUrl": CB}
    assert await call(api, "/api/v1/generate/extend", extend) == {
        "code": 455, "msg": "System maintenance", "data": None}  # fmt: skip


async def test_upload_extend_continue_at_beyond_the_upload(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    url = (await stream_upload(api, make_mp3(5.0)))["data"]["downloadUrl"]
    body = {"uploadUrl": url, "defaultParamFlag": True, **custom(), "continueAt": 6}
    task_id = await submit(api, "/api/v1/generate/upload-extend", body)
    await emulator.wait_for(lambda: emulator.tasks[task_id].terminal)
    assert emulator.tasks[task_id].error_code == 400
    assert "continueAt" in str(emulator.tasks[task_id].error_message)


async def test_upload_of_something_not_audio_fails(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    url = (await stream_upload(api, make_jpeg(64, 64), "cover.jpg"))["data"]["downloadUrl"]
    task_id = await submit(api, "/api/v1/generate/upload-cover", {"uploadUrl": url, **simple()})
    await emulator.wait_for(lambda: emulator.tasks[task_id].terminal)
    assert emulator.tasks[task_id].error_code == 400


async def test_fail_with_on_an_upload_kind_fails_at_once(
    emulator: ProviderEmulator, api: aiohttp.ClientSession, receiver: CallbackReceiver
) -> None:
    url = (await stream_upload(api, make_mp3(3.0)))["data"]["downloadUrl"]
    emulator.script(fail_with=(413, "Uploaded audio matches an existing work"))
    task = emulator.tasks[
        await submit(api, "/api/v1/generate/upload-cover", {"uploadUrl": url, **simple(cb=receiver.url)})
    ]
    await emulator.wait_for(all_delivered(task, 1))
    assert receiver.stages == ["error"] and task.error_code == 413


async def test_base64_and_url_uploads(emulator: ProviderEmulator, api: aiohttp.ClientSession) -> None:
    data = make_mp3(1.0)
    data_url = "data:audio/mpeg;base64," + base64.b64encode(data).decode()
    by_base64 = await call(
        api, "/api/file-base64-upload", {"base64Data": data_url, "uploadPath": "u", "fileName": "a.mp3"}
    )
    assert by_base64["code"] == 200 and by_base64["data"]["fileSize"] == len(data)
    raw = await call(
        api, "/api/file-base64-upload", {"base64Data": base64.b64encode(data).decode(), "uploadPath": "u"}
    )
    assert raw["code"] == 200
    by_url = await call(
        api, "/api/file-url-upload", {"fileUrl": by_base64["data"]["downloadUrl"], "uploadPath": "u/v"}
    )
    assert by_url["code"] == 200 and by_url["data"]["fileName"] == "a.mp3"
    assert (await fetch(api, by_url["data"]["downloadUrl"]))[0] == data
    assert {u.method for u in emulator.uploads.values()} == {"base64", "url"}
    assert emulator.downloads[-1].purpose == "url-upload"


@pytest.mark.parametrize(
    ("path", "body", "word"),
    [
        ("/api/file-base64-upload", {"base64Data": "@@@", "uploadPath": "u"}, "base64Data"),
        ("/api/file-base64-upload", {"base64Data": "AAAA", "uploadPath": "/u"}, "uploadPath"),
        ("/api/file-base64-upload", {"base64Data": "AAAA"}, "uploadPath"),
        ("/api/file-url-upload", {"fileUrl": "ftp://x/y", "uploadPath": "u"}, "fileUrl"),
        ("/api/file-url-upload", {"fileUrl": "http://127.0.0.1:9/x.mp3", "uploadPath": "u"}, "fileUrl"),
    ],
)
async def test_upload_host_rejects(
    api: aiohttp.ClientSession, path: str, body: dict[str, Any], word: str
) -> None:
    envelope = await call(api, path, body)
    assert envelope["success"] is False and envelope["code"] == 400 and word in envelope["msg"]


async def test_stream_upload_needs_a_clean_upload_path(
    emulator: ProviderEmulator, api: aiohttp.ClientSession
) -> None:
    form = aiohttp.FormData()
    form.add_field("uploadPath", "bot/uploads/")
    form.add_field("file", b"ID3 not much", filename="x.mp3")
    async with api.post("/api/file-stream-upload", data=form) as response:
        envelope = await response.json()
    assert envelope["code"] == 400 and "uploadPath" in envelope["msg"]
    assert not emulator.uploads


async def test_big_tracks() -> None:
    size = 3_000_000
    async with (
        ProviderEmulator(KEY, stage_delays=FAST, track_bytes=size) as emu,
        aiohttp.ClientSession(emu.url, headers={"Authorization": f"Bearer {KEY}"}) as api,
    ):
        task = await finished_task(emu, api)
        audio, _ = await fetch(api, task.tracks[0].urls(emu.url)["audio"])
    assert size - 1000 < len(audio) <= size
    assert audio == make_big_mp3(size, frequency=392.0)
    assert mp3_duration(audio) > 100
