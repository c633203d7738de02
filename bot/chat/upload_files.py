"""Where an upload's bytes live: on this host's disk (SQLite, one process) or in the database (PostgreSQL,
any replica may be asked for them), and the few things done with them in either place.

In the database a file is a row per CHUNK_BYTES piece (storage/migrations/0012_upload_chunks.sql): it is
written and served one piece at a time, so neither holds more than a piece of it in memory.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from storage.models import Upload
from storage.store import Storage

CHUNK_BYTES = 256 * 1024  # a few round trips per megabyte; small next to a connection's buffers


def in_database(storage: Storage) -> bool:
    """Replicas share the database and not the disk: the bytes go where every replica finds them."""
    return storage.db.dialect != "sqlite"


def stored_in_database(upload: Upload) -> bool:
    return upload.path == ""


async def store_bytes(storage: Storage, upload_id: int, source: Path) -> None:
    """Copy the file at `source` into the database, a piece at a time."""
    with source.open("rb") as file:
        seq = 0
        while chunk := await asyncio.to_thread(file.read, CHUNK_BYTES):
            await storage.uploads.add_chunk(upload_id, seq, chunk)
            seq += 1


async def chunks(storage: Storage, upload: Upload) -> AsyncIterator[bytes]:
    """The bytes of an upload kept in the database, in order."""
    seq = 0
    while (chunk := await storage.uploads.chunk(upload.id, seq)) is not None:
        yield chunk
        seq += 1


@asynccontextmanager
async def local_file(storage: Storage, upload: Upload, tmp_dir: Path) -> AsyncIterator[Path]:
    """A path to the upload's bytes for the block (a temporary copy when they are in the database)."""
    if not stored_in_database(upload):
        yield Path(upload.path)
        return
    await asyncio.to_thread(tmp_dir.mkdir, parents=True, exist_ok=True)
    path = tmp_dir / f"upload-{upload.id}-{uuid.uuid4().hex}"
    try:
        with path.open("wb") as file:
            async for chunk in chunks(storage, upload):
                await asyncio.to_thread(file.write, chunk)
        yield path
    finally:
        path.unlink(missing_ok=True)


async def remove_bytes(storage: Storage, upload: Upload) -> None:
    """The upload's bytes go, wherever they are; its row stays (the caller marks or deletes it)."""
    if stored_in_database(upload):
        await storage.uploads.delete_chunks(upload.id)
    else:
        await asyncio.to_thread(Path(upload.path).unlink, missing_ok=True)
