"""Replace a section: the request model's rules, its questions, and the emulator's referee of them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.chat.forms import FLOWS, AnswerProblem, Draft, answer, choose, current_question
from bot.provider.errors import Outcome, outcome, wording
from bot.provider.models import InvalidRequest, build_request, limits_for
from bot.studio.replace_section import (
    MIN_TRACK_SECONDS,
    ReplaceSectionRequest,
    kept_lyrics,
    refuse,
    style_of,
    window_rule,
)
from emulators.provider.rules import RuleError, SourceTrack
from emulators.provider.studio import replace_section as emulated
from storage.models import Stage, Task, TaskKind, Track

GOOD: dict[str, Any] = {
    "task_id": "music-1",
    "audio_id": "audio-1",
    "prompt": "[Verse]\nnew words",
    "tags": "lo-fi, rain",
    "title": "Rain",
    "infill_start_s": 10.0,
    "infill_end_s": 25.5,
    "full_lyrics": "[Verse]\nold words\n\n[Replaced]\nnew words",
    "model": "V4_5",
    "track_duration": 40.0,
}


def problem_of(**changes: Any) -> tuple[str, str]:
    with pytest.raises(InvalidRequest) as raised:
        build_request(ReplaceSectionRequest, **(GOOD | changes))
    [problem] = raised.value.problems
    return problem.field, problem.kind


def test_a_valid_request_sends_the_documented_fields_only() -> None:
    request = build_request(ReplaceSectionRequest, **GOOD)
    assert request.body("https://bot.example/cb") == {
        "taskId": "music-1",
        "audioId": "audio-1",
        "prompt": "[Verse]\nnew words",
        "tags": "lo-fi, rain",
        "title": "Rain",
        "infillStartS": 10.0,
        "infillEndS": 25.5,
        "fullLyrics": "[Verse]\nold words\n\n[Replaced]\nnew words",
        "callBackUrl": "https://bot.example/cb",
    }
    assert request.model == "V4_5"  # kept as the task's model, never sent (mode 1 names none)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"prompt": " "}, ("prompt", "required")),
        ({"tags": ""}, ("tags", "required")),
        ({"title": ""}, ("title", "required")),
        ({"full_lyrics": ""}, ("fullLyrics", "required")),
        ({"task_id": ""}, ("taskId", "required")),
        ({"audio_id": ""}, ("audioId", "required")),
        ({"prompt": "x" * 5001}, ("prompt", "too_long")),
        ({"full_lyrics": "x" * 5001}, ("fullLyrics", "too_long")),
        ({"model": "V4", "prompt": "x" * 3001}, ("prompt", "too_long")),
        ({"model": None, "tags": "x" * 201}, ("tags", "too_long")),  # no model: the strictest limits
        ({"title": "x" * 81}, ("title", "too_long")),
        ({"infill_start_s": 10.005}, ("infillStartS", "invalid")),  # two decimals at most
        ({"infill_start_s": -1.0}, ("infillStartS", "range")),
        ({"infill_start_s": 25.5}, ("infillStartS", "range")),  # start == end
        ({"infill_end_s": 19.99}, ("infillWindow", "range")),  # 9.99 s
        ({"infill_start_s": 0.0, "infill_end_s": 61.0, "track_duration": 200.0}, ("infillWindow", "range")),
        ({"infill_start_s": 0.0, "infill_end_s": 20.01}, ("infillWindow", "range")),  # over half of 40 s
        ({"infill_start_s": 30.0, "infill_end_s": 40.01}, ("infillEndS", "range")),  # past the end
    ],
)
def test_every_documented_rule_is_refused_before_anything_is_sent(
    changes: dict[str, Any], expected: tuple[str, str]
) -> None:
    assert problem_of(**changes) == expected


def test_the_window_edges_themselves_are_allowed() -> None:
    build_request(ReplaceSectionRequest, **GOOD | {"infill_start_s": 0.0, "infill_end_s": 10.0})
    build_request(ReplaceSectionRequest, **GOOD | {"infill_start_s": 20.0, "infill_end_s": 40.0})
    build_request(
        ReplaceSectionRequest, **GOOD | {"infill_start_s": 0.0, "infill_end_s": 60.0, "track_duration": 120.0}
    )


@pytest.mark.parametrize(
    ("start", "end", "duration", "rule"),
    [
        (10, 5, 40, "order"),
        (10, 19, 40, "short"),
        (0, 61, 300, "long"),
        (0, 25, 40, "half"),
        (30, 45, 40, "past_end"),
        (10, 25, None, None),
        (0, 20, 40, None),
    ],
)
def test_window_rule_names_the_broken_part(
    start: float, end: float, duration: float | None, rule: str
) -> None:
    assert window_rule(start, end, duration) == rule


def _task(**values: Any) -> Task:
    return Task.model_validate(
        {
            "id": 1,
            "user_id": 1,
            "chat_id": 1,
            "kind": TaskKind.GENERATE,
            "stage": Stage.COMPLETE,
            "params": {},
            "created_at": 0.0,
            "last_event_at": 0.0,
            "provider_task_id": "music-1",
        }
        | values
    )


def _track(**values: Any) -> Track:
    base = {"id": 1, "task_id": 1, "position": 0, "audio_id": "audio-1", "title": "Rain", "tags": "lo-fi"}
    return Track.model_validate(base | {"prompt": "[Verse]\nold", "duration": 40.0} | values)


def test_tracks_without_lyrics_or_room_for_a_window_are_refused() -> None:
    assert refuse(_task(), _track()) is None
    assert refuse(_task(kind=TaskKind.SOUNDS), _track()) == "replace.instrumental"
    assert refuse(_task(params={"instrumental": True}), _track()) == "replace.instrumental"
    assert refuse(_task(), _track(prompt="")) == "replace.instrumental"
    assert refuse(_task(), _track(duration=MIN_TRACK_SECONDS - 0.1)) == "replace.too_short"
    assert refuse(_task(), _track(duration=MIN_TRACK_SECONDS)) is None


def test_the_style_sent_is_the_tracks_else_its_requests_else_a_neutral_one() -> None:
    assert style_of(_task(params={"style": "jazz"}), _track(tags="lo-fi")) == "lo-fi"
    assert style_of(_task(params={"style": "jazz"}), _track(tags=" ")) == "jazz"
    assert style_of(_task(params={"tags": "jazz"}), _track(tags="")) == "jazz"  # a replaced track's
    assert style_of(_task(params={"prompt": "a calm song"}), _track(tags="")) == "same style as the original"


def test_kept_lyrics_keep_every_line_and_add_the_new_part() -> None:
    assert kept_lyrics("[Verse]\nold\n", " new words ") == "[Verse]\nold\n\n[Replaced]\nnew words"


def _draft(**values: Any) -> Draft:
    base: dict[str, Any] = {
        "flow": "replace",
        "model": "V4_5",
        "duration": 40.0,
        "default_title": "Rain",
        "default_style": "lo-fi",
        "audio_id": "audio-1",
        "task_id": "music-1",
        "source_lyrics": "[Verse]\nold",
    }
    return Draft(**base | values)


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("0:05-0:10", "replace.window_short"),
        ("0-65", "replace.window_long"),
        ("0-25", "replace.window_half"),
        ("30-45", "replace.window_past_end"),
        ("25-10", "replace.window_order"),
        ("from the chorus", "replace.bad_window"),
    ],
)
def test_the_window_question_says_what_to_change(typed: str, key: str) -> None:
    draft = _draft()
    with pytest.raises(AnswerProblem) as raised:
        answer(FLOWS["replace"], draft, typed)
    assert raised.value.key == key
    assert draft.step == 0  # asked again


def test_the_flow_builds_the_request_with_the_kept_lyrics() -> None:
    flow, draft = FLOWS["replace"], _draft()
    assert answer(flow, draft, "0:10-0:25.5") is not None
    assert draft.answers["window"] == "10-25.5"
    answer(flow, draft, "[Verse]\nnew words")
    question = current_question(flow, draft)
    assert question is not None and [c.label_key for c in question.choices(draft)] == ["replace.keep_lyrics"]
    assert choose(flow, draft, draft.step, 0) is None
    request = flow.build(draft)
    assert isinstance(request, ReplaceSectionRequest)
    assert (request.infill_start_s, request.infill_end_s) == (10.0, 25.5)
    assert request.full_lyrics == "[Verse]\nold\n\n[Replaced]\n[Verse]\nnew words"
    assert (request.title, request.tags, request.model) == ("Rain", "lo-fi", "V4_5")


def test_keeping_the_lyrics_is_not_offered_when_it_would_be_too_long() -> None:
    flow = FLOWS["replace"]
    limit = limits_for("V4").prompt
    draft = _draft(source_lyrics="x" * (limit - 5))
    draft.model = "V4"
    answer(flow, draft, "10-25")
    answer(flow, draft, "new words")
    question = current_question(flow, draft)
    assert question is not None and question.choices(draft) == ()


def test_the_endpoints_failure_codes_are_definite_and_worded() -> None:
    for code in (408, 501, 505):
        assert outcome(code) is Outcome.REFUSED  # no callback will come: said at once, never resent
    assert wording(505) == "error.505" and wording(408) == "error.408" and wording(501) == "error.501"


# ---- the emulator's referee -----------------------------------------------------------------------

SOURCE = SourceTrack(model="V4_5", duration=40.0, ready=True, task_id="music-1")
BODY: dict[str, Any] = {
    "taskId": "music-1",
    "audioId": "audio-1",
    "prompt": "new words",
    "tags": "lo-fi",
    "title": "Rain",
    "infillStartS": 10,
    "infillEndS": 25.5,
    "fullLyrics": "old words\nnew words",
    "callBackUrl": "http://127.0.0.1:1/cb",
}


def _find(audio_id: str) -> SourceTrack | None:
    return SOURCE if audio_id == "audio-1" else None


def test_the_emulator_takes_a_valid_request_on_the_tracks_model() -> None:
    assert emulated.check(BODY, _find) == "V4_5"
    assert emulated.check(BODY | {"callBackUrl": None}, _find) == "V4_5"  # documented as optional
    upload = {k: v for k, v in BODY.items() if k not in ("taskId", "audioId")}
    assert emulated.check(upload | {"uploadUrl": "http://127.0.0.1:1/a.mp3", "model": "V5"}, _find) == "V5"


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"fullLyrics": None}, 400, "fullLyrics is required"),
        ({"tags": None, "style": "lo-fi"}, 422, "takes tags, not style"),
        ({"infillStartS": None}, 422, "infillStartS is required"),
        ({"infillStartS": -1}, 422, "at least 0"),
        ({"infillEndS": 25.555}, 422, "2 decimals"),
        ({"infillStartS": 25.5}, 422, "less than infillEndS"),
        ({"infillEndS": 19}, 422, "10 to 60 seconds"),
        ({"infillStartS": 0, "infillEndS": 21}, 422, "50%"),
        ({"infillStartS": 30, "infillEndS": 41}, 422, "end of the track"),
        ({"audioId": "nope"}, 404, "not a track generated by this API"),
        ({"taskId": "other"}, 422, "not a track of task other"),
        ({"uploadUrl": "http://127.0.0.1:1/a.mp3"}, 422, "not both"),
        ({"taskId": None, "audioId": None}, 422, "are required"),
        ({"prompt": "x" * 5001}, 413, "prompt is too long"),
        ({"callBackUrl": "not a url"}, 400, "valid http(s) URL"),
    ],
)
def test_the_emulator_refuses_what_the_provider_documents_as_invalid(
    changes: dict[str, Any], code: int, words: str
) -> None:
    body = {k: v for k, v in (BODY | changes).items() if v is not None}
    with pytest.raises(RuleError) as raised:
        emulated.check(body, _find)
    assert raised.value.code == code and words in raised.value.msg


def test_the_emulator_refuses_a_track_still_being_made() -> None:
    def unfinished(audio_id: str) -> SourceTrack:
        return SourceTrack(model="V4_5", duration=40.0, ready=False, task_id="music-1")

    with pytest.raises(RuleError, match="still being generated"):
        emulated.check(BODY, unfinished)
