"""Stage to screen: from a provider callback's arrival to the matching progress edit reaching Telegram.

    python -m bench.stage_to_screen [--tasks 200 --rate 20]

200 tasks are in flight (submitted through the emulated provider, which is told never to finish them),
then callbacks are posted as the provider would: one `text` round over every task, then one `first`
round, at `--rate` callbacks per second overall (below Telegram's 30 messages a second, and each chat's
stages more than a second apart, so the figures show the bot's own latency, not a queue at the limits).
The latency of a callback is measured from just before it is posted to the arrival, at the Telegram
emulator, of the first edit in that chat showing that stage (one monotonic clock serves every process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import (
    EmulatorProcess,
    bench_parser,
    bot_against,
    fmt_ms,
    percentile,
    publish,
    quiet_logs,
    results_file,
    run_bench,
    table,
    tasks_in_flight,
)

LABELS = {"text": "Lyrics ready", "first": "First track ready"}


async def run(args: argparse.Namespace) -> int:
    quiet_logs()
    sent: list[tuple[int, str, float, int]] = []  # chat, stage, time, status
    with tempfile.TemporaryDirectory(prefix="bench-stage-") as scratch:
        async with (
            EmulatorProcess(budget=1000, budget_window=1.0, stage_delays=(1e6, 1e6, 1e6)) as emulators,
            bot_against(
                emulators, Path(scratch), SUNO_REQUESTS_PER_WINDOW=1000, SUNO_REQUEST_WINDOW=1.0
            ) as bot,
        ):
            services = bot.services
            rows = await tasks_in_flight(
                bot, emulators, count=args.tasks, first_user=30_000, text="/generate stage #{user}"
            )
            async with aiohttp.ClientSession() as http:
                started = time.monotonic()
                index = 0
                for stage in ("text", "first"):
                    for task_id, chat_id, provider_task_id in rows:
                        body = await emulators.get("/payload", task=provider_task_id, stage=stage)
                        delay = started + index / args.rate - time.monotonic()
                        if delay > 0:
                            await asyncio.sleep(delay)
                        index += 1
                        url = f"{bot.url}/callbacks/{services.signer.callback_token(task_id)}"
                        at = time.monotonic()
                        async with http.post(url, data=json.dumps(body)) as response:
                            await response.read()
                            sent.append((chat_id, stage, at, response.status))
            await asyncio.wait_for(services.tasks.idle(), 60)
            await asyncio.sleep(0.5)
            events = await emulators.get("/events")
            stats = await emulators.get("/stats")
    edits: dict[int, list[tuple[float, str]]] = {}
    for event in events:
        if event["kind"] in ("bot_edit", "bot_message"):
            edits.setdefault(event["chat"], []).append((event["at"], event.get("text") or ""))
    latencies, missing = [], 0
    for chat, stage, at, _ in sent:
        shown = [t for t, text in edits.get(chat, []) if t >= at and LABELS[stage] in text]
        if shown:
            latencies.append(min(shown) - at)
        else:
            missing += 1
    by_stage = {
        stage: [
            min([t for t, x in edits.get(c, []) if t >= a and LABELS[stage] in x] or [float("nan")]) - a
            for c, s, a, _ in sent
            if s == stage
        ]
        for stage in LABELS
    }
    rows_out = [
        ("tasks in flight", str(args.tasks), "submitted, waiting for the provider"),
        ("callbacks posted", f"{len(sent)} at {args.rate:g}/s", "a text round, then a first round"),
        (
            "stage to screen p50 / p99",
            f"{fmt_ms(percentile(latencies, 0.5))} / {fmt_ms(percentile(latencies, 0.99))}",
            "callback posted -> edit at the Telegram emulator",
        ),
    ]
    for stage, values in by_stage.items():
        values = [v for v in values if v == v]
        rows_out.append(
            (
                f"  {stage} stage p50 / p99",
                f"{fmt_ms(percentile(values, 0.5))} / {fmt_ms(percentile(values, 0.99))}",
                "",
            )
        )
    rows_out += [
        ("callbacks whose stage never showed", str(missing), "must be 0"),
        (
            "Telegram limit violations (per chat / global)",
            f"{stats['telegram']['violations_per_chat']} / {stats['telegram']['violations_global']}",
            "",
        ),
    ]
    ok = (
        missing == 0
        and stats["telegram"]["violations_per_chat"] + stats["telegram"]["violations_global"] == 0
    )
    notes = [f"result: {'PASS' if ok else 'FAIL'}."]
    publish("stage", table("Stage to screen", rows_out, notes), results_file(args))
    return 0 if ok else 1


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="callbacks per second overall")
    run_bench(parser, run)


if __name__ == "__main__":
    main()
