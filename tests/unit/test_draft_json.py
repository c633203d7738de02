"""A Draft as stored JSON: every open question of every flow round-trips; anything else is refused."""

from __future__ import annotations

import copy
import json
from dataclasses import fields
from typing import Any

import pytest

from bot.chat.draft_json import (
    StoredDraftInvalid,
    answer_from_json,
    answer_to_json,
    draft_from_json,
    draft_to_json,
)
from bot.chat.forms import FLOWS, INSTRUMENTAL, Draft, answer, choose, current_question

TYPED = {"continue_at": "1:05", "model": "v5", "lyrics": "la la la", "prompt": "rain on a tin roof"}
TYPED |= {"voice": "alto", "window": "0:05-0:35"}  # the studio's (bot/studio/persona.py)
TYPED |= {"first": "rain", "second": "Sun"}  # a mashup's two songs, by name (bot/studio/mashup.py)


def new_draft(flow: str) -> Draft:
    return Draft(
        flow=flow,
        model="V4_5PLUS",
        upload_id=None if flow in ("generate", "custom", "extend") else 7,
        duration=95.5 if flow not in ("generate", "custom") else None,
        default_title="take" if flow != "generate" else "",
        audio_id="audio-1" if flow == "extend" else None,
        default_style="rock" if flow == "extend" else "",
        task_id="task-1" if flow == "persona" else None,
        voices={"persona-1": "Alto"} if flow.endswith("_voice") else {},
        picks={"track:1": "Rain", "track:2": "Sun"} if flow == "mashup" else {},
        pick_styles={"track:1": "lofi", "track:2": ""} if flow == "mashup" else {},
    )


def open_drafts(flow_name: str, *, buttons: bool) -> list[Draft]:
    """Every draft a person can leave open on the way through a flow: each one a restart may find."""
    flow = FLOWS[flow_name]
    draft = new_draft(flow_name)
    found = []
    while (question := current_question(flow, draft)) is not None:
        found.append(copy.deepcopy(draft))
        if buttons and question.choices(draft):
            choose(flow, draft, draft.step, 0)
        else:
            answer(flow, draft, TYPED.get(question.name, "some text"))
    return found


def stored(draft: Draft) -> object:
    # As PTB hands it over (deep-copied) and as it comes back from the database (JSON text).
    return json.loads(json.dumps(draft_to_json(copy.deepcopy(draft)), allow_nan=False))


@pytest.mark.parametrize("buttons", [True, False], ids=["buttons", "typed"])
@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_every_open_question_round_trips(flow: str, buttons: bool) -> None:
    drafts = open_drafts(flow, buttons=buttons)
    assert len(drafts) == len(FLOWS[flow].questions)
    for draft in drafts:
        assert draft_from_json(stored(draft)) == draft


def test_every_field_of_a_draft_is_written() -> None:
    # A field added to Draft but not to draft_json would silently come back as its default.
    written = draft_to_json(new_draft("extend"))
    assert set(written) - {"format"} == {f.name for f in fields(Draft)}


def test_instrumental_survives_ptbs_deep_copy_and_json() -> None:
    draft = new_draft("custom")
    draft.answers = {"title": "Night Drive", "style": "synthwave", "lyrics": INSTRUMENTAL}
    encoded = json.loads(json.dumps(draft_to_json(copy.deepcopy(draft))))
    assert encoded["answers"]["lyrics"] == {"special": "instrumental"}
    assert answer_from_json("lyrics", encoded["answers"]["lyrics"]) is INSTRUMENTAL
    assert answer_from_json("lyrics", "instrumental") == "instrumental"  # typed text stays text


def test_an_answer_with_no_json_form_is_refused_when_written() -> None:
    with pytest.raises(TypeError, match="'when'"):
        answer_to_json("when", object())
    with pytest.raises(TypeError):
        answer_to_json("continue_at", float("nan"))


def valid() -> dict[str, Any]:
    draft = new_draft("custom")
    answer(FLOWS["custom"], draft, "Night Drive")
    return draft_to_json(draft)


def changed(**values: object) -> dict[str, Any]:
    value = valid()
    value.update(values)
    return value


def without(name: str) -> dict[str, Any]:
    value = valid()
    del value[name]
    return value


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("not an object", id="not-object"),
        pytest.param(changed(format=2), id="newer-format"),
        pytest.param(without("format"), id="no-format"),
        pytest.param(without("default_style"), id="missing-field"),
        pytest.param(changed(mood="happy"), id="unknown-field"),
        pytest.param(changed(flow="remix"), id="unknown-flow"),
        pytest.param(changed(step=3), id="finished"),
        pytest.param(changed(step=-1), id="negative-step"),
        pytest.param(changed(step="1"), id="step-text"),
        pytest.param(changed(step=True), id="step-bool"),
        pytest.param(changed(answers={}), id="answers-short"),
        pytest.param(changed(answers={"style": "pop"}), id="answers-renamed"),
        pytest.param(changed(answers=["Night Drive"]), id="answers-list"),
        pytest.param(changed(answers={"title": ["Night Drive"]}), id="answer-list"),
        pytest.param(changed(answers={"title": {"special": "other"}}), id="answer-unknown-special"),
        pytest.param(changed(model=5), id="model-number"),
        pytest.param(changed(upload_id="7"), id="upload-id-text"),
        pytest.param(changed(duration="95"), id="duration-text"),
        pytest.param(changed(audio_id=1), id="audio-id-number"),
    ],
)
def test_a_stored_draft_that_does_not_fit_is_refused(value: object) -> None:
    with pytest.raises(StoredDraftInvalid):
        draft_from_json(value)


def test_whole_numbers_read_back_as_seconds() -> None:
    # json writes 95.0 as 95.0, but another writer (or a hand-edited row) may give 95.
    draft = draft_from_json(changed(duration=95))
    assert draft.duration == 95.0 and isinstance(draft.duration, float)


def test_a_style_waiting_to_be_boosted_survives_a_restart_and_old_drafts_wait_for_none() -> None:
    draft = new_draft("custom")
    draft.answers, draft.step, draft.boost = {"title": "Night Drive"}, 1, True
    assert draft_from_json(stored(draft)).boost is True
    older = stored(draft)
    assert isinstance(older, dict)
    del older["boost"]  # written before "Improve this style" existed
    assert draft_from_json(older).boost is False


def test_the_lyrics_a_section_is_replaced_in_survive_a_restart_and_old_drafts_have_none() -> None:
    draft = new_draft("replace")
    draft.source_lyrics = "[Verse]\nold words"
    draft.answers, draft.step = {"window": "10-25"}, 1
    assert draft_from_json(stored(draft)).source_lyrics == "[Verse]\nold words"
    older = stored(draft)
    assert isinstance(older, dict)
    del older["source_lyrics"]  # written before Replace a section existed
    assert draft_from_json(older).source_lyrics == ""
