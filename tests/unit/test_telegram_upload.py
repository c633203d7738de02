"""Bot API error answers become the same exceptions python-telegram-bot raises."""

from __future__ import annotations

import datetime as dtm

import pytest
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter

from bot.telegram.upload import error_from


def test_retry_after_comes_from_parameters_whatever_the_status() -> None:
    error = error_from({"ok": False, "error_code": 429, "parameters": {"retry_after": 7}}, 429)
    assert isinstance(error, RetryAfter) and error.retry_after == dtm.timedelta(seconds=7)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, BadRequest), (403, Forbidden), (401, InvalidToken), (404, InvalidToken), (500, NetworkError)],
)
def test_status_codes(status: int, kind: type[Exception]) -> None:
    assert isinstance(error_from({"ok": False, "description": "Bad Request: wrong thumbnail"}, status), kind)


def test_a_body_that_is_not_json_still_gives_an_error() -> None:
    assert isinstance(error_from(None, 502), NetworkError)
