"""Mashup's request (provider-tools.md §10), its model retry, its questions, and the emulator's referee."""

from __future__ import annotations

from typing import Any

import pytest

from bot.chat.forms import FLOWS, INSTRUMENTAL, AnswerProblem, Draft, answer, answer_song, choose
from bot.provider.errors import ProviderError
from bot.provider.models import InvalidRequest, build_request, track_model
from bot.studio.mashup import (
    INSTRUMENTAL_PROMPT,
    MashupRequest,
    fallback_model,
    mashup_model,
    other_model,
)
from emulators.provider.rules import RuleError, SourceTrack, validate_task_request
from emulators.provider.studio import mashup as emulated

CALLBACK = "https://bot.example.com/callbacks/1.abc"
URLS = ["https://bot.example.com/files/a", "https://cdn.example.com/b.mp3"]
GOOD: dict[str, Any] = {
    "sources": ["upload:1", "track:2"],
    "model": "V4_5",
    "prompt": "[Verse] two songs",
    "style": "lofi",
    "title": "A × B",
}


def problems(**fields: Any) -> list[tuple[str, str, Any]]:
    with pytest.raises(InvalidRequest) as caught:
        build_request(MashupRequest, **{**GOOD, **fields})
    return [(p.field, p.kind, p.limit) for p in caught.value.problems]


def test_the_body_is_what_both_revisions_take_and_names_no_source() -> None:
    request = build_request(MashupRequest, **GOOD).model_copy(update={"upload_url_list": URLS})
    assert request.body(CALLBACK) == {
        "uploadUrlList": URLS,
        "customMode": True,
        "model": "V4_5",
        "prompt": "[Verse] two songs",
        "style": "lofi",
        "title": "A × B",
        "callBackUrl": CALLBACK,
    }


def test_it_is_never_sent_before_its_urls_are_known() -> None:
    with pytest.raises(ValueError, match="uploadUrlList"):
        build_request(MashupRequest, **GOOD).body(CALLBACK)


def test_the_stored_params_keep_the_songs_and_validate_again() -> None:
    request = build_request(MashupRequest, **GOOD, instrumental=True)
    params = request.model_dump(by_alias=True, exclude_none=True)
    assert params["sources"] == ["upload:1", "track:2"] and "uploadUrlList" not in params
    assert MashupRequest.model_validate(params) == request


@pytest.mark.parametrize(
    "sources",
    [["upload:1"], ["upload:1", "track:2", "track:3"], ["upload:1", "https://x.example/a.mp3"], ["a", "b"]],
)
def test_exactly_two_songs_of_ours(sources: list[str]) -> None:
    assert problems(sources=sources) == [("uploadUrlList", "invalid", None)]


def test_the_same_song_twice_is_refused() -> None:
    assert problems(sources=["track:2", "track:2"])[0][0] == "uploadUrlList"


@pytest.mark.parametrize("urls", [[URLS[0]], [URLS[0], "ftp://x.example/b"], [URLS[0], "file:///etc/passwd"]])
def test_the_urls_are_two_http_links(urls: list[str]) -> None:
    assert problems(upload_url_list=urls) == [("uploadUrlList", "invalid", None)]


@pytest.mark.parametrize("field", ["prompt", "style", "title"])
def test_prompt_style_and_title_are_required(field: str) -> None:
    assert problems(**{field: "  "}) == [(field, "required", None)]


@pytest.mark.parametrize(
    ("model", "prompt", "style"), [("V4", 3000, 200), ("V4_5", 5000, 1000), ("V6", 5000, 1000)]
)
def test_limits_per_model_and_a_title_of_80_for_all(model: str, prompt: int, style: int) -> None:
    build_request(MashupRequest, **{**GOOD, "model": model, "prompt": "p" * prompt, "style": "s" * style})
    assert problems(model=model, prompt="p" * (prompt + 1)) == [("prompt", "too_long", prompt)]
    assert problems(model=model, style="s" * (style + 1)) == [("style", "too_long", style)]
    assert problems(model=model, title="t" * 81) == [("title", "too_long", 80)]


@pytest.mark.parametrize("model", ["V5_5", "V3_5", "v6", ""])
def test_models_outside_both_enums_are_refused(model: str) -> None:
    assert problems(model=model)[0][:2] == ("model", "one_of")


def test_simple_mode_is_never_sent() -> None:
    assert problems(custom_mode=False) == [("customMode", "invalid", None)]


@pytest.mark.parametrize(
    ("song_model", "first"), [("V4_5", "V4_5"), ("V5", "V5"), ("V5_5", "V5"), ("V4_5PLUS", "V4_5PLUS")]
)
def test_the_song_model_is_tried_first_when_mashup_takes_it(song_model: str, first: str) -> None:
    assert mashup_model(song_model) == first


def test_each_family_falls_back_to_the_other() -> None:
    assert [fallback_model(m) for m in ("V4", "V4_5ALL", "V5", "V6", "V6_MINI")] == [
        "V6",
        "V6",
        "V6",
        "V5",
        "V5",
    ]


def test_tools_under_a_v6_track_work_on_the_newest_song_model() -> None:
    # Extend lists no V6 model (provider-api.md §3.2): V6 would be refused before anything is made.
    assert [track_model(m) for m in ("V4", "V5", "V5_5", "V6", "V6_WILD", "V6_MINI")] == [
        "V4",
        "V5",
        "V5_5",
        "V5_5",
        "V5_5",
        "V5_5",
    ]


@pytest.mark.parametrize(("model", "taken"), [("V5_5", True), ("V6", False), ("V5", False)])
def test_the_emulator_extends_a_v6_track_on_v5_5_only(model: str, taken: bool) -> None:
    body = {"defaultParamFlag": False, "audioId": "a-1", "model": model, "callBackUrl": CALLBACK}
    source = SourceTrack(model="V6", duration=30.0, ready=True)
    if taken:
        assert validate_task_request("extend", body, lambda audio_id: source) == model
    else:
        with pytest.raises(RuleError):
            validate_task_request("extend", body, lambda audio_id: source)


def test_a_refusal_naming_the_model_gives_the_other_family_once() -> None:
    request = build_request(MashupRequest, **GOOD)
    retry = other_model(request, ProviderError(422, "model V4_5 is not supported; use V6"))
    assert isinstance(retry, MashupRequest) and retry.model == "V6" and retry.tried_model == "V4_5"
    assert "triedModel" not in retry.model_dump(by_alias=True, exclude_none=True)
    assert other_model(retry, ProviderError(422, "model V6 is not supported")) is None  # once


@pytest.mark.parametrize(
    "error",
    [
        ProviderError(400, "prompt is too long"),  # not about the model
        ProviderError(400, "model is required"),  # does not name ours
        ProviderError(500, "model V4_5 crashed"),  # not a refusal
        ProviderError(413, "model V4_5: title too long"),
    ],
)
def test_other_refusals_are_not_retried(error: ProviderError) -> None:
    assert other_model(build_request(MashupRequest, **GOOD), error) is None


def test_a_v4_lyric_is_still_valid_on_the_fallback() -> None:
    request = build_request(
        MashupRequest, **{**GOOD, "model": "V4", "prompt": "p" * 3000, "style": "s" * 200}
    )
    assert other_model(request, ProviderError(400, "model V4 is deprecated")) is not None


# ---- the questions (bot/chat/forms.py) -------------------------------------------------------------


def _draft() -> Draft:
    return Draft(
        flow="mashup",
        model="V5_5",
        picks={"track:1": "Rain", "track:2": "Sun", "upload:3": "Demo"},
        pick_styles={"track:1": "lofi", "track:2": "disco"},
    )


def test_pressing_through_the_defaults_builds_a_valid_request() -> None:
    flow, draft = FLOWS["mashup"], _draft()
    choose(flow, draft, 0, 1)  # Sun
    choose(flow, draft, 1, 0)  # Rain: the first is no longer offered
    for step in (2, 3, 4):
        choose(flow, draft, step, 0)
    assert draft.answers == {
        "first": "track:2",
        "second": "track:1",
        "title": "Sun × Rain",
        "style": "disco, lofi",
        "lyrics": INSTRUMENTAL,
    }
    request = flow.build(draft)
    assert isinstance(request, MashupRequest)
    assert (request.model, request.prompt, request.instrumental) == ("V5", INSTRUMENTAL_PROMPT, True)
    assert request.sources == ["track:2", "track:1"]


def test_only_tracks_are_offered_as_buttons_and_never_the_first_twice() -> None:
    flow, draft = FLOWS["mashup"], _draft()
    answer_song(draft, "upload:3")
    labels = [c.label_values(draft)["name"] for c in flow.questions[1].choices(draft)]
    assert labels == ["Rain", "Sun"]
    with pytest.raises(AnswerProblem) as same:
        answer_song(draft, "upload:3")
    assert same.value.key == "mashup.same_song"
    with pytest.raises(AnswerProblem) as typed:
        answer(flow, draft, "demo")
    assert typed.value.key == "mashup.same_song"
    with pytest.raises(AnswerProblem) as unknown:
        answer(flow, draft, "no such song")
    assert unknown.value.key == "mashup.need_song"


def test_two_uploads_get_a_default_style() -> None:
    flow = FLOWS["mashup"]
    draft = Draft(flow="mashup", model="V4_5", picks={"upload:1": "A", "upload:2": "B"})
    answer_song(draft, "upload:1")
    answer_song(draft, "upload:2")
    choose(flow, draft, 2, 0)
    choose(flow, draft, 3, 0)
    assert draft.answers["title"] == "A × B" and draft.answers["style"] == "mashup, seamless blend"


# ---- the emulator's referee (emulators/provider/studio/mashup.py) --------------------------------


def _body(**fields: Any) -> dict[str, Any]:
    body = {"uploadUrlList": URLS, "customMode": True, "model": "V4_5", "callBackUrl": CALLBACK}
    body |= {"prompt": "la", "style": "pop", "title": "T"}
    return {k: v for k, v in (body | fields).items() if v is not None}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"uploadUrlList": URLS[:1]}, "exactly 2"),
        ({"uploadUrlList": [URLS[0], URLS[0]]}, "two different"),
        ({"uploadUrlList": [URLS[0], "not a url"]}, "http(s) URL"),
        ({"model": "V3"}, "model must be one of"),
        ({"customMode": None}, "customMode is required"),
        ({"prompt": None}, "prompt is required"),
        ({"title": "t" * 81, "model": "V4_5ALL"}, "title is too long"),
        ({"style": "s" * 201, "model": "V4"}, "style is too long"),
        ({"lyrics": "la"}, "lyrics is not available on V4_5"),
        ({"variety": 5, "model": "V6"}, "variety must be an integer from 0 to 4"),
        ({"duration": 30}, "duration is not available on V4_5"),
        ({"callBackUrl": None}, "callBackUrl is required"),
    ],
)
def test_the_emulator_refuses_what_the_provider_documents_as_invalid(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(RuleError) as caught:
        emulated.check(_body(**fields), lambda _: None)
    assert message in caught.value.msg


def test_the_emulator_takes_both_revisions() -> None:
    assert emulated.check(_body(title="t" * 100), lambda _: None) == "V4_5"
    newer = _body(model="V6", customMode=None, prompt=None, lyrics="la", variety=2, duration=120)
    assert emulated.check(newer, lambda _: None) == "V6"
