"""Audio intake bounded in time and memory, and in work per person, through the real bot."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager

import pytest

from bot.settings import Settings
from emulators.audio_fixtures import make_mp3, make_silent_ogg_opus
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator

DORA = 4004
StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]
_PAGE = os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def dora(telegram: TelegramEmulator) -> ScriptedPerson:
    return ScriptedPerson(telegram, DORA, first_name="Dora", timeout=15)


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * _PAGE


@contextmanager
def peak_rss_growth() -> Iterator[list[int]]:
    """The process's peak resident memory above where it started, sampled by a thread every 2 ms (so
    it sees the peak even while the event loop is blocked); the figure is in the list on exit."""
    baseline = _rss()
    peak = [baseline]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss())
            stop.wait(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    growth: list[int] = []
    try:
        yield growth
    finally:
        stop.set()
        sampler.join()
        growth.append(peak[0] - baseline)


async def test_an_hour_long_voice_note_is_refused_at_once_in_little_memory(
    bot: RunningBot, dora: ScriptedPerson, provider: ProviderEmulator
) -> None:
    """0.8 MB of Ogg Opus silence lasting an hour: decoded whole it took minutes and most of a gigabyte."""
    voice = make_silent_ogg_opus(3600.0)
    assert len(voice) < 1_000_000
    with peak_rss_growth() as growth:
        started = time.monotonic()
        await dora.send_audio(voice, kind="voice", mime_type="audio/ogg", file_name="voice.ogg")
        await dora.telegram.wait_for(
            lambda: dora.bot_said("This bot takes audio up to 8:00 long; this one is 60:00"), timeout=2.0
        )
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    assert growth[0] < 20 * 1024 * 1024, f"memory grew by {growth[0] / 2**20:.1f} MB"
    assert not dora.bot_said("What should I do with it?")
    assert await bot.services.storage.uploads.count_since(DORA, 0) == 0
    assert list((bot.settings.data_dir / "uploads").rglob("*.*")) == []  # nothing left on disk
    assert not [r for r in provider.requests if r.host in ("api", "upload")]


async def test_a_second_file_while_the_first_is_processed_is_told_one_at_a_time(
    bot: RunningBot, dora: ScriptedPerson, telegram: TelegramEmulator
) -> None:
    telegram.slow_next("getFile", 3.0)  # the first file is still being fetched when the second comes
    await dora.send_audio(make_mp3(3.0), file_name="first.mp3")
    await telegram.wait_for(lambda: telegram.slowed == 1, timeout=5)
    await dora.send_audio(make_mp3(4.0), file_name="second.mp3")
    await dora.wait_for_text("still working on your previous file")
    assert not dora.bot_said("What should I do with it?")  # the answer came while the first was busy
    await dora.wait_for_text("What should I do with it?")  # and the first one is taken as usual
    await bot.services.tasks.idle()
    assert await bot.services.storage.uploads.count_since(DORA, 0) == 1
    assert len(telegram.calls("getFile")) == 1  # the second file was never fetched


async def test_uploads_per_day_are_capped(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    dora: ScriptedPerson,
    telegram: TelegramEmulator,
) -> None:
    async with start_bot(make_settings(MAX_UPLOADS_PER_DAY=2)) as bot:
        for seconds in (2.0, 3.0):
            await dora.send_audio(make_mp3(seconds), file_name=f"take-{seconds}.mp3")
            await dora.wait_for_text("What should I do with it?")
        await dora.send_audio(make_mp3(5.0), file_name="third.mp3")
        await dora.wait_for_text("You have sent 2 audio files today, the daily limit")
        assert await bot.services.storage.uploads.count_since(DORA, 0) == 2
    assert len(telegram.calls("getFile")) == 2  # the third was refused before it was fetched
