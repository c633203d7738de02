"""Request models: every documented rule of provider-api.md §2-§3 is enforced before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from bot.provider.models import (
    AddInstrumentalRequest,
    AddVocalsRequest,
    ExtendRequest,
    GenerateRequest,
    InvalidRequest,
    ProviderRequest,
    UploadCoverRequest,
    UploadExtendRequest,
    build_request,
    limits_for,
)

CALLBACK = "https://bot.example.com/callbacks/1.abc"
UPLOAD = "https://files.example.com/u/song.mp3"


def problems(cls: type[ProviderRequest], **fields: Any) -> list[tuple[str, str, Any]]:
    with pytest.raises(InvalidRequest) as caught:
        build_request(cls, **fields)
    return [(p.field, p.kind, p.limit) for p in caught.value.problems]


def simple(**fields: Any) -> dict[str, Any]:
    return {"custom_mode": False, "model": "V4_5", "prompt": "a calm lo-fi song about rain", **fields}


def custom(**fields: Any) -> dict[str, Any]:
    return {
        "custom_mode": True,
        "instrumental": False,
        "model": "V4_5",
        "prompt": "[Verse] rain on the window",
        "style": "lo-fi",
        "title": "Rain",
        **fields,
    }


# ---- generate: simple mode -------------------------------------------------------------------------


def test_simple_prompt_of_500_characters_is_accepted() -> None:
    request = build_request(GenerateRequest, **simple(prompt="x" * 500))
    assert request.prompt == "x" * 500


def test_simple_prompt_over_500_is_refused_with_the_limit() -> None:
    assert problems(GenerateRequest, **simple(prompt="x" * 501)) == [("prompt", "too_long", 500)]


def test_simple_prompt_limit_is_500_whatever_the_model() -> None:
    # V4_5 allows 5000 characters of lyrics in custom mode; simple mode stays at 500.
    for model in ("V4", "V4_5", "V5", "V5_5"):
        assert problems(GenerateRequest, **simple(model=model, prompt="x" * 501))[0][1] == "too_long"


@pytest.mark.parametrize("prompt", [None, "", "   "])
def test_simple_prompt_is_required(prompt: str | None) -> None:
    assert problems(GenerateRequest, **simple(prompt=prompt)) == [("prompt", "required", None)]


@pytest.mark.parametrize("extra", [{"style": "rock"}, {"title": "Song"}])
def test_simple_mode_takes_no_style_or_title(extra: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        GenerateRequest(**simple(**extra))


# ---- generate: custom mode -------------------------------------------------------------------------


def test_custom_with_vocals_needs_style_title_and_lyrics() -> None:
    assert problems(GenerateRequest, **custom(style=None)) == [("style", "required", None)]
    assert problems(GenerateRequest, **custom(title="  ")) == [("title", "required", None)]
    assert problems(GenerateRequest, **custom(prompt=None)) == [("prompt", "required", None)]


def test_custom_instrumental_needs_no_lyrics_but_style_and_title() -> None:
    request = build_request(GenerateRequest, **custom(instrumental=True, prompt=None))
    assert "prompt" not in request.body(CALLBACK)
    assert problems(GenerateRequest, **custom(instrumental=True, prompt=None, style="")) == [
        ("style", "required", None)
    ]
    assert problems(GenerateRequest, **custom(instrumental=True, prompt=None, title=None)) == [
        ("title", "required", None)
    ]


@pytest.mark.parametrize(
    ("model", "prompt", "style", "title"),
    [
        ("V4", 3000, 200, 80),
        ("V4_5", 5000, 1000, 80),
        ("V4_5PLUS", 5000, 1000, 80),
        ("V4_5ALL", 5000, 1000, 80),
        ("V5", 5000, 1000, 80),
        ("V5_5", 5000, 1000, 80),
    ],
)
def test_custom_limits_per_model(model: str, prompt: int, style: int, title: int) -> None:
    at_limit = custom(model=model, prompt="p" * prompt, style="s" * style, title="t" * title)
    build_request(GenerateRequest, **at_limit)
    assert problems(GenerateRequest, **custom(model=model, prompt="p" * (prompt + 1))) == [
        ("prompt", "too_long", prompt)
    ]
    assert problems(GenerateRequest, **custom(model=model, style="s" * (style + 1))) == [
        ("style", "too_long", style)
    ]
    assert problems(GenerateRequest, **custom(model=model, title="t" * (title + 1))) == [
        ("title", "too_long", title)
    ]


def test_v4_style_is_200_characters() -> None:
    assert limits_for("V4").style == 200
    build_request(GenerateRequest, **custom(model="V4", style="s" * 200))
    assert problems(GenerateRequest, **custom(model="V4", style="s" * 201)) == [("style", "too_long", 200)]
    # The same style is fine on V4_5.
    build_request(GenerateRequest, **custom(model="V4_5", style="s" * 201))


def test_title_is_at_most_80_on_every_model() -> None:
    for model in ("V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5"):
        assert limits_for(model).title <= 80
        assert problems(GenerateRequest, **custom(model=model, title="t" * 81))[0][:2] == (
            "title",
            "too_long",
        )


@pytest.mark.parametrize("model", ["V4.5", "V3_5", "chirp-v3-5", "v5", ""])
def test_unknown_models_are_refused(model: str) -> None:
    with pytest.raises(ValidationError):
        GenerateRequest(**simple(model=model))


# ---- tuning fields ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["style_weight", "weirdness_constraint", "audio_weight"])
@pytest.mark.parametrize("value", [0, 0.01, 0.29, 0.5, 0.57, 1])
def test_weights_between_0_and_1_are_accepted(field: str, value: float) -> None:
    request = GenerateRequest(**simple(**{field: value}))
    assert getattr(request, field) == value


@pytest.mark.parametrize("field", ["style_weight", "weirdness_constraint", "audio_weight"])
@pytest.mark.parametrize("value", [-0.01, 1.01, 2, 0.555])
def test_weights_outside_0_to_1_or_finer_than_a_hundredth_are_refused(field: str, value: float) -> None:
    with pytest.raises(ValidationError):
        GenerateRequest(**simple(**{field: value}))


def test_vocal_gender_is_m_or_f() -> None:
    assert GenerateRequest(**simple(vocal_gender="f")).vocal_gender == "f"
    with pytest.raises(ValidationError):
        GenerateRequest(**simple(vocal_gender="male"))


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        GenerateRequest(**simple(colour="blue"))


# ---- body ------------------------------------------------------------------------------------------


def test_body_is_camel_case_with_callback_and_no_none_values() -> None:
    request = GenerateRequest(
        **custom(negative_tags="metal", vocal_gender="m", style_weight=0.65, weirdness_constraint=0.2)
    )
    body = request.body(CALLBACK)
    assert body == {
        "customMode": True,
        "instrumental": False,
        "model": "V4_5",
        "prompt": "[Verse] rain on the window",
        "style": "lo-fi",
        "title": "Rain",
        "negativeTags": "metal",
        "vocalGender": "m",
        "styleWeight": 0.65,
        "weirdnessConstraint": 0.2,
        "callBackUrl": CALLBACK,
    }
    assert None not in body.values()


def test_simple_body_sends_only_what_simple_mode_needs() -> None:
    body = GenerateRequest(**simple()).body(CALLBACK)
    assert body == {
        "customMode": False,
        "instrumental": False,
        "model": "V4_5",
        "prompt": "a calm lo-fi song about rain",
        "callBackUrl": CALLBACK,
    }


def test_requests_are_immutable_and_accept_wire_names() -> None:
    request = GenerateRequest.model_validate(
        {"customMode": False, "model": "V5", "prompt": "x", "styleWeight": 0.3}
    )
    assert request.custom_mode is False and request.style_weight == 0.3
    with pytest.raises(ValidationError):
        request.prompt = "y"  # type: ignore[misc]


def test_stored_params_round_trip() -> None:
    # The task service stores model_dump(by_alias=True, exclude_none=True) and revalidates it at submit.
    request = GenerateRequest(**custom(style_weight=0.4))
    params = request.model_dump(by_alias=True, exclude_none=True)
    assert GenerateRequest.model_validate(params) == request


# ---- extend ----------------------------------------------------------------------------------------


def extend(**fields: Any) -> dict[str, Any]:
    return {
        "default_param_flag": True,
        "audio_id": "a1b2",
        "model": "V4_5",
        "prompt": "[Verse] more rain",
        "style": "lo-fi",
        "title": "Rain II",
        "continue_at": 60,
        "source_duration": 120.0,
        **fields,
    }


def test_extend_with_own_parameters() -> None:
    request = build_request(ExtendRequest, **extend())
    body = request.body(CALLBACK)
    assert body["defaultParamFlag"] is True and body["audioId"] == "a1b2" and body["continueAt"] == 60
    assert "sourceDuration" not in body and "source_duration" not in body


@pytest.mark.parametrize("continue_at", [0, -5, 120, 121])
def test_extend_continue_at_must_be_inside_the_track(continue_at: float) -> None:
    found = problems(ExtendRequest, **extend(continue_at=continue_at))
    assert found == [("continueAt", "continue_at", 120)]


def test_extend_continue_at_just_inside_the_track() -> None:
    build_request(ExtendRequest, **extend(continue_at=0.5))
    build_request(ExtendRequest, **extend(continue_at=119.5))


def test_extend_continue_at_is_required_with_own_parameters() -> None:
    assert problems(ExtendRequest, **extend(continue_at=None)) == [("continueAt", "required", None)]


def test_extend_with_own_parameters_follows_custom_limits() -> None:
    assert problems(ExtendRequest, **extend(model="V4", style="s" * 201)) == [("style", "too_long", 200)]
    assert problems(ExtendRequest, **extend(title=None)) == [("title", "required", None)]


def test_extend_with_inherited_parameters_needs_only_the_audio_id() -> None:
    request = build_request(ExtendRequest, default_param_flag=False, audio_id="a1b2", model="V5")
    assert request.body(CALLBACK) == {
        "defaultParamFlag": False,
        "audioId": "a1b2",
        "model": "V5",
        "callBackUrl": CALLBACK,
    }
    assert problems(ExtendRequest, default_param_flag=False, audio_id="", model="V5")[0][0] == "audioId"


# ---- upload cover / upload extend ------------------------------------------------------------------


def test_upload_cover_simple_and_custom() -> None:
    simple_cover = UploadCoverRequest(custom_mode=False, model="V4_5", prompt="jazzier", upload_url=UPLOAD)
    assert simple_cover.body(CALLBACK)["uploadUrl"] == UPLOAD
    assert problems(UploadCoverRequest, custom_mode=False, model="V4_5", prompt="x" * 501) == [
        ("prompt", "too_long", 500)
    ]
    assert problems(UploadCoverRequest, custom_mode=True, model="V4_5", prompt="la", title="T") == [
        ("style", "required", None)
    ]


def test_upload_url_must_be_http() -> None:
    with pytest.raises(ValidationError):
        UploadCoverRequest(custom_mode=False, model="V4_5", prompt="x", upload_url="file:///etc/passwd")


def test_upload_requests_cannot_be_sent_without_their_upload_url() -> None:
    request = build_request(UploadCoverRequest, custom_mode=False, model="V4_5", prompt="jazzier")
    with pytest.raises(ValueError, match="uploadUrl"):
        request.body(CALLBACK)
    ready = request.model_copy(update={"upload_url": UPLOAD})
    assert ready.body(CALLBACK)["uploadUrl"] == UPLOAD


def test_upload_extend_rules() -> None:
    base = {"upload_url": UPLOAD, "model": "V4_5", "instrumental": True}
    request = build_request(
        UploadExtendRequest,
        **base,
        default_param_flag=True,
        style="rock",
        title="More",
        continue_at=10,
        source_duration=30,
    )
    body = request.body(CALLBACK)
    assert body["defaultParamFlag"] is True and body["instrumental"] is True and body["continueAt"] == 10
    assert "sourceDuration" not in body
    at_the_end = {"default_param_flag": True, "style": "rock", "title": "More", "continue_at": 30}
    assert problems(UploadExtendRequest, **base, **at_the_end, source_duration=30) == [
        ("continueAt", "continue_at", 30)
    ]
    # Without own parameters a prompt is still sent (the guide and the schema disagree; we send both).
    assert problems(UploadExtendRequest, **base, default_param_flag=False) == [("prompt", "required", None)]
    build_request(UploadExtendRequest, **base, default_param_flag=False, prompt="keep going")


# ---- add vocals / add instrumental -----------------------------------------------------------------


def vocals(**fields: Any) -> dict[str, Any]:
    return {
        "upload_url": UPLOAD,
        "prompt": "[Verse] la la",
        "title": "With vocals",
        "style": "pop",
        "negative_tags": "metal",
        **fields,
    }


def test_add_vocals_required_fields() -> None:
    body = build_request(AddVocalsRequest, **vocals()).body(CALLBACK)
    assert body["model"] == "V4_5PLUS"
    assert {"uploadUrl", "prompt", "title", "style", "negativeTags", "callBackUrl"} <= body.keys()
    for field, wire in (("prompt", "prompt"), ("title", "title"), ("style", "style")):
        assert problems(AddVocalsRequest, **vocals(**{field: " "})) == [(wire, "required", None)]
    assert problems(AddVocalsRequest, **vocals(negative_tags=""))[0][:2] == ("negativeTags", "required")
    missing = vocals()
    del missing["negative_tags"]
    assert problems(AddVocalsRequest, **missing)[0][:2] == ("negativeTags", "required")


def test_add_vocals_title_up_to_100() -> None:
    build_request(AddVocalsRequest, **vocals(title="t" * 100))
    assert problems(AddVocalsRequest, **vocals(title="t" * 101)) == [("title", "too_long", 100)]


def test_add_vocals_models() -> None:
    for model in ("V4_5PLUS", "V5", "V5_5"):
        build_request(AddVocalsRequest, **vocals(model=model))
    with pytest.raises(InvalidRequest):
        build_request(AddVocalsRequest, **vocals(model="V4_5"))


def instrumental(**fields: Any) -> dict[str, Any]:
    return {"upload_url": UPLOAD, "title": "Backing", "tags": "acoustic", "negative_tags": "drums", **fields}


def test_add_instrumental_sends_tags_not_style() -> None:
    body = build_request(AddInstrumentalRequest, **instrumental()).body(CALLBACK)
    assert body["tags"] == "acoustic"
    assert "style" not in body
    assert body["negativeTags"] == "drums" and body["model"] == "V4_5PLUS"
    with pytest.raises(ValidationError):
        AddInstrumentalRequest(**instrumental(style="acoustic"))


def test_add_instrumental_required_fields_and_title_limit() -> None:
    assert problems(AddInstrumentalRequest, **instrumental(tags="")) == [("tags", "required", None)]
    assert problems(AddInstrumentalRequest, **instrumental(negative_tags=" "))[0][:2] == (
        "negativeTags",
        "required",
    )
    assert problems(AddInstrumentalRequest, **instrumental(title="")) == [("title", "required", None)]
    build_request(AddInstrumentalRequest, **instrumental(title="t" * 100))
    assert problems(AddInstrumentalRequest, **instrumental(title="t" * 101)) == [("title", "too_long", 100)]


@pytest.mark.parametrize(
    ("cls", "endpoint"),
    [
        (GenerateRequest, "/api/v1/generate"),
        (ExtendRequest, "/api/v1/generate/extend"),
        (UploadCoverRequest, "/api/v1/generate/upload-cover"),
        (UploadExtendRequest, "/api/v1/generate/upload-extend"),
        (AddVocalsRequest, "/api/v1/generate/add-vocals"),
        (AddInstrumentalRequest, "/api/v1/generate/add-instrumental"),
    ],
)
def test_endpoints(cls: type[ProviderRequest], endpoint: str) -> None:
    assert cls.endpoint == endpoint
