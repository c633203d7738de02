"""Outage drain: Telegram is down while finished songs pile up; once it is back, they go out at its limit.

    python -m bench.outage_drain [--people 500 --outage 60 --mode 502]

`--people` people each have a task in flight (submitted; the provider is told never to finish it by
itself). Then Telegram's front proxy goes down (`--mode 502`: nginx's HTML page; `reset`: connections
reset) for `--outage` seconds, and every task's `complete` callback arrives meanwhile: each person now
has a final progress edit and two tracks to receive, 3 calls a person, all of them failing and retried
with backoff while Telegram is down. Then it comes back.

Measured from the first call Telegram accepts after the outage to the last track delivered (the drain):
the chat calls accepted in that span a second, against the global limit the bot is configured with
(TELEGRAM_GLOBAL_RATE, 30 here as at Telegram), counted the way the limit counts them (the span plus its
one-second window, so using every window to the limit measures exactly 1.00). Beside it: the time
from the end of the outage to that first accepted call, and the checks that make the rate honest:
no limit violation, per chat or global, and every track delivered exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    BenchFailed,
    EmulatorProcess,
    bench_parser,
    bot_against,
    publish,
    quiet_logs,
    rate_within_limit,
    results_file,
    run_bench,
    table,
    tasks_in_flight,
)
from emulators.harness import RunningBot

GLOBAL_PER_SECOND = 30  # TELEGRAM_GLOBAL_RATE for the bot, and the emulator's own limit
MANDATORY_CALLS = 3  # per person once the song is finished: the final edit and two tracks
TARGET = 0.90


async def post_callbacks(
    bot: RunningBot, emulators: EmulatorProcess, rows: list[tuple[int, int, str]]
) -> int:
    """Every task's `complete` callback, as the provider posts it; returns how many the bot took (200)."""
    signer = bot.services.signer
    bodies = [
        await emulators.get("/payload", task=provider_task, stage="complete") for *_, provider_task in rows
    ]
    taken = 0
    gate = asyncio.Semaphore(16)  # a few connections at a time, as a provider posts

    async def post(http: aiohttp.ClientSession, task_id: int, body: Any) -> None:
        nonlocal taken
        url = f"{bot.url}/callbacks/{signer.callback_token(task_id)}"
        async with gate, http.post(url, data=json.dumps(body)) as response:
            await response.read()
            taken += response.status == 200

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(post(http, row[0], body) for row, body in zip(rows, bodies, strict=True)))
    return taken


async def run(args: argparse.Namespace) -> int:
    quiet_logs()
    # PTB logs every unparsable answer (the proxy's HTML page) with its body and a traceback: thousands.
    logging.getLogger("telegram.request").setLevel(logging.CRITICAL)
    people = args.people
    expected_audio = 2 * people
    with tempfile.TemporaryDirectory(prefix="bench-outage-") as scratch:
        async with (
            EmulatorProcess(
                budget=1000,
                budget_window=1.0,
                stage_delays=(1e6, 1e6, 1e6),
                global_per_second=GLOBAL_PER_SECOND,
            ) as emulators,
            bot_against(
                emulators,
                Path(scratch),
                SUNO_REQUESTS_PER_WINDOW=1000,
                SUNO_REQUEST_WINDOW=1.0,
                TELEGRAM_GLOBAL_RATE=GLOBAL_PER_SECOND,
            ) as bot,
        ):
            rows = await tasks_in_flight(
                bot, emulators, count=people, first_user=50_000, text="/generate outage #{user}"
            )
            before = len(await emulators.get("/calls"))
            outage = await emulators.post("/outage", {"seconds": args.outage, "mode": args.mode})
            taken = await post_callbacks(bot, emulators, rows)
            if taken != people:
                raise BenchFailed(f"the bot took {taken} of {people} callbacks")
            posted_at = time.monotonic()
            if posted_at > outage["until"]:
                raise BenchFailed(
                    f"posting the callbacks outlasted the {args.outage:g} s outage; give it a longer --outage"
                )
            # Telegram's own rate bounds the drain: 3 calls a person at the limit, then a generous margin.
            within = (
                outage["until"] - time.monotonic() + MANDATORY_CALLS * people / GLOBAL_PER_SECOND * 2 + 60
            )
            try:
                await emulators.wait_until(
                    "/stats", lambda s: s["audio"]["received"] >= expected_audio, within=within, every=0.5
                )
            except TimeoutError:
                stats = await emulators.get("/stats")
                counts = await bot.services.storage.work.counts()
                raise BenchFailed(
                    f"{stats['audio']['received']} of {expected_audio} tracks arrived within {within:.0f} s; "
                    f"work items by kind and state: {counts}"
                ) from None
            try:
                await asyncio.wait_for(bot.services.tasks.idle(), 60)
            except TimeoutError:
                raise BenchFailed("the bot still had work under way a minute after the last track") from None
            await asyncio.sleep(1.0)  # anything sent late would still be counted
            stats = await emulators.get("/stats")
            calls = await emulators.get("/calls")
            refused = (await emulators.get("/outage"))["refused"]
            pending = await bot.services.storage.work.counts()
    recovered = outage["until"]
    after = sorted(at for at, _method, _chat in calls if at >= recovered)
    last_audio = stats["audio"]["last_at"]
    if not after or last_audio is None:
        raise BenchFailed("no call was accepted after the outage")
    first = after[0]
    drain = [at for at in after if at <= last_audio]
    rate = rate_within_limit(drain)
    ratio = rate / GLOBAL_PER_SECOND
    span = last_audio - first
    minimum = math.floor((MANDATORY_CALLS * people - 1) / GLOBAL_PER_SECOND)
    during = len(calls) - before - len(after)
    tg, audio = stats["telegram"], stats["audio"]
    violations = tg["violations_per_chat"] + tg["violations_global"]
    left = sum(n for (_kind, state), n in pending.items() if state == "pending")
    ok = (
        ratio >= TARGET
        and violations == 0
        and audio["lost"] == 0
        and audio["duplicated"] == 0
        and audio["received"] == expected_audio
        and left == 0
        and during == 0
    )
    rows_out = [
        ("people with a finished song", str(people), "a final edit and 2 tracks each"),
        ("outage", f"{args.outage:g} s ({args.mode})", f"{refused} calls refused by the proxy meanwhile"),
        ("tracks delivered / expected", f"{audio['received']} / {expected_audio}", ""),
        ("tracks lost / duplicated", f"{audio['lost']} / {audio['duplicated']}", "must be 0 / 0"),
        (
            "limit violations (Telegram per chat / global)",
            f"{tg['violations_per_chat']} / {tg['violations_global']}",
            "counted by the emulator; must be 0",
        ),
        ("outage end to the first accepted call", f"{first - recovered:.2f} s", "not part of the drain"),
        (
            "drain: first accepted call to the last track",
            f"{span:.2f} s",
            f"{len(drain)} chat calls ({MANDATORY_CALLS * people} mandatory); the limit allows {minimum} s",
        ),
        ("busiest second at Telegram", f"{tg['max_in_any_second']} calls", f"limit {GLOBAL_PER_SECOND}"),
        ("drain rate", f"{rate:.1f} calls/s", f"TELEGRAM_GLOBAL_RATE {GLOBAL_PER_SECOND}/s"),
        ("**drain rate / global limit**", f"**{ratio:.3f}**", f"done means >= {TARGET:.2f}"),
        ("chat calls accepted during the outage", str(during), "must be 0: the proxy answered them all"),
        ("work items left pending", str(left), "must be 0"),
    ]
    notes = [
        "drain rate = calls accepted from the first one after the outage to the last track, over that span "
        "plus Telegram's one-second window (every window used to the limit measures 1.00).",
        f"result: {'PASS' if ok else 'FAIL'}.",
    ]
    if args.timeline:
        print("accepted chat calls per second of the drain:", _per_second(drain))
    publish(
        "outage",
        table("Outage drain", rows_out, notes, date=args.date),
        results_file(args),
    )
    return 0 if ok else 1


def _per_second(times: list[float]) -> list[int]:
    if not times:
        return []
    origin = times[0]
    line = [0] * (int(times[-1] - origin) + 1)
    for at in times:
        line[int(at - origin)] += 1
    return line


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--outage", type=float, default=60.0, help="seconds Telegram is down")
    parser.add_argument("--mode", choices=("502", "reset"), default="502")
    parser.add_argument("--timeline", action="store_true", help="print the accepted calls in each second")
    run_bench(parser, run)


if __name__ == "__main__":
    main()
