"""`python -m bot migrate-to-postgres`, on a real PostgreSQL server: a SQLite database filled by real flows
(one song delivered, one still being made) is copied, and the bot started on PostgreSQL carries on with
the pending song, sends nothing twice, and numbers new rows after the copied ones."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import psycopg
import pytest

from bot.settings import Settings
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from tests.integration.conftest import eventually

ALICE, BOB = 1001, 1002
StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]

# The source is SQLite by definition; the target is the test's own PostgreSQL database.
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def target_url(postgres_url: str) -> str:
    return postgres_url


@dataclass
class Ran:
    code: int
    out: str
    err: str


async def migrate(settings: Settings, url: str, *flags: str) -> Ran:
    """The command as an operator runs it: its own process, its settings from the environment."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TELEGRAM_BOT_TOKEN": settings.telegram_bot_token.get_secret_value(),
        "SUNO_API_KEY": settings.suno_api_key.get_secret_value(),
        "DATABASE_PATH": str(settings.database_path),
        "DATA_DIR": str(settings.data_dir),
        "DATABASE_URL": url,
    }
    if "PYTHONPATH" in os.environ:
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "migrate-to-postgres", *flags,
        env=env, cwd=settings.data_dir, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Ran(process.returncode, out.decode(), err.decode())


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert row is not None
        return int(row[0])


async def test_a_sqlite_bot_moved_to_postgresql_carries_on_with_its_pending_song(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    target_url: str,
) -> None:
    alice = ScriptedPerson(telegram, ALICE, timeout=20)
    bob = ScriptedPerson(telegram, BOB, first_name="Bob", timeout=20)
    on_sqlite = make_settings()
    async with start_bot(on_sqlite) as bot:
        await bob.say("/generate a song about moving house")
        await bob.wait_for_audios(2)
        provider.script(hold=True)  # Alice's song is still being made when the bot stops
        await alice.say("/generate a song about a long journey")
        await provider.wait_for(lambda: len(provider.tasks) == 2 and provider.last_task.held, timeout=10)
        storage = bot.services.storage

        async def submitted() -> bool:
            return (await storage.tasks.require(2)).provider_task_id == provider.last_task.task_id

        await eventually(submitted)

    ran = await migrate(on_sqlite, target_url)
    assert ran.code == 0, ran.err
    lines = ran.out.splitlines()
    assert "tasks: 2 rows copied" in lines
    assert "people: 2 rows copied" in lines
    assert lines[-1].startswith("done: ") and "DATABASE_PATH=" in lines[-1]
    assert "://" not in ran.out + ran.err, "the URL (and its password) never shows"
    # Parents before children: a task's tracks after the task, a track's task before it.
    tables = [line.split(":")[0] for line in lines[:-1]]
    assert tables.index("tasks") < tables.index("tracks") and tables.index("uploads") < tables.index("tasks")
    tracks = count(target_url, "tracks")

    # Copied once, the target is not empty: a second run is refused and changes nothing.
    again = await migrate(on_sqlite, target_url)
    assert again.code == 2 and "--force" in again.err and "tasks" in again.err, again
    assert count(target_url, "tracks") == tracks

    # The same address and data folder, now on PostgreSQL: the provider's callbacks for Alice's song,
    # signed by the SQLite bot, reach the new one and verify (the secret came along).
    on_postgres = make_settings(PORT=on_sqlite.port, PUBLIC_URL=on_sqlite.public_url, DATABASE_URL=target_url)
    async with start_bot(on_postgres) as bot:
        assert bot.services.storage.db.dialect == "postgresql"
        provider.release(provider.last_task.task_id)
        await alice.wait_for_audios(2)
        await bob.say("/generate one more song about the new house")
        await bob.wait_for_audios(4)
        [newest, first] = await bot.services.storage.tasks.recent_for_user(BOB)
        assert (first.id, newest.id) == (1, 3), "new rows are numbered after the copied ones"
    assert len(telegram.audios(ALICE)) == 2 and len(telegram.audios(BOB)) == 4, "nothing sent twice"

    # --force replaces what the target holds with the SQLite database as it was.
    forced = await migrate(on_sqlite, target_url, "--force")
    assert forced.code == 0, forced.err
    assert count(target_url, "tasks") == 2
