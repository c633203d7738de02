"""What the running bot sets for its whole process, and gives back when it stops."""

from __future__ import annotations

import gc
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from bot.app import GC_YOUNG_THRESHOLD
from bot.settings import Settings
from emulators.harness import RunningBot


async def test_the_collector_is_tuned_while_the_bot_runs_and_restored_after(
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]], settings: Settings
) -> None:
    before = gc.get_threshold()
    async with start_bot(settings):
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
        assert gc.get_freeze_count() > 0  # what start-up made is out of the collector's way
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
