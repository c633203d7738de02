"""Delivery bytes: what passes through the bot per track, sent by URL against uploaded.

    python -m bench.delivery_bytes [--tracks 20 --megabytes 4]

Two bots in turn, against the same emulators, each deliver `--tracks` tracks of `--megabytes` MB (real
MP3s, about a 4-minute song at 128 kbit/s by default): the first sends them by URL for the Telegram
emulator to fetch from the provider's media host itself, the second with URL delivery off
(DELIVERY_URL_SCHEMES empty), downloading each to disk and uploading it as today. The bytes through the
bot are the bots' own `bot_delivery_bytes_total{how=...}` (downloaded from the provider plus uploaded
to Telegram, covers included); the emulator says independently how each audio arrived.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench.common import (
    BenchFailed,
    EmulatorProcess,
    bench_parser,
    bot_against,
    publish,
    quiet_logs,
    results_file,
    run_bench,
    table,
)

WAYS = {"url": "http,https", "upload": ""}  # DELIVERY_URL_SCHEMES for each way; the emulators are http


def _counters(bot: Any) -> dict[str, float]:
    """The bot's delivery counters as /metrics shows them: tracks, and bytes by how they went."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(bot.services.metrics.render().decode()):
        for sample in family.samples:
            if sample.name == "bot_delivered_tracks_total":
                values["tracks"] = sample.value
            elif sample.name == "bot_delivery_bytes_total":
                values[sample.labels["how"]] = sample.value
    return values


async def _deliver(
    emulators: EmulatorProcess,
    scratch: Path,
    way: str,
    *,
    people: int,
    first_user: int,
    expected: int,
    within: float,
) -> dict[str, Any]:
    async with bot_against(
        emulators,
        scratch / way,
        SUNO_REQUESTS_PER_WINDOW=1000,
        SUNO_REQUEST_WINDOW=1.0,
        DELIVERY_URL_SCHEMES=WAYS[way],
    ) as bot:
        started = time.monotonic()
        spec = {
            "first_user": first_user,
            "count": people,
            "spread": 0.2,
            "text": f"/generate {way} #{{user}}",
        }
        await emulators.post("/people", spec)
        try:
            stats = await emulators.wait_until(
                "/stats", lambda s: s["audio"]["received"] >= expected, within=within
            )
        except TimeoutError as error:
            raise BenchFailed(f"the {way} deliveries did not finish: {error}") from None
        await bot.services.tasks.idle()
        elapsed = time.monotonic() - started
        counters = _counters(bot)
    return {"stats": stats, "counters": counters, "elapsed": elapsed}


def _mb(value: float) -> str:
    # Binary units, as --megabytes and Telegram's limits count them.
    return f"{value / 2**20:.2f} MB" if value >= 2**17 else f"{value / 2**10:.1f} kB"


async def run(args: argparse.Namespace) -> int:
    quiet_logs()
    if args.tracks < 2 or args.tracks % 2:
        raise BenchFailed("--tracks must be even: every task makes two")
    people = args.tracks // 2
    size = args.megabytes * 1024 * 1024
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-bytes-") as scratch:
        async with EmulatorProcess(
            budget=1000, budget_window=1.0, stage_delays=(0.1, 0.2, 0.3), track_bytes=size
        ) as emulators:
            for index, way in enumerate(WAYS):
                results[way] = await _deliver(
                    emulators,
                    Path(scratch),
                    way,
                    people=people,
                    first_user=50_000 + 1000 * index,
                    expected=args.tracks * (index + 1),  # the emulator's counts add up over both ways
                    within=args.timeout,
                )
    by_url, uploaded = results["url"], results["upload"]
    audio = uploaded["stats"]["audio"]
    arrived = uploaded["stats"]["audio"]["by_how"]
    per_track = {
        way: sum(v for k, v in r["counters"].items() if k != "tracks")
        / max(1.0, r["counters"].get("tracks", 0))
        for way, r in results.items()
    }
    ratio = per_track["upload"] / per_track["url"] if per_track["url"] else float("inf")
    # Done means: every track arrived once, each way went the way it was meant to (no URL refused and
    # uploaded instead), and by URL the bot moved only covers, a small fraction of one track.
    ok = (
        audio["lost"] == 0
        and audio["duplicated"] == 0
        and arrived.get("url", 0) == args.tracks
        and arrived.get("upload", 0) == args.tracks
        and set(by_url["counters"]) == {"tracks", "url"}
        and set(uploaded["counters"]) == {"tracks", "upload"}
        and per_track["url"] < size / 10
        and per_track["upload"] >= 2 * size
    )
    rows = [
        ("tracks delivered each way", f"{args.tracks} x {args.megabytes} MB", f"{people} tasks x 2 tracks"),
        (
            "tracks delivered / lost / duplicated",
            f"{audio['received']} / {audio['lost']} / {audio['duplicated']}",
            "both ways together",
        ),
        (
            "audio arrived at Telegram by URL / by upload",
            f"{arrived.get('url', 0)} / {arrived.get('upload', 0)}",
            "as the Telegram emulator saw them",
        ),
        (
            "bytes through the bot per track, by URL",
            _mb(per_track["url"]),
            "the cover down, its thumbnail up",
        ),
        (
            "bytes through the bot per track, uploaded",
            _mb(per_track["upload"]),
            "the track down and up, and the cover",
        ),
        ("**uploaded / by URL**", f"**{ratio:.0f} times**", "bytes through the bot per track"),
        (
            "wall time, by URL / uploaded",
            f"{by_url['elapsed']:.1f} s / {uploaded['elapsed']:.1f} s",
            "first message to the last track, at Telegram's pace",
        ),
    ]
    notes = [
        "the emulator's covers are 256x256 JPEGs; real ones are bigger, so the real ratio is lower, and "
        "by URL the bot still moves no audio at all.",
        f"result: {'PASS' if ok else 'FAIL'}.",
    ]
    publish("bytes", table("Delivery bytes", rows, notes), results_file(args))
    return 0 if ok else 1


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--tracks", type=int, default=20)
    parser.add_argument("--megabytes", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=120.0)
    run_bench(parser, run)


if __name__ == "__main__":
    main()
