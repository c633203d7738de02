"""A round-robin HTTP balancer on loopback, in front of bot replicas (tests and bench/replicas.py).

It forwards each request whole to the next replica in turn, as a load balancer without stickiness does,
so a person's answers, the provider's callbacks and its file fetches land on any replica. `pin_next`
chooses who gets the next requests (to make answers alternate on purpose), and a replica that refuses
the connection (killed) is skipped, as a balancer's health check would.
"""

from __future__ import annotations

import itertools
from collections import Counter
from types import TracebackType

import aiohttp
from aiohttp import web

from emulators.harness import free_port

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "content-encoding"}


class Balancer:
    def __init__(self, backends: list[str] | None = None, *, port: int | None = None) -> None:
        self.backends: list[str] = list(backends or [])
        self.port = port or free_port()
        self.served: Counter[int] = Counter()  # requests each backend answered, by index
        self._turn = itertools.count()
        self._pinned: list[int] = []
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pin_next(self, *indexes: int) -> None:
        """The next requests go to these backends, in this order; then round robin again."""
        self._pinned.extend(indexes)

    async def __aenter__(self) -> Balancer:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120), auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _order(self) -> list[int]:
        first = self._pinned.pop(0) if self._pinned else next(self._turn) % len(self.backends)
        return [first] + [i for i in range(len(self.backends)) if i != first]

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        if not self.backends:
            raise web.HTTPServiceUnavailable(text="no backends")
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        for index in self._order():
            response: web.StreamResponse | None = None
            try:
                async with self._session.request(
                    request.method, self.backends[index] + request.rel_url.path_qs, data=body, headers=headers
                ) as answer:
                    response = web.StreamResponse(
                        status=answer.status,
                        headers={k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP},
                    )
                    await response.prepare(request)
                    async for chunk in answer.content.iter_chunked(64 * 1024):
                        await response.write(chunk)
                    await response.write_eof()
                    self.served[index] += 1
                    return response
            except aiohttp.ClientConnectionError:
                if response is not None and response.prepared:
                    raise  # died halfway through its answer: the caller sees a cut-off response
                continue  # that replica is down: the next one
        raise web.HTTPBadGateway(text="no backend answered")
