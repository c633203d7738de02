"""Logs: one JSON object per line when asked, and never a token or key, whatever the message holds."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from bot.ops.logging_setup import JsonFormatter, RedactSecrets, mask_secrets, setup_logging
from bot.web.signing import Signer

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


def _attach(caplog: pytest.LogCaptureFixture) -> io.StringIO:
    """The root handler's output in a buffer, and caplog's handler back beside it (setup replaces all)."""
    buffer = io.StringIO()
    root = logging.getLogger()
    root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    root.addHandler(caplog.handler)
    return buffer


@pytest.mark.usefixtures("root_logging")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_tracebacks_are_masked_for_every_handler(fmt: str, caplog: pytest.LogCaptureFixture) -> None:
    setup_logging("DEBUG", fmt, secrets=[TOKEN, KEY])
    buffer = _attach(caplog)
    try:
        raise ConnectionError(f"cannot reach https://api.telegram.org/bot{TOKEN}/getMe (key {KEY})")
    except ConnectionError:
        logging.getLogger("bot.test").exception("request failed")
    logs = buffer.getvalue() + caplog.text + "".join(r.getMessage() + str(r.exc_text) for r in caplog.records)
    assert "ConnectionError" in logs and "request failed" in logs  # the traceback is there, masked
    for secret in (TOKEN, TOKEN.split(":")[1], KEY):
        assert secret not in logs


@pytest.mark.usefixtures("root_logging")
def test_secrets_learnt_at_run_time_are_masked_from_then_on(caplog: pytest.LogCaptureFixture) -> None:
    setup_logging("DEBUG", "text")
    buffer = _attach(caplog)
    generated = "generated-master-secret-0123456789abcdef"
    mask_secrets(generated)
    logging.getLogger("telegram.ext.ExtBot").debug("parameters {'secret_token': '%s'}", generated)
    logging.getLogger("bot.test").info("as JSON %s, in a URL %s", json.dumps({"s": generated}), generated)
    logs = buffer.getvalue() + caplog.text
    assert "secret_token" in logs and generated not in logs


@pytest.mark.usefixtures("root_logging")
def test_signed_tokens_keep_only_their_id(caplog: pytest.LogCaptureFixture) -> None:
    setup_logging("DEBUG", "text")
    buffer = _attach(caplog)
    signer = Signer("s" * 32)
    callback, file = signer.callback_token(42), signer.file_token(7, now=1_700_000_000)
    log = logging.getLogger("aiohttp.access")
    log.warning('"POST /callbacks/%s HTTP/1.1" 500', callback)
    log.warning('"GET /files/%s HTTP/1.1" 403', file)
    logs = buffer.getvalue() + caplog.text
    assert callback not in logs and file not in logs
    assert "/callbacks/42.***" in logs and "/files/7.1700003600.***" in logs
    for token in (callback, file):
        assert token.rsplit(".", 1)[1] not in logs


def test_a_broken_format_string_is_left_for_logging_to_report() -> None:
    entry = record("%s and %s", "only one")
    assert RedactSecrets([TOKEN]).filter(entry)  # does not raise here
    with pytest.raises(TypeError):
        entry.getMessage()
