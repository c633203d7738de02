"""Replicas: a burst on two replicas against one, in one run, and the time to recover from a kill -9.

    python -m bench.replicas [--people 60 --killed 10]

Real `python -m bot run` processes (emulators/replicas.py) on one PostgreSQL database (a throwaway local
server) behind a round-robin balancer on loopback, against the Telegram and provider emulators, which count
every limit violation. Three scenes, each on a fresh database and fresh emulators:

1. one replica: `--people` people send /generate within the same second; the time until every track is
   delivered;
2. two replicas, the same burst: the limits are the provider's (20 requests per 10 s) and Telegram's, not
   the bot's, so two replicas holding them together should take the same time (done means within 5 %)
   with zero violations;
3. two replicas, `--killed` songs made until `first`, then one replica killed with SIGKILL: the time from
   the kill until the survivor has delivered every track (bounded by the 20 s work lease), each once.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import BenchFailed, bench_parser, publish, quiet_logs, results_file, run_bench, table
from emulators.balancer import Balancer
from emulators.harness import EMULATOR_API_KEY, EMULATOR_BOT_TOKEN
from emulators.postgres_server import PostgresServer, PostgresUnavailable
from emulators.provider.server import ProviderEmulator
from emulators.replicas import Replica, make_replicas
from emulators.telegram.server import TelegramEmulator
from storage.store import Storage

TARGET_RATIO = 1.05
CHAT_INTERVAL = 0.25  # the replicas' TELEGRAM_CHAT_INTERVAL (emulators/replicas.py), matched by the emulator


class Scene:
    """Emulators, a balancer and `count` replicas on a fresh database; stopped on leaving."""

    def __init__(
        self, server: PostgresServer, folder: Path, count: int, stage_delays: tuple[float, ...]
    ) -> None:
        self.server, self.folder, self.count, self.stage_delays = server, folder, count, stage_delays
        self.replicas: list[Replica] = []

    async def __aenter__(self) -> Scene:
        self.url = self.server.new_database()
        self.telegram = TelegramEmulator(
            EMULATOR_BOT_TOKEN, files_dir=self.folder / "telegram-files", per_chat_interval=CHAT_INTERVAL
        )
        self.provider = ProviderEmulator(EMULATOR_API_KEY, stage_delays=self.stage_delays, track_seconds=2.0)
        self.balancer = Balancer()
        await self.telegram.__aenter__()
        await self.provider.__aenter__()
        await self.balancer.__aenter__()
        self.replicas = make_replicas(
            self.count,
            self.folder / "replicas",
            database_url=self.url,
            public_url=self.balancer.url,
            telegram_url=self.telegram.url,
            provider_url=self.provider.url,
        )
        for replica in self.replicas:
            await replica.start()
        self.balancer.backends = [replica.url for replica in self.replicas]
        for replica in self.replicas:
            await replica.wait_healthy()
        await self.telegram.wait_for(
            lambda: self.telegram.webhook.url == f"{self.balancer.url}/telegram", timeout=30
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        for replica in self.replicas:
            await replica.stop()
        await self.balancer.__aexit__(None, None, None)
        await self.provider.__aexit__(None, None, None)
        await self.telegram.__aexit__(None, None, None)
        self.server.drop_database(self.url)

    async def burst(self, people: list[int]) -> float:
        """Seconds from the first /generate until every person has both tracks."""
        started = time.monotonic()
        await asyncio.gather(
            *(self.telegram.user_sends_text(p, f"/generate a song number {p}") for p in people)
        )
        await self.telegram.wait_for(
            lambda: all(len(self.telegram.audios(p)) >= 2 for p in people), timeout=600
        )
        return time.monotonic() - started

    def duplicates(self, people: list[int]) -> int:
        return sum(max(0, len(self.telegram.audios(p)) - 2) for p in people)

    def violations(self) -> int:
        return len(self.provider.violations) + len(self.telegram.violations)


async def _stages(url: str, people: list[int]) -> list[str]:
    storage = Storage(Path("unused"), url=url)
    await storage.open()
    try:
        found = []
        for person in people:
            found += [task.stage.value for task in await storage.tasks.recent_for_user(person)]
        return found
    finally:
        await storage.close()


async def run(args: argparse.Namespace) -> int:
    quiet_logs()
    server = PostgresServer()
    try:
        server.start()
    except PostgresUnavailable as error:
        raise BenchFailed(f"PostgreSQL unavailable: {error}") from None
    people = [5000 + n for n in range(args.people)]
    killed_people = [7000 + n for n in range(args.killed)]
    try:
        with tempfile.TemporaryDirectory(prefix="bench-replicas-") as folder:
            async with Scene(server, Path(folder) / "one", 1, (0.05, 0.1, 0.15)) as one:
                one_seconds = await one.burst(people)
                one_dup, one_viol = one.duplicates(people), one.violations()
            async with Scene(server, Path(folder) / "two", 2, (0.05, 0.1, 0.15)) as two:
                two_seconds = await two.burst(people)
                two_dup, two_viol = two.duplicates(people), two.violations()
                served = dict(two.balancer.served)
            async with Scene(server, Path(folder) / "kill", 2, (0.05, 0.1, 3.0)) as scene:
                await asyncio.gather(
                    *(
                        scene.telegram.user_sends_text(p, f"/generate a song number {p}")
                        for p in killed_people
                    )
                )
                deadline = time.monotonic() + 120
                while True:
                    found = await _stages(scene.url, killed_people)
                    if len(found) == len(killed_people) and all(s == "first" for s in found):
                        break
                    if time.monotonic() > deadline:
                        raise BenchFailed(f"the songs did not all reach `first`: {found}")
                    await asyncio.sleep(0.1)
                killed_at = time.monotonic()
                scene.replicas[0].kill()
                await scene.telegram.wait_for(
                    lambda: all(len(scene.telegram.audios(p)) >= 2 for p in killed_people), timeout=300
                )
                recovery = time.monotonic() - killed_at
                kill_dup, kill_viol = scene.duplicates(killed_people), scene.violations()
    finally:
        server.stop()
    ratio = two_seconds / one_seconds
    ok = ratio <= TARGET_RATIO and two_viol == 0 and one_viol == 0 and not (one_dup or two_dup or kill_dup)
    ok = ok and kill_viol == 0
    rows = [
        ("burst", f"{args.people} people, {2 * args.people} tracks", "all /generate within one second"),
        (
            "one replica: all delivered",
            f"{one_seconds:.2f} s",
            f"violations {one_viol}, duplicates {one_dup}",
        ),
        (
            "two replicas: all delivered",
            f"{two_seconds:.2f} s",
            f"violations {two_viol}, duplicates {two_dup}",
        ),
        (
            "**two replicas / one**",
            f"**{ratio:.3f}**",
            f"done means ≤ {TARGET_RATIO} (the limits are external); requests per replica {served}",
        ),
        (
            "kill -9 after `first`: until the survivor delivered all",
            f"{recovery:.1f} s",
            f"{args.killed} songs; the dead replica's leases last 20 s; "
            f"violations {kill_viol}, duplicates {kill_dup}",
        ),
    ]
    notes = [
        "real `python -m bot run` processes on one PostgreSQL database (local, fsync off) behind a "
        "round-robin balancer; the emulators in this process count every request over the provider's "
        "budget and every Telegram call too soon.",
        f"result: {'PASS' if ok else 'FAIL'}.",
    ]
    publish("replicas", table("Replicas on PostgreSQL", rows, notes, date=args.date), results_file(args))
    return 0 if ok else 1


def main() -> None:
    parser = bench_parser(__doc__)
    parser.add_argument("--people", type=int, default=60)
    parser.add_argument("--killed", type=int, default=10)
    run_bench(parser, run)


if __name__ == "__main__":
    main()
