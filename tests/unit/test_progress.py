"""The progress message: bar, stage, elapsed time, stream link, and a failure wording per provider code."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.chat.progress import (
    CODE_INTERRUPTED,
    CODE_UNREACHABLE,
    failure_text,
    format_elapsed,
    progress_bar,
    render_progress,
)
from bot.i18n import Texts
from bot.provider.models import SENSITIVE_WORD_CODE
from storage.models import Stage, Task, TaskKind

EN = Texts("en")
CREATED = 1_700_000_000.0
STREAM = "https://cdn.example.com/stream/abc"


def task(stage: Stage, **fields: Any) -> Task:
    values: dict[str, Any] = {
        "id": 1,
        "user_id": 1,
        "chat_id": 1,
        "kind": TaskKind.GENERATE,
        "params": {"customMode": False, "model": "V4_5", "prompt": "a calm lo-fi song about rain"},
        "stage": stage,
        "created_at": CREATED,
        "last_event_at": CREATED,
        **fields,
    }
    return Task(**values)


def test_bar_fills_with_the_stages() -> None:
    bars = [progress_bar(s) for s in (Stage.QUEUED, Stage.SUBMITTED, Stage.TEXT, Stage.FIRST, Stage.COMPLETE)]
    filled = [bar.count("▰") for bar in bars]
    assert filled == sorted(filled) and filled[0] == 0 and filled[-1] == 10
    assert len(set(filled)) == 5
    assert all(len(bar) == 10 for bar in bars)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0:00"), (5.9, "0:05"), (65, "1:05"), (3600 + 62, "1:01:02"), (-3, "0:00")]
)
def test_elapsed_format(seconds: float, text: str) -> None:
    assert format_elapsed(seconds) == text


@pytest.mark.parametrize(
    ("stage", "label"),
    [
        (Stage.QUEUED, "Waiting to start"),
        (Stage.SUBMITTED, "Writing the song"),
        (Stage.TEXT, "Lyrics ready"),
        (Stage.FIRST, "First track ready"),
        (Stage.COMPLETE, "Done!"),
    ],
)
def test_each_stage_has_its_label_and_bar(stage: Stage, label: str) -> None:
    text = render_progress(task(stage), EN, now=CREATED + 75)
    assert label in text
    assert progress_bar(stage) in text
    assert "a calm lo-fi song about rain" in text
    assert "Song from a description" in text
    assert "1:15" in text


def test_stream_link_shown_at_first_only() -> None:
    first = render_progress(task(Stage.FIRST, stream_url=STREAM), EN, now=CREATED)
    assert STREAM in first and "Listen while it finishes" in first
    for stage in (Stage.SUBMITTED, Stage.TEXT, Stage.COMPLETE):
        assert STREAM not in render_progress(task(stage, stream_url=STREAM), EN, now=CREATED)
    assert "Listen" not in render_progress(task(Stage.FIRST), EN, now=CREATED)


def test_elapsed_stops_when_the_task_ends() -> None:
    done = task(Stage.COMPLETE, finished_at=CREATED + 130)
    assert "2:10" in render_progress(done, EN, now=CREATED + 5000)
    assert "2:10" in render_progress(done, EN, now=CREATED + 9000)


def test_complete_counts_the_tracks() -> None:
    assert "2 tracks below" in render_progress(task(Stage.COMPLETE), EN, now=CREATED, track_count=2)


def test_queue_position() -> None:
    assert "place 3 in the queue" in render_progress(task(Stage.QUEUED), EN, now=CREATED, queue_position=3)
    assert "place" not in render_progress(task(Stage.SUBMITTED), EN, now=CREATED, queue_position=3)


def test_long_descriptions_are_shortened() -> None:
    text = render_progress(task(Stage.SUBMITTED, params={"prompt": "word " * 200}), EN, now=CREATED)
    assert "…" in text and len(text) < 400


# ---- failures --------------------------------------------------------------------------------------

CODES = [400, 401, 413, 429, 430, 451, 455, 500, 501, 531, SENSITIVE_WORD_CODE]


@pytest.mark.parametrize("code", CODES)
def test_each_provider_code_has_its_own_wording(code: int) -> None:
    text = failure_text(EN, code)
    assert text and "{" not in text
    assert text != failure_text(EN, 99999)  # not the generic "something went wrong"
    others = {failure_text(EN, other) for other in CODES if other != code}
    assert text not in others


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (429, "credits"),
        (430, "Too many requests"),
        (455, "maintenance"),
        (531, "refunded"),
        (SENSITIVE_WORD_CODE, "words"),
        (413, "too long"),
        (451, "download"),
    ],
)
def test_wording_says_what_happened(code: int, words: str) -> None:
    assert words.lower() in failure_text(EN, code).lower()


def test_our_own_failure_codes() -> None:
    assert "cannot be reached" in failure_text(EN, CODE_UNREACHABLE)
    assert "restart" in failure_text(EN, CODE_INTERRUPTED)
    assert failure_text(EN, 777) == failure_text(EN, None)  # one generic wording, whatever the code


# Codes the person could meet: the provider's, undocumented ones, and ours for lost or unreadable answers.
SHOWN_CODES = [None, 0, 200, 400, 405, 430, 455, 500, 502, 503, 504, 599, 777, 1004, 1005, 99999]


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("code", SHOWN_CODES)
def test_the_person_never_sees_a_code(code: int | None, language: str) -> None:
    text = failure_text(Texts(language), code)
    assert text and "{" not in text
    assert not re.search(r"\d{3}", text), text  # a connection error once showed "code 599"
    assert "?" not in text


def test_busy_is_one_wording_whichever_limit_said_so() -> None:
    assert failure_text(EN, 405) == failure_text(EN, 430)
    assert "try again in a minute" in failure_text(EN, 405)


def test_failed_task_shows_the_failure_and_no_bar() -> None:
    failed = task(Stage.FAILED, error_code=429, finished_at=CREATED + 3)
    text = render_progress(failed, EN, now=CREATED + 100)
    assert "Failed" in text
    assert failure_text(EN, 429) in text
    assert "▰" not in text and "0:03" in text


def test_russian_rendering_uses_the_russian_catalogue() -> None:
    ru = Texts("ru")
    text = render_progress(task(Stage.TEXT), ru, now=CREATED)
    assert ru("stage.text") in text and ru("kind.generate") in text
