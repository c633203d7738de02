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


class _Load:
    """One measured load: where its requests go, and what came back."""

    def __init__(self, session: aiohttp.ClientSession, targets: list[tuple[str, bytes]]) -> None:
        self._session = session
        self._targets = targets
        self.latencies: list[float] = []
        self.statuses: dict[str, int] = {}

    async def post(self, index: int) -> None:
        """Request `index` goes to targets[index % len(targets)]."""
        url, body = self._targets[index % len(self._targets)]
        started = time.perf_counter()
        try:
            headers = {"Content-Type": "application/json"}
            async with self._session.post(url, data=body, headers=headers) as response:
                await response.read()
                status = str(response.status)
        except (aiohttp.ClientError, TimeoutError) as error:
            status = type(error).__name__
        self.latencies.append(time.perf_counter() - started)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    async def closed(self, count: int, concurrency: int) -> None:
        next_index = 0

        async def worker() -> None:
            nonlocal next_index
            while next_index < count:
                index = next_index
                next_index += 1
                await self.post(index)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def open(self, count: int, rate: float) -> int:
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
            pending.append(asyncio.create_task(self.post(index)))
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
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=_TIMEOUT)
            self._sessions[spec["server"]] = session
            # Open the connections, one request each, at once: not measured.
            warming = _Load(session, targets[:1])
            await asyncio.gather(*(warming.post(0) for _ in range(concurrency)))
            warm_ok = warming.statuses.get("200", 0)
        load = _Load(session, targets)
        sent_late = 0
        started = time.perf_counter()
        if spec["mode"] == "closed":
            await load.closed(count, concurrency)
        else:
            sent_late = await load.open(count, float(spec["rate"]))
        return {
            "latencies": load.latencies,
            "statuses": load.statuses,
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
