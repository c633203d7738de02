"""The question flows without Telegram: order, defaults, limits and the requests they build."""

from __future__ import annotations

import pytest

from bot.chat.forms import (
    DEFAULT_NEGATIVE_TAGS,
    FLOWS,
    AnswerProblem,
    Draft,
    answer,
    choose,
    continue_from_end,
    current_question,
    parse_seconds,
    short_stem_warning,
    upload_length_problem,
)
from bot.provider.models import AddInstrumentalRequest, ExtendRequest, GenerateRequest, UploadCoverRequest


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("90.5", 90.5),
        ("1:30", 90.0),
        ("0:01:30", 90.0),
        ("1,5", 1.5),
        ("abc", None),
        ("1:", None),
    ],
)
def test_parse_seconds(text: str, seconds: float | None) -> None:
    assert parse_seconds(text) == seconds


def test_cover_asks_style_title_lyrics_and_builds_custom_request() -> None:
    flow = FLOWS["cover"]
    draft = Draft(flow="cover", model="V4_5", upload_id=1, duration=30, default_title="My Demo")
    assert current_question(flow, draft).name == "style"
    assert answer(flow, draft, "jazz").name == "title"
    question = choose(flow, draft, step=1, index=0)  # "Use “My Demo”"
    assert question is not None and question.name == "lyrics"
    assert choose(flow, draft, step=2, index=0) is None  # Instrumental: done
    request = flow.build(draft)
    assert isinstance(request, UploadCoverRequest)
    assert (
        request.custom_mode and request.instrumental and request.title == "My Demo" and request.prompt is None
    )


def test_a_typed_answer_over_the_model_limit_is_refused_and_the_question_stays() -> None:
    flow = FLOWS["custom"]
    draft = Draft(flow="custom", model="V4")
    answer(flow, draft, "Title")
    with pytest.raises(AnswerProblem) as problem:
        answer(flow, draft, "s" * 201)  # V4 styles are at most 200 characters
    assert problem.value.key == "problem.too_long" and problem.value.values["limit"] == 200
    assert current_question(flow, draft).name == "style"


def test_title_limit_is_80_for_generate_and_100_for_vocals() -> None:
    with pytest.raises(AnswerProblem):
        answer(FLOWS["custom"], Draft(flow="custom", model="V5"), "t" * 81)
    draft = Draft(flow="vocals", model="V4_5", default_title="")
    answer(FLOWS["vocals"], draft, "la la")
    answer(FLOWS["vocals"], draft, "soul")
    assert answer(FLOWS["vocals"], draft, "t" * 100).name == "negative_tags"


def test_a_button_from_an_earlier_question_is_stale() -> None:
    flow = FLOWS["cover"]
    draft = Draft(flow="cover", model="V4_5", default_title="Demo")
    answer(flow, draft, "rock")
    choose(flow, draft, step=1, index=0)
    with pytest.raises(AnswerProblem, match=r"form\.stale_button"):
        choose(flow, draft, step=1, index=0)


def test_instrumental_flow_sends_tags_and_default_negative_tags() -> None:
    flow = FLOWS["instrumental"]
    draft = Draft(flow="instrumental", model="V4_5", default_title="Vox")
    answer(flow, draft, "piano")
    choose(flow, draft, 1, 0)
    choose(flow, draft, 2, 0)
    assert choose(flow, draft, 3, 1) is None  # V5
    request = flow.build(draft)
    assert isinstance(request, AddInstrumentalRequest)
    assert (
        request.tags == "piano" and request.negative_tags == DEFAULT_NEGATIVE_TAGS and request.model == "V5"
    )


def test_continue_at_must_be_inside_the_track() -> None:
    flow = FLOWS["extend"]
    draft = Draft(flow="extend", model="V4_5", audio_id="a1", duration=120.0, default_title="Song",
                  default_style="pop")  # fmt: skip
    for bad in ("0", "120", "2:00", "-5", "soon"):
        with pytest.raises(AnswerProblem):
            answer(flow, draft, bad)
    answer(flow, draft, "1:50")
    choose(flow, draft, 1, 0)  # Same style
    answer(flow, draft, "[Outro] bye")
    request = flow.build(draft)
    assert isinstance(request, ExtendRequest)
    assert request.continue_at == 110 and request.style == "pop" and request.audio_id == "a1"
    assert 0 < continue_from_end(draft) < 120


def test_generate_flow_checks_the_500_character_description() -> None:
    flow = FLOWS["generate"]
    with pytest.raises(AnswerProblem):
        answer(flow, Draft(flow="generate", model="V4_5"), "x" * 501)
    draft = Draft(flow="generate", model="V4_5")
    answer(flow, draft, "a calm song")
    request = flow.build(draft)
    assert isinstance(request, GenerateRequest) and not request.custom_mode


def test_upload_length_limits_per_task_and_model() -> None:
    assert upload_length_problem(FLOWS["cover"], 8 * 60, "V4_5") is None
    assert upload_length_problem(FLOWS["cover"], 8 * 60 + 1, "V4_5") is not None
    assert upload_length_problem(FLOWS["upload_extend"], 61, "V4_5ALL") is not None
    assert upload_length_problem(FLOWS["vocals"], 30 * 60, "V4_5") is None  # no documented maximum
    assert short_stem_warning(FLOWS["vocals"], 9.5) and not short_stem_warning(FLOWS["cover"], 5)
