"""Idle CPU: a bot with plenty of pending work that is not due yet costs (almost) nothing while it waits.

    python -m bench.idle_cpu [--tasks 1000 --seconds 10]

`--tasks` people each start a task; the provider is told never to finish them, so each task keeps one
pending poll, due SUNO_POLL_INTERVAL (an hour) after its submission: `--tasks` work items in the `work`
table, none due. Then nothing happens for `--seconds` seconds, and the bot's process CPU time over that
wall time is its idle cost (`time.process_time()`, every thread: only the bot runs in this process).
Beside it, the process's voluntary context switches a second (every thread), which count how often
something wakes up: a timer, a trip to one of SQLite's threads.

Telegram's global limit is raised to 300 a second, for the bot and the emulator alike, only so that
the set-up (two calls a person) takes seconds instead of a minute; nothing is sent while measuring.
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
    context_switches,
    publish,
    quiet_logs,
    results_file,
    run_bench,
    table,
    tasks_in_flight,
)

SETUP_GLOBAL_RATE = 300
TARGET_PERCENT = 2.0
SETTLE_SECONDS = 2.0  # what the set-up left behind (the last outcomes written, a persistence round) ends


async def run(args: argparse.Namespace) -> int:
    quiet_logs()
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as scratch:
        async with (
            EmulatorProcess(
                budget=10_000,
                budget_window=1.0,
                stage_delays=(1e6, 1e6, 1e6),
                global_per_second=SETUP_GLOBAL_RATE,
            ) as emulators,
            bot_against(
                emulators,
                Path(scratch),
                SUNO_REQUESTS_PER_WINDOW=10_000,
                SUNO_REQUEST_WINDOW=1.0,
                TELEGRAM_GLOBAL_RATE=SETUP_GLOBAL_RATE,
            ) as bot,
        ):
            await tasks_in_flight(
                bot, emulators, count=args.tasks, first_user=70_000, text="/generate idle #{user}"
            )
            await asyncio.sleep(SETTLE_SECONDS)
            work = bot.services.storage.work
            now = time.time()
            pending = await work.items(state="pending")
            not_due = sum(1 for item in pending if item.due_at > now + args.seconds)
            if not_due < args.tasks:
                raise BenchFailed(f"only {not_due} of {args.tasks} pending work items are not due")
            calls_before = (await emulators.get("/stats"))["telegram"]["chat_calls"]
            switches_before = context_switches()
            cpu_before, wall_before = time.process_time(), time.monotonic()
            await asyncio.sleep(args.seconds)
            cpu, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
            switches = context_switches() - switches_before
            calls = (await emulators.get("/stats"))["telegram"]["chat_calls"] - calls_before
            held = bot.services.tasks.queue.held
    percent = 100 * cpu / wall
    ok = percent < TARGET_PERCENT and calls == 0
    rows = [
        (
            "pending work items, none due",
            f"{not_due} of {len(pending)} pending",
            "one poll a task, due in an hour",
        ),
        ("measured for", f"{wall:.1f} s", "nothing to do: no update, no callback, nothing due"),
        ("bot CPU time", f"{cpu * 1000:.0f} ms", "process time, every thread"),
        (
            "**bot CPU / wall time**",
            f"**{percent:.2f} %**",
            f"of one core; done means < {TARGET_PERCENT:g} %",
        ),
        ("wake-ups (voluntary context switches, every thread)", f"{switches / wall:.1f} a second", ""),
        ("chat calls while idle / work items held", f"{calls} / {held}", "must be 0 / 0"),
    ]
    notes = [
        f"set-up: {args.tasks} tasks in flight, with Telegram's global limit raised to {SETUP_GLOBAL_RATE}/s "
        "for the bot and the emulator so that it takes seconds; the emulators run in a child process.",
        f"result: {'PASS' if ok else 'FAIL'}.",
    ]
    publish("idle", table("Idle CPU", rows, notes, date=args.date), results_file(args))
    return 0 if ok else 1


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the idle bot is measured")
    run_bench(parser, run)


if __name__ == "__main__":
    main()
