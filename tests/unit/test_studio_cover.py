"""Cover art's request model, its callback and record-info readers, and its own code list."""

from __future__ import annotations

import pytest

from bot.provider.client import _in_house_terms
from bot.provider.errors import INSUFFICIENT_CREDITS, Outcome, ProviderError, ProviderUnavailable
from bot.provider.models import InvalidRequest, build_request
from bot.studio.cover import TOOL, CoverRequest, cover_refs
from bot.studio.tool import envelope_of
from storage.models import Stage

MUSIC = "73d6128b3523a0079df10da9471017c8"
COVER = "21aee3c3c2a01fa5e030b3799fa4dd56"
IMAGES = ["https://tempfile.aiquickdraw.com/s/a_cover.png", "https://tempfile.aiquickdraw.com/s/b_cover.png"]


def test_the_request_sends_the_music_task_and_the_callback_only() -> None:
    request = build_request(CoverRequest, task_id=MUSIC, audio_id="track-1")
    assert request.body("https://bot.example/cb") == {
        "taskId": MUSIC,
        "callBackUrl": "https://bot.example/cb",
    }
    # The track is kept with the task (its params), for Use as cover.
    assert request.model_dump(by_alias=True, exclude_none=True) == {"taskId": MUSIC, "audioId": "track-1"}


@pytest.mark.parametrize(
    ("fields", "field", "kind"),
    [
        ({}, "taskId", "required"),
        ({"task_id": "  "}, "taskId", "required"),
        ({"task_id": MUSIC, "style_weight": 0.5}, "styleWeight", "invalid"),
        ({"task_id": MUSIC, "callBackUrl": "x"}, "callBackUrl", "invalid"),
    ],
)
def test_the_request_refuses_what_the_endpoint_does_not_take(fields: dict, field: str, kind: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        build_request(CoverRequest, **fields)
    [problem] = raised.value.problems
    assert (problem.field, problem.kind) == (field, kind)


def test_the_success_callback_gives_the_images_as_photos() -> None:
    body = {
        "code": 200,
        "msg": "success",
        "data": {"taskId": COVER, "images": [*IMAGES, "file:///etc/passwd"]},
    }
    assert envelope_of(body) == (Stage.COMPLETE, COVER)
    snapshot = TOOL.read_callback(body)
    assert (snapshot.task_id, snapshot.stage) == (COVER, Stage.COMPLETE)
    assert [(f.name, f.media, f.url) for f in snapshot.files] == [
        ("cover-1.png", "photo", IMAGES[0]),
        ("cover-2.png", "photo", IMAGES[1]),
    ]


@pytest.mark.parametrize("code", [400, 408, 500, 501, 531])
def test_a_failure_callback_is_a_failure_with_its_code(code: int) -> None:
    body = {"code": code, "msg": "Cover generation failed", "data": {"taskId": COVER, "images": None}}
    assert envelope_of(body) == (Stage.FAILED, COVER)
    snapshot = TOOL.read_callback(body)
    assert (snapshot.stage, snapshot.error_code, snapshot.error_message) == (
        Stage.FAILED,
        code,
        "Cover generation failed",
    )


def test_a_success_callback_without_images_is_a_failure() -> None:
    snapshot = TOOL.read_callback({"code": 200, "msg": "success", "data": {"taskId": COVER, "images": []}})
    assert snapshot.stage is Stage.FAILED


def _record(flag: object, **extra: object) -> dict:
    return {
        "taskId": COVER,
        "parentTaskId": MUSIC,
        "callbackUrl": "https://bot.example/cb",
        "completeTime": "2025-01-15T10:35:27.000Z",
        "response": {"images": IMAGES} if flag in (1, "1") else None,
        "successFlag": flag,
        "createTime": "2025-01-15T10:33:01.000Z",
        "errorCode": 200,
        "errorMessage": "",
        **extra,
    }


@pytest.mark.parametrize(
    ("flag", "stage"),
    [
        (0, Stage.SUBMITTED),
        (2, Stage.SUBMITTED),
        (None, Stage.SUBMITTED),
        (1, Stage.COMPLETE),
        ("1", Stage.COMPLETE),
    ],
)
def test_record_info_reads_the_integer_flag(flag: object, stage: Stage) -> None:
    snapshot = TOOL.read_record(_record(flag))
    assert snapshot.stage is stage
    assert [f.url for f in snapshot.files] == (IMAGES if stage is Stage.COMPLETE else [])


def test_record_info_failed_flag_is_a_failure_with_its_reason() -> None:
    snapshot = TOOL.read_record(_record(3, errorCode=500, errorMessage="Cover generation failed"))
    assert (snapshot.stage, snapshot.error_code, snapshot.error_message) == (
        Stage.FAILED,
        500,
        "Cover generation failed",
    )


def test_the_endpoints_own_codes_mean_what_they_say() -> None:
    request = CoverRequest(task_id=MUSIC)
    credits = _in_house_terms(request, ProviderError(402, "Insufficient credits"))
    assert credits.code == INSUFFICIENT_CREDITS and credits.out_of_credits
    limited = _in_house_terms(request, ProviderError(429, "Rate limited"))
    assert limited.outcome is Outcome.NOT_MADE and not limited.out_of_credits
    repeat = _in_house_terms(request, ProviderError(400, "Cover already generated", task_id=COVER))
    assert (repeat.code, repeat.task_id) == (400, COVER)
    unreachable = ProviderUnavailable("down")
    assert _in_house_terms(request, unreachable) is unreachable
    assert TOOL.repeat_codes == (400, 409) and TOOL.poll_path == "/api/v1/suno/cover/record-info"


def test_cover_work_keys_name_the_track_and_the_image() -> None:
    assert cover_refs("deliver:cover:12:34") == (12, 34)
    assert cover_refs("deliver:files:12") is None
    assert cover_refs("deliver:12") is None
