"""`python -m bot doctor` against the emulators: what it says, its exit code, and what it never prints."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.ops.doctor import run_doctor
from bot.settings import Settings
from emulators.harness import EMULATOR_API_KEY, EMULATOR_BOT_TOKEN, RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.store import Storage

TOKEN_SECRET = EMULATOR_BOT_TOKEN.partition(":")[2]


async def doctor(settings: Settings) -> tuple[int, list[str]]:
    lines: list[str] = []
    code = await run_doctor(settings, out=lines.append)
    return code, lines


def line_about(lines: list[str], words: str) -> str:
    found = [line for line in lines if words in line]
    assert found, f"no line mentions {words!r}:\n" + "\n".join(lines)
    return found[0]


def assert_no_secrets(lines: list[str], *secrets: str) -> None:
    text = "\n".join(lines)
    for secret in secrets:
        assert secret not in text


async def test_all_checks_pass_when_the_bot_runs(settings: Settings, bot: RunningBot) -> None:
    code, lines = await doctor(settings)

    assert code == 0, "\n".join(lines)
    assert not [line for line in lines if line.startswith("✗")]
    assert line_about(lines, "configuration loaded").startswith("✓")
    assert "webhook mode" in line_about(lines, "configuration loaded")
    assert line_about(lines, "TELEGRAM_BOT_TOKEN works").startswith("✓")
    assert "1000 credits" in line_about(lines, "SUNO_API_KEY works")
    assert line_about(lines, "webhook points at").endswith("updates waiting")
    assert line_about(lines, "PUBLIC_URL reaches the bot").startswith("✓")
    assert line_about(lines, "storage:").startswith("✓")
    # The token shows its bot id only.
    assert "123456:***" in line_about(lines, "configuration loaded")
    assert_no_secrets(lines, TOKEN_SECRET, EMULATOR_API_KEY)


async def test_webhook_mode_without_the_bot_running_fails_on_the_public_url(
    settings: Settings, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    code, lines = await doctor(settings)

    assert code == 1
    public = line_about(lines, "PUBLIC_URL (")
    assert public.startswith("✗ cannot reach PUBLIC_URL")
    assert f"{settings.public_url}/healthz" in public
    webhook = line_about(lines, "no webhook")
    assert webhook.startswith("✗") and "when it starts" in webhook
    # The checks that do not depend on the bot running still pass.
    assert line_about(lines, "TELEGRAM_BOT_TOKEN works").startswith("✓")
    assert line_about(lines, "SUNO_API_KEY works").startswith("✓")
    assert line_about(lines, "storage:").startswith("✓ storage")
    assert_no_secrets(lines, TOKEN_SECRET, EMULATOR_API_KEY)


async def test_polling_mode_skips_the_public_url(make_settings: Callable[..., Settings]) -> None:
    code, lines = await doctor(make_settings(webhook=False))

    assert code == 0, "\n".join(lines)
    assert "polling mode" in line_about(lines, "configuration loaded")
    assert line_about(lines, "no webhook is set").startswith("✓")
    assert line_about(lines, "public URL not checked").startswith("–")


async def test_a_refused_token_names_the_variable_and_never_shows_it(
    make_settings: Callable[..., Settings],
) -> None:
    secret = "wrongSecretPart-1234"
    code, lines = await doctor(make_settings(TELEGRAM_BOT_TOKEN=f"999:{secret}"))

    assert code == 1
    refused = line_about(lines, "TELEGRAM_BOT_TOKEN")
    refused = line_about(lines, "was refused by Telegram")
    assert refused.startswith("✗ TELEGRAM_BOT_TOKEN was refused") and "@BotFather" in refused
    assert line_about(lines, "webhook not checked").startswith("–")
    assert "999:***" in "\n".join(lines)
    assert_no_secrets(lines, secret, EMULATOR_API_KEY)


async def test_a_refused_api_key_names_the_variable_and_never_shows_it(
    make_settings: Callable[..., Settings],
) -> None:
    key = "not-the-right-key-5678"
    code, lines = await doctor(make_settings(SUNO_API_KEY=key))

    assert code == 1
    refused = line_about(lines, "was refused by the provider")
    assert refused.startswith("✗ SUNO_API_KEY")
    assert_no_secrets(lines, key, TOKEN_SECRET)


async def test_an_empty_balance_is_a_warning_not_a_failure(
    make_settings: Callable[..., Settings], provider: ProviderEmulator
) -> None:
    provider.credits = 0
    code, lines = await doctor(make_settings(webhook=False))

    assert code == 0, "\n".join(lines)
    assert line_about(lines, "balance is 0 credits").startswith("!")


async def test_unreachable_servers_are_explained_without_tracebacks(
    make_settings: Callable[..., Settings],
) -> None:
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens there on a test machine
    code, lines = await doctor(
        make_settings(webhook=False, TELEGRAM_API_URL=closed, SUNO_API_URL=closed, SUNO_UPLOAD_URL=closed)
    )

    assert code == 1
    assert line_about(lines, "cannot reach Telegram at TELEGRAM_API_URL").startswith("✗")
    assert line_about(lines, "cannot reach SUNO_API_URL").startswith("✗")
    # Telegram was never reached, so nothing is said about the token.
    assert line_about(lines, "webhook not checked") == "– webhook not checked: cannot reach Telegram"
    assert "did not accept" not in "\n".join(lines) and "refused" not in "\n".join(lines)
    assert "Traceback" not in "\n".join(lines)


async def test_a_port_another_program_holds_fails_and_a_free_one_passes(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(webhook=False)
    code, lines = await doctor(settings)
    assert code == 0, "\n".join(lines)
    assert line_about(lines, "port:").startswith(
        f"✓ port: the bot can listen on HOST:PORT 127.0.0.1:{settings.port}"
    )

    with socket.socket() as other:
        other.bind(("127.0.0.1", settings.port))
        other.listen()
        code, lines = await doctor(settings)

    assert code == 1
    busy = line_about(lines, "port:")
    assert busy.startswith(f"✗ port: PORT={settings.port}: another program already listens"), busy


async def test_the_running_bots_own_port_is_not_a_failure(settings: Settings, bot: RunningBot) -> None:
    code, lines = await doctor(settings)

    assert code == 0, "\n".join(lines)
    assert (
        line_about(lines, "port:")
        == f"✓ port: 127.0.0.1:{settings.port} is the running bot's (its /healthz answers)"
    )


@pytest.mark.sqlite_only
async def test_an_existing_database_is_read_without_being_changed(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(webhook=False)
    store = Storage(settings.database_path)
    await store.open()
    await store.close()
    before = settings.database_path.read_bytes()

    code, lines = await doctor(settings)

    assert code == 0, "\n".join(lines)
    assert "up to date" in line_about(lines, "storage:")
    assert settings.database_path.read_bytes() == before


@pytest.mark.sqlite_only
async def test_a_database_that_is_not_sqlite_fails_with_advice(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(webhook=False)
    settings.database_path.parent.mkdir(parents=True)
    settings.database_path.write_bytes(b"this is not a database, just some bytes" * 100)

    code, lines = await doctor(settings)

    assert code == 1
    assert "restore a backup" in line_about(lines, "cannot be read as a SQLite database")


@pytest.mark.sqlite_only
async def test_a_database_from_a_newer_bot_fails(make_settings: Callable[..., Settings]) -> None:
    import sqlite3

    settings = make_settings(webhook=False)
    settings.database_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(settings.database_path)
    conn.execute("PRAGMA user_version = 999")
    conn.close()

    code, lines = await doctor(settings)

    assert code == 1
    assert "newer bot" in line_about(lines, "storage:")


async def test_a_pack_selling_songs_below_the_providers_price_is_named_in_one_line(
    make_settings: Callable[..., Settings],
) -> None:
    # 10 credits for 50 ⭐ at 2 credits a song: 10 ⭐ a song; 50 for 200 at 2: 8 ⭐; the provider takes 9.
    losing = make_settings(
        webhook=False, STARS_PACKS="10:50,50:200", CREDITS_PER_TASK="2", PROVIDER_STARS_PER_SONG="9"
    )
    code, lines = await doctor(losing)
    assert code == 0, "\n".join(lines)
    line = line_about(lines, "loses money")
    assert line.startswith("!") and "50:200 (8 ⭐ a song)" in line and "10:50" not in line
    for variable in ("STARS_PACKS", "CREDITS_PER_TASK=2", "PROVIDER_STARS_PER_SONG=9"):
        assert variable in line

    for fine in (
        make_settings(webhook=False, STARS_PACKS="10:50,50:200", CREDITS_PER_TASK="2"),
        make_settings(webhook=False, STARS_PACKS="10:50,50:200", PROVIDER_STARS_PER_SONG="3"),
    ):
        assert not [line for line in (await doctor(fine))[1] if "loses money" in line]


async def test_a_postgresql_database_is_checked_without_being_changed(
    make_settings: Callable[..., Settings], backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("the PostgreSQL check")
    settings = make_settings(webhook=False)
    code, lines = await doctor(settings)
    assert code == 0, "\n".join(lines)
    assert "(empty); the bot migrates it" in line_about(lines, "storage:")
    code, lines = await doctor(settings)
    assert "(empty)" in line_about(lines, "storage:")  # checking created nothing
    assert settings.database_url is not None
    store = Storage(settings.database_path, url=settings.database_url.get_secret_value())
    await store.open()
    await store.close()
    code, lines = await doctor(settings)
    assert "answers and is up to date" in line_about(lines, "storage:")


async def test_an_unreachable_postgresql_server_fails_in_one_line(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(webhook=False, DATABASE_URL="postgresql://bot:hunter2secret@127.0.0.1:9/bot")
    code, lines = await doctor(settings)
    assert code == 1
    assert "refused" in line_about(lines, "storage:")
    assert_no_secrets(lines, "hunter2secret")
