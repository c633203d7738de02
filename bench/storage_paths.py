"""The hot storage paths, p50 and p99 on PostgreSQL beside SQLite, measured in one run.

    python -m bench.storage_paths [--tasks 300]

Through the real repositories (storage/), the operations every song goes through, each timed on its own
from the caller's side, one after another: creating a task with its work rows; storing a callback event
(the write before the callback's 200); applying a stage; claiming a work item and finishing it; recording
a delivered track. PostgreSQL runs on a throwaway server on loopback (emulators/postgres_server.py, fsync
off as SQLite's synchronous=NORMAL does not fsync each commit either), so the figures compare the two
backends' own cost, not a disk's. A p99 under 50 ms on both is the bar: the callback path answers within
Telegram's and the provider's patience many times over.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path

from bench.common import (
    BenchFailed,
    bench_parser,
    fmt_ms,
    percentile,
    publish,
    results_file,
    run_bench,
    table,
)
from emulators.postgres_server import PostgresServer, PostgresUnavailable
from storage.events import NewEvent
from storage.models import Stage, TaskKind, TrackData
from storage.store import Storage
from storage.work import Kind, Lease, NewWork

TARGET_P99 = 0.050
PATHS = ("create a task", "store a callback", "apply a stage", "claim + finish work", "record a delivery")


async def _timed(samples: dict[str, list[float]], name: str, call: Awaitable[object]) -> object:
    """Await `call` (a coroutine not started yet) and note how long it took."""
    started = time.perf_counter()
    result = await call
    samples[name].append(time.perf_counter() - started)
    return result


async def _measure(storage: Storage, tasks: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in PATHS}
    now = time.time()
    lease = Lease("bench", now + 600)
    for n in range(tasks):
        user = 1000 + n % 50
        task = await _timed(
            samples,
            "create a task",
            storage.tasks.create(
                user_id=user,
                chat_id=user,
                kind=TaskKind.GENERATE,
                params={"customMode": False, "model": "V4_5", "prompt": f"song {n}"},
                model="V4_5",
                now=now,
            ),
        )
        task_id = task.id  # type: ignore[attr-defined]
        await storage.tasks.mark_submitted(task_id, f"provider-{task_id}", now=now)
        await storage.work.want([NewWork(Kind.POLL, task_id, task_id, user, now)], now=now, lease=None)
        event_id = await _timed(
            samples,
            "store a callback",
            storage.events.add(NewEvent(task_id, "callback", Stage.FIRST, '{"callbackType":"first"}', now)),
        )
        tracks = [
            TrackData(
                audio_id=f"a-{task_id}-{i}",
                title="Song",
                tags="lo-fi",
                duration=120.0,
                audio_url=f"https://cdn.example.com/{task_id}-{i}.mp3",
            )
            for i in range(2)
        ]
        await _timed(
            samples,
            "apply a stage",
            storage.tasks.apply(
                event_id=event_id,
                task_id=task_id,
                reported=Stage.COMPLETE,
                tracks=tracks,
                error_code=None,
                error_text=None,
                now=now,
            ),
        )

        async def claim_and_finish() -> None:
            for item in await storage.work.claim(
                lease=lease, now=time.time() + 3600, limit=1, kinds=[Kind.POLL]
            ):
                await storage.work.finish(item, owner=lease.owner, now=now)

        await _timed(samples, "claim + finish work", claim_and_finish())
        stored = await storage.tasks.tracks(task_id)
        await _timed(
            samples,
            "record a delivery",
            storage.tasks.mark_track_sent(stored[0].id, file_id=f"file-{task_id}", message_id=n, now=now),
        )
    return samples


async def _backend(url: str | None, folder: Path, tasks: int) -> dict[str, list[float]]:
    storage = Storage(folder / "bench.sqlite3", url=url)
    await storage.open()
    try:
        await _measure(storage, 20)  # warm-up: connections, statement caches, the pool
        return await _measure(storage, tasks)
    finally:
        await storage.close()


async def run(args: argparse.Namespace) -> int:
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as error:
        raise BenchFailed(f"PostgreSQL unavailable: {error}") from None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-storage-") as folder:
            sqlite = await _backend(None, Path(folder), args.tasks)
            postgres = await _backend(server.new_database(), Path(folder), args.tasks)
    finally:
        server.stop()
    rows = []
    worst = 0.0
    for name in PATHS:
        s50, s99 = percentile(sqlite[name], 0.5), percentile(sqlite[name], 0.99)
        p50, p99 = percentile(postgres[name], 0.5), percentile(postgres[name], 0.99)
        worst = max(worst, s99, p99)
        rows.append((name, f"{fmt_ms(s50)} / {fmt_ms(s99)}", f"PostgreSQL {fmt_ms(p50)} / {fmt_ms(p99)}"))
    ok = worst < TARGET_P99
    notes = [
        f"{args.tasks} songs' worth of each operation, one at a time, p50 / p99 as the caller waits for it; "
        "SQLite in the value column, PostgreSQL (a local server, fsync off) in the note.",
        f"result: {'PASS' if ok else 'FAIL'} (every p99 under {fmt_ms(TARGET_P99)}).",
    ]
    publish(
        "storage_paths",
        table("Hot storage paths: SQLite beside PostgreSQL", rows, notes, date=args.date),
        results_file(args),
    )
    return 0 if ok else 1


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--tasks", type=int, default=300)
    run_bench(parser, run)


if __name__ == "__main__":
    main()
