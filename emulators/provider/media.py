"""The provider's media host: the generated MP3s and JPEG covers, streamed as a CDN would.

``MediaHost`` is mixed into ``ProviderEmulator``, which routes ``/media/audio|stream|image/...`` to it
and supplies ``_tracks``, every track its tasks have built, and ``_download_failures``, the failures
scripted with ``fail_next_downloads``.
"""

from __future__ import annotations

from aiohttp import web

from emulators.provider.faults import DownloadFailure, take, unavailable_page
from emulators.provider.http import RECORD
from emulators.provider.tasks import EmulatedTrack

_CHUNK = 64 * 1024


class MediaHost:
    """The media-host half of ``ProviderEmulator``; see the module docstring."""

    _tracks: dict[str, EmulatedTrack]
    _download_failures: list[DownloadFailure]

    async def _handle_audio(self, request: web.Request) -> web.StreamResponse:
        track_id = request.match_info.get("track_id") or request.match_info["name"].removesuffix(".mp3")
        track = self._tracks.get(track_id)
        if track is None or (track.lost and "track_id" not in request.match_info):
            raise web.HTTPNotFound()  # a lost track's file is gone (its stream stays)
        return self._scripted_failure(request, "audio") or await _stream_bytes(
            request, track.audio, "audio/mpeg"
        )

    async def _handle_image(self, request: web.Request) -> web.StreamResponse:
        track = self._tracks.get(request.match_info["name"].removesuffix(".jpeg"))
        if track is None:
            raise web.HTTPNotFound()
        return self._scripted_failure(request, "image") or await _stream_bytes(
            request, track.image, "image/jpeg"
        )

    def _scripted_failure(self, request: web.Request, media: str) -> web.Response | None:
        # Only GETs of files that exist: a HEAD or a stray 404 must not use up a scripted failure.
        if request.method != "GET":
            return None
        failure = take(self._download_failures, media)
        if failure is None:
            return None
        request[RECORD].fault = f"download:{failure.status}"
        return unavailable_page(failure.status)


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
