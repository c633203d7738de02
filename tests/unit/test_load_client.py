"""The benchmarks' load generator: what it reports is what the server saw."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bench.load_client import LoadClient
from emulators.harness import served


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[bytes]]]:
    bodies: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return web.Response(status=200 if request.match_info["n"] != "bad" else 403)

    app = web.Application()
    app.router.add_post("/{n}", handle)
    async with served(app) as url:
        yield url, bodies


async def test_rounds_share_warm_connections_and_the_targets_given_first(
    server: tuple[str, list[bytes]],
) -> None:
    url, bodies = server
    client = LoadClient()
    try:
        targets = [[f"{url}/1", "one"], [f"{url}/bad", "two"]]
        warm = await client.run(
            {"server": "a", "targets": targets, "mode": "closed", "concurrency": 4, "count": 0}
        )
        assert warm["warm_ok"] == 4 and warm["latencies"] == []  # warming is not a measured request
        assert bodies == [b"one"] * 4

        closed = await client.run({"server": "a", "mode": "closed", "concurrency": 4, "count": 10})
        assert closed["warm_ok"] == 0
        assert closed["statuses"] == {"200": 5, "403": 5}  # request i goes to targets[i % 2]
        assert len(closed["latencies"]) == 10

        opened = await client.run({"server": "a", "mode": "open", "rate": 1000, "count": 20})
        assert opened["statuses"] == {"200": 10, "403": 10}
        assert opened["elapsed"] >= 19 / 1000  # the last request leaves 19 intervals after the first
        assert len(bodies) == 4 + 10 + 20
    finally:
        await client.close()
