"""Faults below HTTP that both emulators script: a connection torn down instead of answered.

A dead upstream behind a proxy, or a server that crashed mid-request, leaves the client with a socket
that closes without a status line. Emulating that through aiohttp needs a little care: the handler has to
drop the transport and still hand aiohttp a response, which aiohttp then fails to write and discards
quietly (it treats a write to a closed transport as the client having gone away).
"""

from __future__ import annotations

import contextlib
import socket
import struct

from aiohttp import web

__all__ = ["NO_ANSWER", "reset_connection"]

# The status recorded for a request that got no HTTP answer at all; 0 as in a browser's XHR status.
NO_ANSWER = 0

_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST instead of FIN


def reset_connection(request: web.Request) -> web.Response:
    """Reset the request's connection (TCP RST) and return the response aiohttp will fail to send.

    An RST rather than an orderly close: the client then sees what a crashed peer produces,
    ``ConnectionResetError`` or, when it was already waiting for the answer, aiohttp's
    ``ServerDisconnectedError`` / httpx's ``RemoteProtocolError``.
    """
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Already gone: the abort below still ends the connection.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        transport.abort()
    return web.Response(status=500, text="connection reset by the emulator; this body is never sent")
