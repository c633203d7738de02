"""Keeping the disk and the database bounded: old uploads, stray temporary audio, old events, abandoned
questions; and people's words (prompts, lyrics) not kept longer than PROMPT_RETENTION_DAYS."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from bot.chat.upload_files import remove_bytes
from storage.store import Storage

log = logging.getLogger(__name__)

TMP_MAX_AGE = 3600.0  # a track download that old was interrupted by a crash: nothing will use it
# A question left open that long was walked away from; its upload is long gone too (UPLOAD_RETENTION_HOURS).
# A finished or cancelled question leaves no row: this only bounds the ones nobody came back to.
QUESTION_RETENTION = 7 * 86400.0


@dataclass
class Swept:
    uploads: int = 0
    temp_files: int = 0
    events: int = 0
    questions: int = 0
    work: int = 0
    prompts: int = 0


async def sweep(
    storage: Storage,
    data_dir: Path,
    *,
    upload_retention: float,
    event_retention: float,
    prompt_retention: float = float("inf"),
    now: float | None = None,
) -> Swept:
    now = time.time() if now is None else now
    swept = Swept()
    for upload in await storage.uploads.removable(created_before=now - upload_retention):
        await remove_bytes(storage, upload)
        await storage.uploads.mark_deleted(upload.id, now=now)
        swept.uploads += 1
    swept.temp_files = await asyncio.to_thread(_remove_old_files, data_dir / "tmp", now - TMP_MAX_AGE)
    swept.events = await storage.events.prune(older_than=now - event_retention)
    swept.questions = await storage.conversations.prune(older_than=now - QUESTION_RETENTION)
    # Finished work is kept as long as events, for the same questions afterwards ("was it sent? when?").
    swept.work = await storage.work.prune(older_than=now - event_retention)
    # Counted from the task's end, and only for ended tasks: a running task still needs its request.
    swept.prompts = await storage.privacy.prune_words(ended_before=now - prompt_retention)
    if swept.uploads or swept.temp_files or swept.events or swept.questions or swept.work or swept.prompts:
        log.info(
            "housekeeping removed %d uploads, %d temporary files, %d old events, %d abandoned question rows, "
            "%d finished work items, the prompts and lyrics of %d tasks",
            swept.uploads,
            swept.temp_files,
            swept.events,
            swept.questions,
            swept.work,
            swept.prompts,
        )
    return swept


def _remove_old_files(folder: Path, cutoff: float) -> int:
    removed = 0
    if not folder.is_dir():
        return 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
