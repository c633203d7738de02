"""Logs: one JSON object per line when asked, and never a token or key, whatever the message holds."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import pytest

from bot.ops.logging_setup import JsonFormatter, RedactSecrets, setup_logging

TOKEN = "123456:SECRET-part-of-the-token"
KEY = "sk-provider-key-0000"


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("bot.test", logging.INFO, __file__, 1, message, args, None)


def test_secrets_are_masked_in_the_final_message_including_arguments() -> None:
    entry = record("POST https://api.telegram.org/bot%s/sendMessage with key %s", TOKEN, KEY)
    assert RedactSecrets([TOKEN, KEY]).filter(entry)
    assert entry.getMessage() == "POST https://api.telegram.org/bot***/sendMessage with key ***"


def test_json_lines_carry_level_logger_message_and_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        entry = logging.LogRecord("bot.x", logging.ERROR, __file__, 1, "task %s failed", (7,), sys.exc_info())
    line = JsonFormatter().format(entry)
    data = json.loads(line)
    assert data["level"] == "ERROR" and data["logger"] == "bot.x" and data["message"] == "task 7 failed"
    assert "ValueError: boom" in data["exception"] and "\n" not in line


@pytest.fixture
def root_logging() -> Iterator[None]:
    """setup_logging configures the process's root logger: put it back for the other tests."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("root_logging")
def test_setup_logging_json_masks_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", "json", secrets=[TOKEN])
    logging.getLogger("bot.test").info("token is %s", TOKEN)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert json.loads(line)["message"] == "token is ***"


@pytest.mark.usefixtures("root_logging")
def test_debug_level_leaves_out_the_database_threads_call_log() -> None:
    setup_logging("DEBUG", "text")
    assert logging.getLogger("bot").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("aiosqlite").isEnabledFor(logging.DEBUG)
