"""`python -m bot run` as an operator starts it: a start that cannot work stops with one line naming what
to fix (exit 2), before any "started", with no traceback and no "Unclosed" noise; a provider that cannot
be reached is one warning, and the bot runs."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulators.harness import EMULATOR_API_KEY, EMULATOR_BOT_TOKEN, free_port
from emulators.telegram.server import TelegramEmulator

CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens there on a test machine
START_TIMEOUT = 60.0


def environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A complete configuration whose servers are all unreachable; each test changes what it is about."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV")}
    data_dir = tmp_path / "bot-data"
    return {
        **keep,
        "TELEGRAM_BOT_TOKEN": EMULATOR_BOT_TOKEN,
        "TELEGRAM_API_URL": CLOSED,
        "SUNO_API_KEY": EMULATOR_API_KEY,
        "SUNO_API_URL": CLOSED,
        "SUNO_UPLOAD_URL": CLOSED,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "DATABASE_PATH": str(data_dir / "bot.sqlite3"),
        "DATA_DIR": str(data_dir),
        **overrides,
    }


async def bot_process(tmp_path: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`python -m bot run` started with only these variables, its output (both streams) on stdout."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,  # no .env here: only the variables given
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def run_bot(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run `python -m bot run` to its end; its exit code and everything it printed."""
    process = await bot_process(tmp_path, env)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=START_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, output.decode()


def assert_one_line_naming(output: str, *words: str) -> str:
    """The whole output is one line (nothing started, nothing logged) and it names what to fix."""
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    for word in words:
        assert word in lines[0], output
    return lines[0]


def assert_clean(output: str) -> None:
    assert "Traceback" not in output, output
    assert "Unclosed" not in output, output
    assert "started" not in output, output


@pytest.fixture
def unwritable_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder this user cannot create files in. Permission bits do not stop root, so as root a folder of
    sysfs (which refuses new files to everyone) stands in."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    candidates = [folder / "data", Path("/sys/bot-data")]
    try:
        for candidate in candidates:
            try:
                with tempfile.NamedTemporaryFile(dir=candidate.parent):
                    pass
            except OSError:
                yield candidate
                return
        pytest.skip("no folder on this machine refuses new files to this user")
    finally:
        folder.chmod(0o755)


async def test_an_unwritable_data_dir_is_one_line_naming_it(tmp_path: Path, unwritable_folder: Path) -> None:
    code, output = await run_bot(tmp_path, environment(tmp_path, DATA_DIR=str(unwritable_folder)))

    assert code == 2, output
    line = assert_one_line_naming(output, "DATA_DIR", str(unwritable_folder), "cannot write")
    assert "DATABASE_PATH" not in line
    assert_clean(output)


async def test_an_unwritable_database_folder_is_one_line_naming_database_path(
    tmp_path: Path, unwritable_folder: Path
) -> None:
    database = unwritable_folder / "bot.sqlite3"
    code, output = await run_bot(tmp_path, environment(tmp_path, DATABASE_PATH=str(database)))

    assert code == 2, output
    assert_one_line_naming(output, "DATABASE_PATH", "cannot write")
    assert_clean(output)


async def test_a_folder_as_database_is_one_line_naming_database_path(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    code, output = await run_bot(tmp_path, environment(tmp_path, DATABASE_PATH=str(folder)))

    assert code == 2, output
    line = assert_one_line_naming(output, f"DATABASE_PATH={folder}", "is a folder")
    assert str(folder / "bot.sqlite3") in line  # what to put instead
    assert_clean(output)


async def test_a_database_under_a_file_names_database_path_not_the_port(tmp_path: Path) -> None:
    code, output = await run_bot(tmp_path, environment(tmp_path, DATABASE_PATH="/dev/null/x/bot.sqlite3"))

    assert code == 2, output
    line = assert_one_line_naming(
        output, "DATABASE_PATH=/dev/null/x/bot.sqlite3", "/dev/null is not a folder"
    )
    assert "PORT" not in line
    assert_clean(output)


async def test_a_busy_port_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        code, output = await run_bot(tmp_path, environment(tmp_path, PORT=str(port)))

    assert code == 2, output
    assert_one_line_naming(output, f"PORT={port}", "another program already listens")
    assert_clean(output)
    assert not (tmp_path / "bot-data").exists()  # it stopped before opening anything


@pytest.mark.parametrize(
    ("public_url", "words"),
    [
        ("http://bot.example.com", ("https://",)),
        ("https://bot.example.com/", ("trailing slash", "PUBLIC_URL=https://bot.example.com")),
        ("https://bot.example.com/bot", ("no path", "PUBLIC_URL=https://bot.example.com")),
    ],
)
async def test_a_public_url_telegram_cannot_use_is_one_line_naming_it(
    tmp_path: Path, public_url: str, words: tuple[str, ...]
) -> None:
    code, output = await run_bot(tmp_path, environment(tmp_path, PUBLIC_URL=public_url))

    assert code == 2, output
    assert_one_line_naming(output, "PUBLIC_URL", *words)
    assert_clean(output)


async def test_an_env_copied_unfilled_calls_the_token_empty(tmp_path: Path) -> None:
    code, output = await run_bot(tmp_path, environment(tmp_path, TELEGRAM_BOT_TOKEN=""))

    assert code == 2, output
    assert_one_line_naming(output, "TELEGRAM_BOT_TOKEN is empty", "@BotFather")
    assert_clean(output)


async def test_unreachable_telegram_ends_with_one_line_and_no_unclosed_sessions(tmp_path: Path) -> None:
    code, output = await run_bot(tmp_path, environment(tmp_path))

    assert code == 2, output
    assert output.strip().splitlines()[-1].startswith(f"cannot reach Telegram at TELEGRAM_API_URL {CLOSED}")
    assert_clean(output)


async def test_a_refused_token_ends_with_one_line_and_no_unclosed_sessions(
    tmp_path: Path, telegram: TelegramEmulator
) -> None:
    env = environment(tmp_path, TELEGRAM_API_URL=telegram.url, TELEGRAM_BOT_TOKEN="999:not-this-bots-token")

    code, output = await run_bot(tmp_path, env)

    assert code == 2, output
    assert output.strip().splitlines()[-1].startswith("TELEGRAM_BOT_TOKEN was refused by Telegram")
    assert "not-this-bots-token" not in output
    assert_clean(output)


async def test_an_unreachable_provider_is_one_warning_and_the_bot_runs(
    tmp_path: Path, telegram: TelegramEmulator
) -> None:
    env = environment(tmp_path, TELEGRAM_API_URL=telegram.url)  # polling mode; the provider stays closed
    process = await bot_process(tmp_path, env)
    lines: list[str] = []

    async def read_until_started_and_warned() -> None:
        assert process.stdout is not None
        while not (
            any("listening on" in line for line in lines) and any("WARNING" in line for line in lines)
        ):
            line = await process.stdout.readline()
            if not line:
                raise AssertionError("the bot ended early:\n" + "".join(lines))
            lines.append(line.decode())

    try:
        await asyncio.wait_for(read_until_started_and_warned(), timeout=START_TIMEOUT)
        process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=START_TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    output = "".join(lines) + rest.decode()

    assert process.returncode == 0, output
    warnings = [line for line in output.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, output
    assert f"cannot reach the provider at SUNO_API_URL ({CLOSED})" in warnings[0]
    assert "bot started in polling mode" in output
    assert "Traceback" not in output and "Unclosed" not in output


# ---- DATABASE_URL -----------------------------------------------------------------------------------


async def test_a_malformed_database_url_is_one_line_naming_it(tmp_path: Path) -> None:
    env = environment(tmp_path, DATABASE_URL="mysql://bot:hunter2secret@db/bot")
    code, output = await run_bot(tmp_path, env)
    assert code == 2, output
    assert_one_line_naming(output, "DATABASE_URL", "postgresql://")
    assert "hunter2secret" not in output
    assert_clean(output)


async def test_an_unreachable_database_server_is_one_line_saying_refused(tmp_path: Path) -> None:
    env = environment(tmp_path, DATABASE_URL="postgresql://bot:hunter2secret@127.0.0.1:9/bot")
    code, output = await run_bot(tmp_path, env)
    assert code == 2, output
    assert_one_line_naming(output, "DATABASE_URL", "refused")
    assert "hunter2secret" not in output
    assert_clean(output)


async def test_a_missing_database_is_one_line_saying_so(tmp_path: Path, postgres_server: Any) -> None:
    if isinstance(postgres_server, str):
        pytest.skip(f"PostgreSQL unavailable: {postgres_server}")
    env = environment(tmp_path, DATABASE_URL=postgres_server.url("no_such_database"))
    code, output = await run_bot(tmp_path, env)
    assert code == 2, output
    assert_one_line_naming(output, "DATABASE_URL", "does not exist")
    assert_clean(output)
