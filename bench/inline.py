"""Inline answers: `@bot words` is answered within 300 ms at the 95th percentile, with 10,000 songs.

    python -m bench.inline [--songs 10000 --queries 300]

One person makes a song through the bot (so the emulator knows its Telegram file id); then `--songs`
more delivered songs are stored for them, and as many again for a hundred other people (so the
person's songs are a part of the table, as in a real library). Then they type `--queries` inline
queries one after another: the empty query (the newest songs), single words that match many songs or
a few, words that match nothing, and later pages (next_offset), deep ones too. Each is timed from the
inline_query update being queued in the Telegram emulator to the bot's answerInlineQuery arriving
there: the whole round trip through the webhook, PTB, the access gate, storage and the answer. The
emulators run in a child process; the bot in this one.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.common import (
    BenchFailed,
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
)

TARGET_P95 = 0.300
PERSON = 81_000
OTHERS = 100
WORDS = ("rain", "night", "sunny", "tokyo", "drive", "ocean", "dream", "fire", "city", "winter")


def _seed(conn: sqlite3.Connection, user_id: int, file_id: str, count: int, start: float) -> None:
    """`count` delivered one-track songs for `user_id`: the rows the bot would have written for them."""
    for n in range(count):
        words = f"{WORDS[n % len(WORDS)]} {WORDS[(n * 7 + 3) % len(WORDS)]} song {n}"
        at = start + n
        params = json.dumps({"customMode": False, "model": "V4_5", "prompt": words})
        task_id = conn.execute(
            "INSERT INTO tasks (user_id, chat_id, kind, params, model, provider_task_id, stage, created_at,"
            " submitted_at, finished_at, last_event_at) VALUES (?, ?, 'generate', ?, 'V4_5', ?, 'complete',"
            " ?, ?, ?, ?)",
            (user_id, user_id, params, f"seed-{user_id}-{n}", at, at, at, at),
        ).lastrowid
        conn.execute(
            "INSERT INTO tracks (task_id, position, audio_id, title, tags, prompt, duration,"
            " telegram_file_id, telegram_message_id, sent_at) VALUES (?, 0, ?, ?, 'lo-fi', ?, 120, ?, 1, ?)",
            (task_id, f"seed-{user_id}-{n}", words.title(), words, file_id, at),
        )


def _queries(count: int, songs: int, rng: random.Random) -> list[tuple[str, str]]:
    """(query, offset) pairs: a fifth of each kind."""
    kinds = [
        lambda: ("", ""),  # the newest songs
        lambda: ("", str(20 * rng.randrange(1, max(2, songs // 20)))),  # scrolling, deep pages too
        lambda: (rng.choice(WORDS), ""),  # a word matching a tenth or so of the songs
        lambda: (f"{rng.choice(WORDS)} song {rng.randrange(songs)}", ""),  # a few songs
        lambda: ("jazz", ""),  # nothing
    ]
    return [kinds[n % len(kinds)]() for n in range(count)]


async def run(args: argparse.Namespace) -> int:
    quiet_logs()
    with tempfile.TemporaryDirectory(prefix="bench-inline-") as scratch:
        async with (
            EmulatorProcess(inline_mode=True, stage_delays=(0.05, 0.1, 0.15)) as emulators,
            bot_against(emulators, Path(scratch)) as bot,
        ):
            await emulators.post(
                "/people", {"first_user": PERSON, "count": 1, "spread": 0.0, "text": "/generate a rain song"}
            )
            events = await emulators.wait_until(
                "/events", lambda es: sum(e["kind"] == "bot_audio" for e in es) >= 2, within=60
            )
            file_id = next(e["file_id"] for e in events if e["kind"] == "bot_audio")
            start = time.time() - 10 * args.songs

            def seed(conn: sqlite3.Connection) -> None:
                _seed(conn, PERSON, file_id, args.songs, start)
                for other in range(OTHERS):
                    _seed(conn, PERSON + 1 + other, file_id, args.songs // OTHERS, start)

            await bot.services.storage.db.run_transaction(seed)
            theirs = {
                e.track.id for e in (await bot.services.storage.library.page(PERSON, limit=10**6)).entries
            }
            if len(theirs) < args.songs:
                raise BenchFailed(f"only {len(theirs)} of {args.songs} songs are in the person's library")

            rng = random.Random(17)
            for _ in range(5):  # warm-up: connections, caches, PTB's first calls
                await emulators.post("/inline", {"user": PERSON, "query": ""})
            seconds: list[float] = []
            foreign = 0
            not_personal = 0
            for query, offset in _queries(args.queries, args.songs, rng):
                answer = await emulators.post("/inline", {"user": PERSON, "query": query, "offset": offset})
                seconds.append(answer["seconds"])
                foreign += sum(int(i) not in theirs for i in answer["ids"])
                not_personal += not answer["is_personal"]
    p50, p95, worst = percentile(seconds, 0.5), percentile(seconds, 0.95), max(seconds)
    ok = p95 < TARGET_P95 and foreign == 0 and not_personal == 0
    rows = [
        ("songs in the person's library", f"{args.songs}", f"and {args.songs} of {OTHERS} other people"),
        ("inline queries", f"{len(seconds)}", "empty, words matching many / few / none, later pages"),
        ("answer time, median", fmt_ms(p50), "inline_query queued → answerInlineQuery received"),
        ("**answer time, 95th percentile**", f"**{fmt_ms(p95)}**", f"done means < {fmt_ms(TARGET_P95)}"),
        ("answer time, slowest", fmt_ms(worst), ""),
        (
            "results not the person's own / answers not personal",
            f"{foreign} / {not_personal}",
            "must be 0 / 0",
        ),
    ]
    notes = [
        "one song made through the bot gives the Telegram file id every seeded song reuses (the emulator "
        "checks file ids); the seeded rows are those the bot writes for a delivered song.",
        f"result: {'PASS' if ok else 'FAIL'}.",
    ]
    publish("inline", table("Inline answers", rows, notes, date=args.date), results_file(args))
    return 0 if ok else 1


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--songs", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    run_bench(parser, run)


if __name__ == "__main__":
    main()
