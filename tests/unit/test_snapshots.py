"""What the provider reports: callbacks (snake_case) and record-info (camelCase) mean the same thing."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.provider.models import SENSITIVE_WORD_CODE, ProviderSnapshot
from storage.models import Stage

TASK = "5c79ab12be8e"


def callback_track(n: int, *, ready: bool = True) -> dict[str, Any]:
    return {
        "id": f"audio-{n}",
        "audio_url": f"https://cdn.example.com/{n}.mp3" if ready else "",
        "source_audio_url": f"https://cdn.example.com/{n}.mp3" if ready else "",
        "stream_audio_url": f"https://cdn.example.com/stream/{n}",
        "source_stream_audio_url": f"https://cdn.example.com/stream/{n}",
        "image_url": f"https://cdn.example.com/{n}.jpeg" if ready else "",
        "prompt": "[Verse] rain",
        "model_name": "chirp-v4-5",
        "title": f"Rain {n}",
        "tags": "lo-fi",
        "createTime": "2025-01-01 00:00:00",
        "duration": 198.44 if ready else None,
    }


def record_track(n: int, *, ready: bool = True) -> dict[str, Any]:
    return {
        "id": f"audio-{n}",
        "audioUrl": f"https://cdn.example.com/{n}.mp3" if ready else "",
        "sourceAudioUrl": f"https://cdn.example.com/{n}.mp3" if ready else "",
        "streamAudioUrl": f"https://cdn.example.com/stream/{n}",
        "sourceStreamAudioUrl": f"https://cdn.example.com/stream/{n}",
        "imageUrl": f"https://cdn.example.com/{n}.jpeg" if ready else "",
        "prompt": "[Verse] rain",
        "modelName": "chirp-v4-5",
        "title": f"Rain {n}",
        "tags": "lo-fi",
        "createTime": "2025-01-01 00:00:00",
        "duration": 198.44 if ready else None,
    }


def callback(kind: str, tracks: list[dict[str, Any]] | None, *, code: int = 200, msg: str = "ok") -> dict:
    return {"code": code, "msg": msg, "data": {"callbackType": kind, "task_id": TASK, "data": tracks}}


def record(status: str, tracks: list[dict[str, Any]] | None, **extra: Any) -> dict[str, Any]:
    response = {"taskId": TASK, "sunoData": tracks} if tracks is not None else None
    return {
        "taskId": TASK,
        "parentMusicId": "",
        "param": "{}",
        "response": response,
        "status": status,
        "type": "GENERATE",
        "operationType": "generate",
        "errorCode": None,
        "errorMessage": None,
        **extra,
    }


@pytest.mark.parametrize(
    ("kind", "status", "stage", "count"),
    [
        ("text", "TEXT_SUCCESS", Stage.TEXT, 0),
        ("first", "FIRST_SUCCESS", Stage.FIRST, 1),
        ("complete", "SUCCESS", Stage.COMPLETE, 2),
    ],
)
def test_callback_and_record_info_parse_to_the_same_snapshot(
    kind: str, status: str, stage: Stage, count: int
) -> None:
    from_callback = ProviderSnapshot.from_callback(
        callback(kind, [callback_track(n) for n in range(count)] if count else None)
    )
    from_record = ProviderSnapshot.from_record_info(record(status, [record_track(n) for n in range(count)]))
    assert from_callback == from_record
    assert from_callback.task_id == TASK and from_callback.stage is stage
    assert len(from_callback.tracks) == count


def test_track_fields_are_normalised() -> None:
    snapshot = ProviderSnapshot.from_callback(callback("complete", [callback_track(0)]))
    (data,) = snapshot.track_data
    assert data.audio_id == "audio-0"
    assert data.audio_url == "https://cdn.example.com/0.mp3"
    assert data.stream_url == "https://cdn.example.com/stream/0"
    assert data.image_url == "https://cdn.example.com/0.jpeg"
    assert data.title == "Rain 0" and data.tags == "lo-fi" and data.model_name == "chirp-v4-5"
    assert data.duration == pytest.approx(198.44)


def test_first_stage_tracks_without_audio_yet() -> None:
    snapshot = ProviderSnapshot.from_callback(callback("first", [callback_track(0, ready=False)]))
    (data,) = snapshot.track_data
    assert data.audio_url is None and data.image_url is None and data.duration is None
    assert data.stream_url == "https://cdn.example.com/stream/0"


def test_callback_accepts_camel_case_task_id_and_callback_type_spellings() -> None:
    body = {"code": 200, "msg": "", "data": {"callback_type": "TEXT", "taskId": TASK, "data": []}}
    snapshot = ProviderSnapshot.from_callback(body)
    assert snapshot.stage is Stage.TEXT and snapshot.task_id == TASK


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "data:audio/mpeg;base64,AAAA", "ftp://x/y.mp3", "javascript:alert(1)", ""]
)
def test_non_http_urls_are_dropped(url: str) -> None:
    track = callback_track(0) | {"audio_url": url, "stream_audio_url": url, "image_url": url}
    (data,) = ProviderSnapshot.from_callback(callback("complete", [track])).track_data
    assert data.audio_url is None and data.stream_url is None and data.image_url is None
    camel = record_track(0) | {"audioUrl": url, "streamAudioUrl": url, "imageUrl": url}
    (data,) = ProviderSnapshot.from_record_info(record("SUCCESS", [camel])).track_data
    assert data.audio_url is None and data.stream_url is None and data.image_url is None


# ---- failures --------------------------------------------------------------------------------------


def test_error_callback() -> None:
    body = callback("error", None, code=400, msg="Music generation failed")
    snapshot = ProviderSnapshot.from_callback(body)
    assert snapshot.stage is Stage.FAILED
    assert snapshot.error_code == 400
    assert snapshot.error_message == "Music generation failed"
    assert snapshot.tracks == []


def test_error_callback_with_code_200_still_fails() -> None:
    snapshot = ProviderSnapshot.from_callback(callback("error", None, code=200, msg="oops"))
    assert snapshot.stage is Stage.FAILED and snapshot.error_code not in (None, 200)


@pytest.mark.parametrize("code", [400, 408, 413, 451, 500, 501, 531])
def test_error_callbacks_keep_their_code(code: int) -> None:
    snapshot = ProviderSnapshot.from_callback(callback("error", None, code=code, msg="failed"))
    assert snapshot.stage is Stage.FAILED and snapshot.error_code == code


def test_non_200_code_fails_whatever_the_callback_type() -> None:
    snapshot = ProviderSnapshot.from_callback(callback("complete", [callback_track(0)], code=501, msg="x"))
    assert snapshot.stage is Stage.FAILED and snapshot.error_code == 501


def test_kie_style_error_string() -> None:
    body = callback("error", None, code=413, msg="failed")
    body["data"]["error"] = "uploaded audio matches existing work"
    snapshot = ProviderSnapshot.from_callback(body)
    assert snapshot.error_code == 413 and snapshot.error_message == "uploaded audio matches existing work"


def test_sensitive_word_callback() -> None:
    msg = "Your prompt contains sensitive words; please modify it and try again."
    snapshot = ProviderSnapshot.from_callback(callback("error", None, code=400, msg=msg))
    assert snapshot.stage is Stage.FAILED and snapshot.error_code == SENSITIVE_WORD_CODE


@pytest.mark.parametrize(
    ("status", "stage"),
    [
        ("PENDING", Stage.SUBMITTED),
        ("TEXT_SUCCESS", Stage.TEXT),
        ("FIRST_SUCCESS", Stage.FIRST),
        ("SUCCESS", Stage.COMPLETE),
        ("CREATE_TASK_FAILED", Stage.FAILED),
        ("GENERATE_AUDIO_FAILED", Stage.FAILED),
        ("SENSITIVE_WORD_ERROR", Stage.FAILED),
        ("CALLBACK_EXCEPTION", Stage.FAILED),
        ("GENERATING", Stage.SUBMITTED),  # unknown statuses are "still working", never a failure
        (None, Stage.SUBMITTED),
    ],
)
def test_status_mapping(status: str | None, stage: Stage) -> None:
    assert ProviderSnapshot.from_record_info(record(status, None)).stage is stage  # type: ignore[arg-type]


def test_failed_record_info_codes() -> None:
    failed = ProviderSnapshot.from_record_info(
        record("GENERATE_AUDIO_FAILED", None, errorCode=531, errorMessage="refunded")
    )
    assert failed.error_code == 531 and failed.error_message == "refunded"
    as_text = ProviderSnapshot.from_record_info(record("CREATE_TASK_FAILED", None, errorCode="451"))
    assert as_text.error_code == 451
    no_code = ProviderSnapshot.from_record_info(record("GENERATE_AUDIO_FAILED", None))
    assert no_code.stage is Stage.FAILED and no_code.error_code == 501
    assert no_code.error_message  # something a log can show


def test_sensitive_word_status_has_its_own_code() -> None:
    snapshot = ProviderSnapshot.from_record_info(
        record("SENSITIVE_WORD_ERROR", None, errorCode=400, errorMessage="bad words")
    )
    assert snapshot.stage is Stage.FAILED and snapshot.error_code == SENSITIVE_WORD_CODE


def test_callback_exception_with_audio_is_complete() -> None:
    snapshot = ProviderSnapshot.from_record_info(
        record("CALLBACK_EXCEPTION", [record_track(0), record_track(1)])
    )
    assert snapshot.stage is Stage.COMPLETE and len(snapshot.track_data) == 2
    assert snapshot.error_code is None


def test_callback_exception_without_audio_is_a_failure() -> None:
    snapshot = ProviderSnapshot.from_record_info(record("CALLBACK_EXCEPTION", [record_track(0, ready=False)]))
    assert snapshot.stage is Stage.FAILED and snapshot.error_code is not None


def test_snapshot_survives_the_event_log_round_trip() -> None:
    snapshot = ProviderSnapshot.from_record_info(record("SUCCESS", [record_track(0), record_track(1)]))
    assert ProviderSnapshot.model_validate_json(snapshot.model_dump_json()) == snapshot


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"code": 200, "msg": "x"},
        {"code": 200, "data": {"callbackType": "complete", "data": []}},  # no task id
        {"code": 200, "data": {"callbackType": "complete", "task_id": "", "data": []}},
        {"code": "two hundred", "data": {"callbackType": "text", "task_id": TASK}},
        {"code": 200, "data": {"callbackType": "complete", "task_id": TASK, "data": [{"audio_url": "x"}]}},
    ],
)
def test_malformed_callbacks_raise(body: dict[str, Any]) -> None:
    with pytest.raises((ValidationError, ValueError)):
        ProviderSnapshot.from_callback(body)


def test_unknown_callback_type_raises() -> None:
    with pytest.raises(ValueError, match="callbackType"):
        ProviderSnapshot.from_callback(callback("halfway", None))


# ---- Stage.advanced_by -----------------------------------------------------------------------------

ORDER = [Stage.QUEUED, Stage.SUBMITTED, Stage.TEXT, Stage.FIRST, Stage.COMPLETE]


@pytest.mark.parametrize("current", ORDER[:-1])
def test_stages_move_forward_only(current: Stage) -> None:
    for reported in ORDER:
        expected = reported if ORDER.index(reported) > ORDER.index(current) else None
        assert current.advanced_by(reported) == expected, (current, reported)


@pytest.mark.parametrize("current", ORDER[:-1])
def test_failure_ends_any_unfinished_stage(current: Stage) -> None:
    assert current.advanced_by(Stage.FAILED) is Stage.FAILED


@pytest.mark.parametrize("terminal", [Stage.COMPLETE, Stage.FAILED])
def test_terminal_stages_stay(terminal: Stage) -> None:
    for reported in Stage:
        assert terminal.advanced_by(reported) is None


def test_skipped_stages_are_fine() -> None:
    assert Stage.SUBMITTED.advanced_by(Stage.COMPLETE) is Stage.COMPLETE
    assert Stage.QUEUED.advanced_by(Stage.FIRST) is Stage.FIRST
