"""Big files: many large tracks delivered at once; the bot's memory must stay bounded.

    python -m bench.big_files [--people 10 --megabytes 20]

Every person's task yields 2 tracks of `--megabytes` MB (real MP3s), so 10 people make 20 deliveries of
20 MB finishing together. Each track is streamed to DATA_DIR/tmp and then streamed to Telegram in chunks
(bot/telegram/upload.py), so no whole file is ever in memory; the delivery slots (3) bound how many are in
flight. The peak resident memory of the bot's process is printed against what holding every file would
need.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import (
    BenchFailed,
    EmulatorProcess,
    bench_parser,
    bot_against,
    peak_rss_mb,
    publish,
    quiet_logs,
    reset_peak_rss,
    results_file,
    rss_mb,
    run_bench,
    table,
)

DELIVERY_SLOTS = 3


async def run(args: argparse.Namespace) -> int:
    quiet_logs()
    size = args.megabytes * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="bench-big-") as scratch:
        async with (
            EmulatorProcess(
                budget=1000, budget_window=1.0, stage_delays=(0.1, 0.2, 0.3), track_bytes=size
            ) as emulators,
            bot_against(
                emulators,
                Path(scratch),
                SUNO_REQUESTS_PER_WINDOW=1000,
                SUNO_REQUEST_WINDOW=1.0,
                DELIVERY_URL_SCHEMES="",  # every track through the bot: its memory is what is measured
            ) as bot,
        ):
            await asyncio.sleep(0.5)
            baseline = rss_mb()
            reset_peak_rss()
            cpu_before = time.process_time()
            started = time.monotonic()
            spec = {
                "first_user": 40_000,
                "count": args.people,
                "spread": 0.2,
                "text": "/generate big #{user}",
            }
            await emulators.post("/people", spec)
            expected = 2 * args.people
            try:
                stats = await emulators.wait_until(
                    "/stats", lambda s: s["audio"]["received"] >= expected, within=args.timeout
                )
            except TimeoutError as error:
                raise BenchFailed(f"big files did not finish: {error}") from None
            await asyncio.wait_for(bot.services.tasks.idle(), 60)
            elapsed = time.monotonic() - started
            peak = peak_rss_mb()
            cpu = time.process_time() - cpu_before
            leftovers = list((Path(scratch) / "tmp").glob("*")) if (Path(scratch) / "tmp").exists() else []
    audio = stats["audio"]
    growth = peak - baseline
    all_files = expected * args.megabytes
    # Bounded: never more than the in-flight deliveries would hold even if each kept its whole file.
    bounded = growth < DELIVERY_SLOTS * args.megabytes
    ok = audio["lost"] == 0 and audio["duplicated"] == 0 and bounded and not leftovers
    rows = [
        (
            "deliveries finishing together",
            f"{expected} x {args.megabytes} MB",
            f"{args.people} tasks x 2 tracks",
        ),
        (
            "tracks delivered / lost / duplicated",
            f"{audio['received']} / {audio['lost']} / {audio['duplicated']}",
            "",
        ),
        ("bot RSS before", f"{baseline:.0f} MB", ""),
        ("bot peak RSS during the deliveries", f"{peak:.0f} MB", f"growth {growth:.0f} MB"),
        ("memory if every file were held at once", f"{all_files} MB", "what unbounded delivery would need"),
        (
            "**peak growth / one file**",
            f"**{growth / args.megabytes:.1f} files**",
            f"streamed both ways; at most {DELIVERY_SLOTS} deliveries in flight",
        ),
        ("temporary files left", str(len(leftovers)), "must be 0"),
        ("wall time / bot CPU", f"{elapsed:.1f} s / {cpu:.1f} s", ""),
    ]
    notes = [f"result: {'PASS' if ok else 'FAIL'}."]
    publish("bigfiles", table("Big files", rows, notes), results_file(args))
    return 0 if ok else 1


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--people", type=int, default=10)
    parser.add_argument("--megabytes", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=110.0)
    run_bench(parser, run)


if __name__ == "__main__":
    main()
