"""The provider's media host: the generated MP3s and JPEG covers, streamed as a CDN would.

``MediaHost`` is mixed into ``ProviderEmulator``, which routes ``/media/audio|stream|image/...`` to it
and supplies ``_tracks``, every track its tasks have built.
"""

from __future__ import annotations

from aiohttp import web

_CHUNK = 64 * 1024


class MediaHost:
    """The media-host half of ``ProviderEmulator``; see the module docstring."""

    async def _handle_audio(self, request: web.Request) -> web.StreamResponse:
        track_id = request.match_info.get("track_id") or request.match_info["name"].removesuffix(".mp3")
        track = self._tracks.get(track_id)
        if track is None:
            raise web.HTTPNotFound()
        return await _stream_bytes(request, track.audio, "audio/mpeg")

    async def _handle_image(self, request: web.Request) -> web.StreamResponse:
        track = self._tracks.get(request.match_info["name"].removesuffix(".jpeg"))
        if track is None:
            raise web.HTTPNotFound()
        return await _stream_bytes(request, track.image, "image/jpeg")


async def _stream_bytes(request: web.Request, data: bytes, content_type: str) -> web.StreamResponse:
    """Send in chunks with a Content-Length, as a CDN would, so clients exercise streamed reads."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    response.content_length = len(data)
    await response.prepare(request)
    if request.method != "HEAD":
        view = memoryview(data)
        for offset in range(0, len(data), _CHUNK):
            await response.write(view[offset : offset + _CHUNK])
    await response.write_eof()
    return response
