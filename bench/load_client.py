"""A loopback HTTP load generator in its own process (so its CPU is not the server's).

Reads one JSON object on stdin:

    {"targets": [[url, body], ...], "count": M, "mode": "closed", "concurrency": C}
    {"targets": [[url, body], ...], "count": M, "mode": "open", "rate": R}

`closed`: C workers post back to back (maximum throughput). `open`: one POST every 1/R seconds whatever
the answers do (a fixed offered rate). Request i goes to targets[i % len(targets)]. Prints one JSON line:
{"latencies": [...], "statuses": {...}, "elapsed": seconds, "sent_late": n}.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp


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


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    targets = [(url, body.encode()) for url, body in spec["targets"]]
    count = int(spec["count"])
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sent_late = 0
    connector = aiohttp.TCPConnector(limit=int(spec.get("concurrency", 0)) or 1000, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Warm the connections so both servers are measured without connection set-up.
        url, body = targets[0]
        warm: dict[str, int] = {}
        await _post(session, url, body, [], warm)
        started = time.perf_counter()
        if spec["mode"] == "closed":
            next_index = 0

            async def worker() -> None:
                nonlocal next_index
                while next_index < count:
                    index = next_index
                    next_index += 1
                    url, body = targets[index % len(targets)]
                    await _post(session, url, body, latencies, statuses)

            await asyncio.gather(*(worker() for _ in range(int(spec["concurrency"]))))
        else:
            interval = 1.0 / float(spec["rate"])
            pending = []
            for index in range(count):
                due = started + index * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -interval:
                    sent_late += 1
                url, body = targets[index % len(targets)]
                pending.append(asyncio.create_task(_post(session, url, body, latencies, statuses)))
            await asyncio.gather(*pending)
        elapsed = time.perf_counter() - started
    return {
        "latencies": latencies,
        "statuses": statuses,
        "warm_ok": warm.get("200", 0),
        "elapsed": elapsed,
        "sent_late": sent_late,
    }


if __name__ == "__main__":
    result = asyncio.run(run(json.loads(sys.stdin.read())))
    print(json.dumps(result))
