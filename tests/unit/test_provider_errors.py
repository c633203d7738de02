"""Provider errors classified once: what each answer proves about a task-creating request, and its words."""

from __future__ import annotations

import pytest

from bot.i18n import Texts
from bot.provider.errors import (
    CODE_NO_ANSWER,
    CODE_UNCONFIRMED,
    CODE_UNREACHABLE,
    CODE_UNREADABLE,
    Outcome,
    ProviderError,
    ProviderUnavailable,
    envelope_code,
    outcome,
    wording,
)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # Answered before anything is created: the rate limit, call frequency, maintenance.
        (405, Outcome.NOT_MADE),
        (430, Outcome.NOT_MADE),
        (455, Outcome.NOT_MADE),
        (CODE_UNREACHABLE, Outcome.NOT_MADE),
        # The request left and may have created (and charged) a task.
        (500, Outcome.UNKNOWN),
        (CODE_NO_ANSWER, Outcome.UNKNOWN),
        (CODE_UNREADABLE, Outcome.UNKNOWN),
        (502, Outcome.UNKNOWN),
        (777, Outcome.UNKNOWN),
        # Definite refusals: the request, the key, the credits, the upload.
        (400, Outcome.REFUSED),
        (401, Outcome.REFUSED),
        (404, Outcome.REFUSED),
        (413, Outcome.REFUSED),
        (429, Outcome.REFUSED),
        (451, Outcome.REFUSED),
        (422, Outcome.REFUSED),
    ],
)
def test_each_code_has_one_outcome(code: int, expected: Outcome) -> None:
    assert outcome(code) is expected
    assert ProviderError(code, "x").outcome is expected


def test_unreachable_means_nothing_was_made() -> None:
    error = ProviderUnavailable("connection refused")
    assert error.outcome is Outcome.NOT_MADE and error.retryable
    assert wording(error.code) == "error.unreachable"


def test_reads_are_retried_on_what_may_pass_but_never_on_a_refusal_or_a_timeout() -> None:
    assert ProviderError(500, "x").retryable and ProviderError(430, "x").retryable
    assert not ProviderError(429, "x").retryable and not ProviderError(400, "x").retryable
    # A timeout already waited the whole budget: the next poll asks again instead.
    assert not ProviderError(CODE_NO_ANSWER, "x").retryable


@pytest.mark.parametrize("ours", [CODE_NO_ANSWER, CODE_UNREACHABLE, CODE_UNCONFIRMED, CODE_UNREADABLE])
def test_an_envelope_code_never_passes_for_one_of_ours(ours: int) -> None:
    # An undocumented envelope code 503 must not read as "nothing reached the provider, retry".
    assert envelope_code(ours) == 500
    assert envelope_code(430) == 430 and envelope_code(200) == 200


def test_one_wording_per_situation_and_every_key_exists() -> None:
    assert wording(405) == wording(430) == "error.busy"
    assert wording(CODE_NO_ANSWER) == wording(CODE_UNREADABLE) == wording(CODE_UNREACHABLE)
    assert wording(400, upload=True) == "error.upload_400" and wording(400) == "error.400"
    assert wording(None) == wording(12345) == "error.unknown"
    for language in ("en", "ru"):
        texts = Texts(language)
        for code in (400, 401, 404, 405, 408, 413, 429, 430, 451, 455, 500, 501, 531, 1001, 1002, 1003):
            assert texts.has(wording(code)), (language, code)
        for code in (CODE_NO_ANSWER, CODE_UNREADABLE, CODE_UNCONFIRMED):
            assert texts.has(wording(code)), (language, code)
