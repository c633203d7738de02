"""Callback intake: provider callbacks over loopback against the real server with real storage.

    python -m bench.intake [--tasks 200 --callbacks 4000 --concurrency 64 --rate 500 --seconds 6]

Side by side in one run, with the same load generator (a child process):
- a bare aiohttp handler that reads the body and answers 200 (the ceiling), on the same loop as the bot;
- the bot's own POST /callbacks/{token}: signature check, parsing, the task check, the event committed to
  SQLite (WAL) before the 200, and the stage applied in the background (progress edits go on to the
  Telegram emulator).
Two loads: closed loop (C concurrent senders, as fast as answers come: throughput and latency) and open
loop (a fixed rate, default 500/s: p99 latency at that rate). Each runs in `--rounds` short rounds, bare
and bot alternating, on connections opened beforehand, so both see the same moments of a noisy machine.
Callbacks cycle over `--tasks` real tasks submitted through the emulated provider: the first pass over
them is `text`, the second `first`, later ones are repeats, as a provider's retries would be
(`--tasks 2000` makes every closed-loop callback a new stage). Every 200 must correspond to a committed
event row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

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
from emulators.harness import served

_ROOT = Path(__file__).resolve().parent.parent


async def _bare(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"ok": True})


class LoadProcess:
    """The load generator (bench/load_client.py) in a child process that serves every round of the run."""

    async def __aenter__(self) -> LoadProcess:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.load_client",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=_ROOT,
        )
        return self

    async def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(spec).encode() + b"\n")
        await self._process.stdin.drain()
        line = await self._process.stdout.readline()
        if not line:
            raise RuntimeError("the load client failed")
        result = json.loads(line)
        result["ok"] = result["statuses"].get("200", 0)
        return result

    async def __aexit__(self, *exc: object) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        await self._process.wait()


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    for result in results:
        for key, value in result["statuses"].items():
            statuses[key] = statuses.get(key, 0) + value
    return {
        "latencies": [x for result in results for x in result["latencies"]],
        "statuses": statuses,
        "ok": sum(r["ok"] for r in results),
        "elapsed": sum(r["elapsed"] for r in results),
    }


def summary(result: dict[str, Any]) -> dict[str, float]:
    lat = result["latencies"]
    return {
        "rate": result["ok"] / result["elapsed"],
        "p50": percentile(lat, 0.50),
        "p99": percentile(lat, 0.99),
    }


async def run(args: argparse.Namespace) -> int:
    quiet_logs()
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as scratch:
        async with (
            EmulatorProcess(budget=1000, budget_window=1.0, stage_delays=(1e6, 1e6, 1e6)) as emulators,
            bot_against(
                emulators, Path(scratch), SUNO_REQUESTS_PER_WINDOW=1000, SUNO_REQUEST_WINDOW=1.0
            ) as bot,
        ):
            services = bot.services
            db = services.storage.db
            rows = await tasks_in_flight(
                bot, emulators, count=args.tasks, first_user=20_000, text="/generate intake #{user}"
            )
            targets_text, targets_first = [], []
            for task_id, _chat_id, provider_task_id in rows:
                url = f"{bot.url}/callbacks/{services.signer.callback_token(task_id)}"
                text = {
                    "code": 200,
                    "msg": "Text generation completed.",
                    "data": {"callbackType": "text", "task_id": provider_task_id, "data": []},
                }
                first = await emulators.get("/payload", task=provider_task_id, stage="first")
                targets_text.append([url, json.dumps(text)])
                targets_first.append([url, json.dumps(first)])
            targets = targets_text + targets_first

            bare_app = web.Application()
            bare_app.router.add_post("/callbacks/{token}", _bare)
            async with served(bare_app) as bare_url:
                bare_targets = [[bare_url + url[len(bot.url) :], body] for url, body in targets]

                async def settle() -> None:
                    await asyncio.wait_for(services.tasks.idle(), 120)

                events_before = (await db.fetchone("SELECT COUNT(*) FROM events"))[0]
                sides = {"bare": bare_targets, "bot": targets}
                cpu = {"bare": 0.0, "bot": 0.0}  # this process's CPU seconds while each side was under load
                closed_rounds: dict[str, list[dict[str, Any]]] = {"bare": [], "bot": []}
                open_rounds: dict[str, list[dict[str, Any]]] = {"bare": [], "bot": []}
                closed = {"mode": "closed", "concurrency": args.concurrency}
                opened = {"mode": "open", "rate": args.rate}
                warm_ok = 0
                async with LoadProcess() as client:
                    for side, side_targets in sides.items():  # open the connections: no round pays for it
                        warmed = await client.run(
                            {**closed, "server": side, "targets": side_targets, "count": 0}
                        )
                        warm_ok += warmed["warm_ok"] if side == "bot" else 0

                    async def rounds(
                        spec: dict[str, Any], total: int, into: dict[str, list[dict[str, Any]]]
                    ) -> None:
                        # Both sides alternate in many short rounds, so they share the moments of a noisy
                        # machine (on a small shared one the speed changes from one second to the next).
                        spec = {**spec, "count": total // args.rounds}
                        for _ in range(args.rounds):
                            for side in sides:
                                started = time.process_time()
                                into[side].append(await client.run({**spec, "server": side}))
                                if into is closed_rounds:
                                    cpu[side] += time.process_time() - started

                    profiler = None
                    if os.environ.get("BENCH_PROFILE"):
                        import cProfile

                        profiler = cProfile.Profile()
                        profiler.enable()
                    await rounds(closed, args.callbacks, closed_rounds)
                    if profiler is not None:
                        profiler.disable()
                        profiler.dump_stats(os.environ["BENCH_PROFILE"])
                    applied_at = time.monotonic()
                    await settle()
                    drain = time.monotonic() - applied_at
                    await rounds(opened, int(args.rate * args.seconds), open_rounds)
                bare_closed, real_closed = merge(closed_rounds["bare"]), merge(closed_rounds["bot"])
                bare_open, real_open = merge(open_rounds["bare"]), merge(open_rounds["bot"])
                await settle()
                events_after = (await db.fetchone("SELECT COUNT(*) FROM events"))[0]
                unapplied = (await db.fetchone("SELECT COUNT(*) FROM events WHERE applied_at IS NULL"))[0]
            stats = await emulators.get("/stats")

    acknowledged = warm_ok + real_closed["ok"] + real_open["ok"]
    stored = events_after - events_before
    b, r = summary(bare_closed), summary(real_closed)
    bo, ro = summary(bare_open), summary(real_open)
    throughput_ratio = r["rate"] / b["rate"]
    p99_ratio = ro["p99"] / bo["p99"]
    ok = throughput_ratio >= 0.60 and p99_ratio <= 3.0 and stored == acknowledged
    errors = {k: v for res in (real_closed, real_open) for k, v in res["statuses"].items() if k != "200"}
    rows = [
        (
            f"closed loop, {args.concurrency} senders, {args.callbacks} callbacks: acknowledged/s",
            f"bare {b['rate']:.0f}/s, bot {r['rate']:.0f}/s",
            f"**ratio {throughput_ratio:.2f}** (done means >= 0.60)",
        ),
        (
            "closed loop: ack latency p50 / p99",
            f"bare {fmt_ms(b['p50'])} / {fmt_ms(b['p99'])}; bot {fmt_ms(r['p50'])} / {fmt_ms(r['p99'])}",
            "",
        ),
        (
            f"open loop at {args.rate:g}/s for {args.seconds:g} s: ack latency p50 / p99",
            f"bare {fmt_ms(bo['p50'])} / {fmt_ms(bo['p99'])}; bot {fmt_ms(ro['p50'])} / {fmt_ms(ro['p99'])}",
            f"**p99 ratio {p99_ratio:.2f}** (done means <= 3)",
        ),
        ("open loop: achieved rate", f"bare {bo['rate']:.0f}/s, bot {ro['rate']:.0f}/s", ""),
        (
            "closed loop: CPU of the server's process per callback",
            f"bare {cpu['bare'] / bare_closed['ok'] * 1e6:.0f} µs, "
            f"bot {cpu['bot'] / real_closed['ok'] * 1e6:.0f} µs",
            "all threads; the bot's includes its SQLite threads and the background work callbacks cause",
        ),
        (
            "callbacks acknowledged / event rows committed",
            f"{acknowledged} / {stored}",
            "every 200 is a committed row" + (f"; non-200: {errors}" if errors else ""),
        ),
        (
            "background work done after the closed loop",
            f"{drain:.2f} s",
            f"stages applied and their progress edits sent at Telegram's pace; {unapplied} left unapplied",
        ),
        (
            "Telegram limit violations (per chat / global)",
            f"{stats['telegram']['violations_per_chat']} / {stats['telegram']['violations_global']}",
            "progress edits caused by the callbacks",
        ),
    ]
    notes = [
        f"{args.tasks} tasks; the load generator and the emulators run in child processes; the bare "
        "handler runs in the bot's process and event loop.",
        f"result: {'PASS' if ok else 'FAIL'}.",
    ]
    publish("intake", table("Callback intake", rows, notes), results_file(args))
    return 0 if ok else 1


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--callbacks", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--rounds", type=int, default=8, help="alternating rounds per side and load")
    run_bench(parser, run)


if __name__ == "__main__":
    main()
