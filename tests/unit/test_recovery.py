"""Recovery's request, its readers (callback and record-info share one shape) and the emulator's checks."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from bot.i18n import Texts
from bot.provider.models import InvalidRequest, build_request
from bot.studio.recovery import ERRORS, RecoveryRequest, read, reason_key
from bot.studio.registry import tool_for
from emulators.provider.server import ProviderEmulator
from storage.models import Stage, TaskKind

KEY = "test-suno-key"


def _item(audio_id: str, *, ok: bool = True, error: str = "") -> dict[str, Any]:
    return {
        "id": audio_id,
        "audio_url": f"https://cdn.example/{audio_id}.m4a" if ok else "",
        "title": "Sunrise Love" if ok else "",
        "status": "success" if ok else "failed",
        "error": error,
    }


def test_the_request_needs_the_music_task_and_sends_it_in_camel_case() -> None:
    request = build_request(RecoveryRequest, suno_task_id="abc123")
    assert request.body("https://bot.example/callbacks/t") == {
        "sunoTaskId": "abc123",
        "callBackUrl": "https://bot.example/callbacks/t",
    }
    for blank in ("", "   "):
        with pytest.raises(InvalidRequest):
            build_request(RecoveryRequest, suno_task_id=blank)


def test_the_tool_polls_its_own_record_info_by_task_id_and_takes_its_state_codes() -> None:
    tool = tool_for(TaskKind.RECOVERY)
    assert tool is not None and tool.button is None  # never offered to people
    assert (tool.poll_path, tool.poll_query) == ("/api/v1/suno/recovery/record-info", "task_id")
    assert tool.poll_answers == {200, 201, 500}


def test_running_is_201_with_no_data() -> None:
    snapshot = read({"code": 201, "task_id": "r1", "msg": "running", "data": None})
    assert (snapshot.task_id, snapshot.stage, snapshot.files) == ("r1", Stage.SUBMITTED, [])


def test_200_with_mixed_items_keeps_each_outcome_by_audio_id() -> None:
    body = {
        "code": 200,
        "task_id": "r1",
        "msg": "success",
        "data": [_item("a"), _item("b", ok=False, error="clip_error")],
    }
    snapshot = read(body)
    assert snapshot.stage is Stage.COMPLETE
    first, second = snapshot.files
    assert (first.name, first.url, first.text) == ("a", "https://cdn.example/a.m4a", None)
    assert (second.name, second.url, second.text) == ("b", None, "clip_error")


def test_500_with_items_is_the_end_with_every_reason() -> None:
    body = {
        "code": 500,
        "task_id": "r1",
        "msg": "all failed",
        "data": [_item("a", ok=False, error="feed_failed"), _item("b", ok=False, error="something_new")],
    }
    snapshot = read(body)
    assert snapshot.stage is Stage.COMPLETE and [f.text for f in snapshot.files] == [
        "feed_failed",
        "something_new",
    ]


def test_500_with_nothing_and_other_codes_are_failures() -> None:
    for body in (
        {"code": 500, "task_id": "r1", "msg": "server error", "data": None},
        {"code": 200, "task_id": "r1", "msg": "success", "data": []},
        {"code": 400, "task_id": "r1", "msg": "bad", "data": None},
    ):
        snapshot = read(body)
        assert snapshot.stage is Stage.FAILED and snapshot.error_code in (500, 400)


def test_a_success_item_without_a_usable_link_recovered_nothing() -> None:
    item = {"id": "a", "audio_url": "file:///etc/passwd", "status": "success", "error": ""}
    [result] = read({"code": 200, "task_id": "r1", "data": [item]}).files
    assert result.url is None and result.text == "no_link"


@pytest.mark.parametrize(
    "body",
    [
        {"code": 200, "msg": "success", "data": [_item("a")]},  # no task id
        {"code": 200, "task_id": "r1", "data": [{"audio_url": "https://x/a.m4a", "status": "success"}]},
        {"code": 200, "task_id": "r1", "data": {"id": "a"}},
        {"code": 200, "task_id": "r1", "data": ["a"]},
    ],
)
def test_reports_that_name_no_task_or_no_track_are_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        read(body)


def test_every_documented_error_has_words_of_its_own_in_both_languages() -> None:
    for locale in ("en", "ru"):
        texts = Texts(locale)
        generic = texts(reason_key("unknown"))
        for error in ERRORS:
            assert texts.has(reason_key(error)) and texts(reason_key(error)) != generic, error
        assert reason_key("something_new") == "recovery.reason.unknown"


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    async with session.request(method, url, headers={"Authorization": f"Bearer {KEY}"}, **kwargs) as response:
        return response.status, await response.json()


async def test_the_emulator_refuses_what_the_provider_refuses_and_reports_in_its_shapes() -> None:
    async with (
        ProviderEmulator(KEY, stage_delays=(0.02, 0.04, 0.06)) as provider,
        aiohttp.ClientSession() as http,
    ):
        api = provider.url + "/api/v1/"
        cb = "http://127.0.0.1:9/cb"
        _, made = await _call(
            http,
            "POST",
            api + "generate",
            json={
                "prompt": "rain",
                "customMode": False,
                "instrumental": False,
                "model": "V4_5",
                "callBackUrl": cb,
            },
        )
        music_id = made["data"]["taskId"]
        # Not finished yet, unknown, missing fields, fields it does not take: refused, nothing made.
        _, early = await _call(
            http, "POST", api + "suno/recovery", json={"sunoTaskId": music_id, "callBackUrl": cb}
        )
        assert early["code"] == 400
        await provider.wait_for(lambda: provider.tasks[music_id].terminal, timeout=5)
        for body in (
            {"sunoTaskId": "nope", "callBackUrl": cb},
            {"callBackUrl": cb},
            {"sunoTaskId": music_id},
            {"sunoTaskId": music_id, "callBackUrl": "not a url"},
            {"sunoTaskId": music_id, "callBackUrl": cb, "audioId": "x"},
        ):
            _, answer = await _call(http, "POST", api + "suno/recovery", json=body)
            assert answer["code"] == 400, body
        assert provider.recovery.tasks == {}

        provider.recovery.script(hold=True)
        _, answer = await _call(
            http, "POST", api + "suno/recovery", json={"sunoTaskId": music_id, "callBackUrl": cb}
        )
        recovery_id = answer["data"]["task_id"]  # snake case, as documented
        _, again = await _call(
            http, "POST", api + "suno/recovery", json={"sunoTaskId": recovery_id, "callBackUrl": cb}
        )
        assert again["code"] == 400  # a recovery's id is no music task's
        _, running = await _call(
            http, "GET", api + "suno/recovery/record-info", params={"task_id": recovery_id}
        )
        assert (running["code"], running["task_id"], running["data"]) == (201, recovery_id, None)
        _, missing = await _call(http, "GET", api + "suno/recovery/record-info")
        assert missing["code"] == 400
        provider.recovery.release(recovery_id)
        await provider.wait_for(lambda: provider.recovery.tasks[recovery_id].items is not None, timeout=5)
        _, done = await _call(http, "GET", api + "suno/recovery/record-info", params={"task_id": recovery_id})
        assert done["code"] == 200 and [i["id"] for i in done["data"]] == [
            t.id for t in provider.tasks[music_id].tracks
        ]
        async with http.get(done["data"][0]["audio_url"]) as media:
            assert media.status == 200 and media.content_type == "audio/mp4"
            assert await media.read() == provider.tasks[music_id].tracks[0].audio
