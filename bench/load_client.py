"""A loopback HTTP load generator in its own process (so its CPU is not the server's).

It stays up for a whole benchmark and runs one load per JSON line it reads on stdin, answering each with
one JSON line on stdout:

    {"server": name, "targets": [[url, body], ...], "count": M, "mode": "closed", "concurrency": C}
    {"server": name, "count": M, "mode": "open", "rate": R}

`closed`: C workers post back to back (maximum throughput). `open`: one POST every 1/R seconds whatever
the answers do (a fixed offered rate). Request i goes to targets[i % len(targets)]. The answer is
{"latencies": [...], "statuses": {...}, "elapsed": seconds, "sent_late": n, "warm_ok": n}.

Each `server` name keeps its targets (given with its first load) and its own connection pool across
loads. The first load for a server first opens
C connections with one request each (`warm_ok` counts those answered 200), so every measured load runs on
open connections: short rounds, alternating between servers, measure request handling, not TCP set-up.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp

_TIMEOUT = aiohttp.ClientTimeout(total=30)


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, latencies: list[float], statuses: dict[str, int]
) -> None:
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers={"Content-Type": "application/json"}) as response:
            await response.read()
            status = str(response.status)
    except (aiohttp.ClientError, TimeoutError) as error:
        status = type(error).__name__
    latencies.append(time.perf_counter() - started)
    statuses[status] = statuses.get(status, 0) + 1


async def _warm(session: aiohttp.ClientSession, targets: list[tuple[str, bytes]], connections: int) -> int:
    """Open `connections` keep-alive connections (one request each, at once); how many answered 200."""
    statuses: dict[str, int] = {}
    url, body = targets[0]
    await asyncio.gather(*(_post(session, url, body, [], statuses) for _ in range(connections)))
    return statuses.get("200", 0)


async def _closed(
    session: aiohttp.ClientSession,
    targets: list[tuple[str, bytes]],
    count: int,
    concurrency: int,
    latencies: list[float],
    statuses: dict[str, int],
) -> None:
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            index = next_index
            next_index += 1
            url, body = targets[index % len(targets)]
            await _post(session, url, body, latencies, statuses)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _open(
    session: aiohttp.ClientSession,
    targets: list[tuple[str, bytes]],
    count: int,
    rate: float,
    latencies: list[float],
    statuses: dict[str, int],
) -> int:
    """Post at a fixed rate; returns how many requests left more than one interval late."""
    interval = 1.0 / rate
    started = time.perf_counter()
    sent_late = 0
    pending = []
    for index in range(count):
        delay = started + index * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -interval:
            sent_late += 1
        url, body = targets[index % len(targets)]
        pending.append(asyncio.create_task(_post(session, url, body, latencies, statuses)))
    await asyncio.gather(*pending)
    return sent_late


class LoadClient:
    def __init__(self) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._targets: dict[str, list[tuple[str, bytes]]] = {}

    async def run(self, spec: dict[str, Any]) -> dict[str, Any]:
        if "targets" in spec:
            self._targets[spec["server"]] = [(url, body.encode()) for url, body in spec["targets"]]
        targets = self._targets[spec["server"]]
        count = int(spec["count"])
        concurrency = int(spec.get("concurrency", 64))
        warm_ok = 0
        session = self._sessions.get(spec["server"])
        if session is None:
            # No limit on the pool: an open loop opens a connection more whenever answers fall behind.
            connector = aiohttp.TCPConnector(limit=0)
            session = aiohttp.ClientSession(connector=connector, timeout=_TIMEOUT)
            self._sessions[spec["server"]] = session
            warm_ok = await _warm(session, targets, concurrency)
        latencies: list[float] = []
        statuses: dict[str, int] = {}
        sent_late = 0
        started = time.perf_counter()
        if spec["mode"] == "closed":
            await _closed(session, targets, count, concurrency, latencies, statuses)
        else:
            sent_late = await _open(session, targets, count, float(spec["rate"]), latencies, statuses)
        return {
            "latencies": latencies,
            "statuses": statuses,
            "warm_ok": warm_ok,
            "elapsed": time.perf_counter() - started,
            "sent_late": sent_late,
        }

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()


async def serve() -> None:
    client = LoadClient()
    loop = asyncio.get_running_loop()
    try:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            result = await client.run(json.loads(line))
            sys.stdout.write(json.dumps(result) + "\n")
            sys.stdout.flush()
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(serve())
