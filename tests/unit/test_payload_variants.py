"""Real payloads read liberally (provider-api.md §3.7, §3.9, §5, §10): each variant seen, one test."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.provider.models import ProviderSnapshot, task_id_of, upload_url_of
from storage.models import Stage
from tests.unit.test_snapshots import TASK, callback, callback_track, record, record_track

PLACEHOLDER_RECORD = {"id": "", "audioUrl": "", "streamAudioUrl": "", "title": "", "duration": None}
PLACEHOLDER_CALLBACK = {"id": "", "audio_url": "", "stream_audio_url": ""}


# ---- record-info statuses, by their meaning --------------------------------------------------------


@pytest.mark.parametrize("status", ["FAILED", "ERROR", "GENERATE_FAILED", "UPLOAD_ERROR", "failed", "Fail"])
def test_an_undocumented_failure_status_is_a_failure_with_its_reason(status: str) -> None:
    snapshot = ProviderSnapshot.from_record_info(record(status, None, errorMessage="the model is down"))
    assert snapshot.stage is Stage.FAILED
    assert snapshot.error_message == "the model is down"
    assert snapshot.error_code == 501  # "generation failed": no code came with it


def test_an_undocumented_failure_status_keeps_the_code_it_came_with() -> None:
    snapshot = ProviderSnapshot.from_record_info(record("FAILED", None, errorCode=531))
    assert snapshot.stage is Stage.FAILED and snapshot.error_code == 531
    assert snapshot.error_message == "FAILED"  # no reason given: the status says what happened


@pytest.mark.parametrize("status", ["GENERATING", "QUEUED", "RUNNING", "STREAMING"])
def test_another_undocumented_status_keeps_waiting_and_says_so(status: str) -> None:
    snapshot = ProviderSnapshot.from_record_info(record(status, None))
    assert snapshot.stage is Stage.SUBMITTED and snapshot.unknown_status == status
    assert snapshot.error_code is None


def test_a_documented_status_is_not_unknown() -> None:
    assert ProviderSnapshot.from_record_info(record("PENDING", None)).unknown_status is None
    assert ProviderSnapshot.from_record_info(record("TEXT_SUCCESS", None)).stage is Stage.TEXT


def test_an_undocumented_status_with_tracks_keeps_them() -> None:
    snapshot = ProviderSnapshot.from_record_info(record("GENERATING", [record_track(0, ready=False)]))
    assert snapshot.stage is Stage.SUBMITTED and [t.id for t in snapshot.tracks] == ["audio-0"]
    assert snapshot.unknown_status == "GENERATING"


# ---- placeholder tracks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "placeholder", [PLACEHOLDER_RECORD, {"audioUrl": ""}, {"id": None}, {"id": "  "}, None]
)
def test_record_info_placeholders_are_skipped_and_the_good_tracks_kept(placeholder: Any) -> None:
    tracks = [placeholder, record_track(0), record_track(1)]
    snapshot = ProviderSnapshot.from_record_info(record("SUCCESS", tracks))
    assert snapshot.stage is Stage.COMPLETE
    assert [t.audio_id for t in snapshot.track_data] == ["audio-0", "audio-1"]


def test_record_info_with_only_placeholders_is_not_a_result_yet() -> None:
    snapshot = ProviderSnapshot.from_record_info(record("SUCCESS", [PLACEHOLDER_RECORD, PLACEHOLDER_RECORD]))
    assert snapshot.stage is Stage.SUBMITTED and snapshot.tracks == []  # the next poll asks again


def test_callback_placeholders_are_skipped_and_the_good_tracks_kept() -> None:
    body = callback("complete", [PLACEHOLDER_CALLBACK, callback_track(0), callback_track(1)])
    snapshot = ProviderSnapshot.from_callback(body)
    assert snapshot.stage is Stage.COMPLETE and [t.id for t in snapshot.tracks] == ["audio-0", "audio-1"]
    first = ProviderSnapshot.from_callback(callback("first", [PLACEHOLDER_CALLBACK, callback_track(0)]))
    assert first.stage is Stage.FIRST and len(first.tracks) == 1


def test_a_complete_callback_of_placeholders_only_is_refused() -> None:
    # Refused (400): the provider sends it again, and polling asks meanwhile; never "done, no tracks".
    with pytest.raises(ValueError, match="lack an id"):
        ProviderSnapshot.from_callback(callback("complete", [PLACEHOLDER_CALLBACK]))


def test_a_track_that_is_no_object_is_still_malformed() -> None:
    with pytest.raises(ValidationError):
        ProviderSnapshot.from_record_info(record("SUCCESS", ["audio-0", record_track(1)]))


# ---- reasons, under every name -----------------------------------------------------------------------


@pytest.mark.parametrize("key", ["errorMessage", "errorMsg", "failMsg", "msg", "message"])
def test_record_info_reasons_under_any_name(key: str) -> None:
    data = record("GENERATE_AUDIO_FAILED", None, errorCode=501)
    data[key] = "the audio could not be generated"
    snapshot = ProviderSnapshot.from_record_info(data)
    assert snapshot.stage is Stage.FAILED and snapshot.error_message == "the audio could not be generated"


def test_a_null_reason_does_not_hide_the_next_name() -> None:
    data = record("CREATE_TASK_FAILED", None, errorMessage=None, errorMsg="", failMsg="bad upload")
    assert ProviderSnapshot.from_record_info(data).error_message == "bad upload"


@pytest.mark.parametrize("key", ["error", "errorMessage", "errorMsg", "failMsg"])
def test_callback_reasons_in_its_data_under_any_name(key: str) -> None:
    body = callback("error", None, code=501, msg="")
    body["data"][key] = "the audio could not be generated"
    snapshot = ProviderSnapshot.from_callback(body)
    assert snapshot.stage is Stage.FAILED and snapshot.error_code == 501
    assert snapshot.error_message == "the audio could not be generated"


def test_callback_reason_in_message_instead_of_msg() -> None:
    body = {
        "code": 400,
        "message": "Music generation failed",
        "data": {"callbackType": "error", "task_id": TASK},
    }
    snapshot = ProviderSnapshot.from_callback(body)
    assert snapshot.stage is Stage.FAILED and snapshot.error_message == "Music generation failed"


# ---- task ids and upload URLs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "envelope",
    [
        {"code": 200, "msg": "success", "data": {"taskId": TASK}},
        {"code": 200, "msg": "success", "data": {"task_id": TASK}},
        {"code": 200, "msg": "success", "taskId": TASK},
        {"code": 200, "msg": "success", "data": None, "taskId": TASK},
        {"code": 200, "msg": "success", "data": {"taskId": ""}, "taskId": TASK},
    ],
)
def test_a_submission_task_id_wherever_it_is_put(envelope: dict[str, Any]) -> None:
    assert task_id_of(envelope) == TASK


@pytest.mark.parametrize(
    "envelope",
    [
        {"code": 200, "msg": "success", "data": {}},
        {"code": 200, "msg": "success", "data": {"taskId": 12345}},
        {"code": 200, "msg": "success", "data": "abc"},
        {"code": 200, "msg": "success"},
    ],
)
def test_no_task_id_is_no_task_id(envelope: dict[str, Any]) -> None:
    assert task_id_of(envelope) is None


@pytest.mark.parametrize("key", ["downloadUrl", "fileUrl"])
def test_an_upload_answer_under_either_name(key: str) -> None:
    url = "https://tempfile.redpandaai.co/u/song.mp3"
    assert upload_url_of({"success": True, "code": 200, "data": {key: url, "fileName": "song.mp3"}}) == url


@pytest.mark.parametrize(
    "data", [{}, {"downloadUrl": ""}, {"fileUrl": "file:///etc/passwd"}, {"downloadUrl": None}, None]
)
def test_an_upload_answer_without_a_usable_url(data: Any) -> None:
    assert upload_url_of({"success": True, "code": 200, "data": data}) is None


def test_record_info_task_id_under_either_name() -> None:
    data = record("PENDING", None)
    data["task_id"] = data.pop("taskId")
    assert ProviderSnapshot.from_record_info(data).task_id == TASK
