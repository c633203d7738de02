"""Fetching a file sent by HTTP URL, as the Bot API server does before it can send it.

Telegram downloads the URL itself (at most 20 MB for anything but photos, telegram-notes §1 "Sending
files") and refuses the call with a 400 when it cannot: the host answers something other than 200, the
body is too big or of the wrong type, or the host cannot be reached in time. The emulator does the same
over loopback, so a bot that sends by URL is tested against a server that really fetches.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp

from emulators.telegram.requests import Upload, spool
from emulators.telegram.state import bad_request

MAX_URL_BYTES = 20 * 1024 * 1024
URL_FETCH_TIMEOUT = 30.0
# What Telegram's fetcher calls itself; hosts (and tests) tell its requests from the bot's by it.
USER_AGENT = "TelegramBot (like TwitterBot)"

FETCH_FAILED = "failed to get HTTP URL content"
WRONG_TYPE = "wrong type of the web page content"
WRONG_URL = "wrong file identifier/HTTP URL specified"

# The MIME types Telegram takes for each kind by URL ("needs the right MIME", audio/mpeg for sendAudio;
# the music player plays MP3 and M4A). Documents take anything.
_TYPES_BY_URL: dict[str, frozenset[str]] = {
    "audio": frozenset({"audio/mpeg", "audio/mp3", "audio/mp4", "audio/x-m4a", "audio/m4a"}),
    "voice": frozenset({"audio/ogg", "audio/mpeg", "audio/mp3", "audio/mp4", "audio/x-m4a", "audio/m4a"}),
}
_CHUNK = 256 * 1024


async def fetch_url(
    session: aiohttp.ClientSession,
    url: str,
    kind: str,
    *,
    files_dir: Path | None,
    max_bytes: int = MAX_URL_BYTES,
    timeout: float = URL_FETCH_TIMEOUT,  # noqa: ASYNC109 (a bound on the whole fetch, as Telegram has)
) -> Upload:
    """The body at `url`, spooled like an upload; ApiError(400) with Telegram's words when it cannot be."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad_request(WRONG_URL)
    try:
        async with session.get(
            url, headers={aiohttp.hdrs.USER_AGENT: USER_AGENT}, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            if response.status != 200:
                raise bad_request(FETCH_FAILED)
            content_type = response.headers.get(aiohttp.hdrs.CONTENT_TYPE)
            accepted = _TYPES_BY_URL.get(kind)
            if accepted is not None and (content_type or "").split(";")[0].strip().lower() not in accepted:
                raise bad_request(WRONG_TYPE)
            if (response.content_length or 0) > max_bytes:
                raise bad_request(FETCH_FAILED)

            async def chunks() -> AsyncIterator[bytes]:
                async for chunk in response.content.iter_chunked(_CHUNK):
                    yield chunk

            fetched = await spool(
                chunks(),
                part_name=url,
                filename=Path(parts.path).name or None,
                content_type=content_type,
                files_dir=files_dir,
                max_bytes=max_bytes,
                too_big=lambda: bad_request(FETCH_FAILED),
            )
    except (TimeoutError, aiohttp.ClientError):
        raise bad_request(FETCH_FAILED) from None
    if fetched.size == 0:
        if fetched.temp_path is not None:
            fetched.temp_path.unlink(missing_ok=True)
        raise bad_request(FETCH_FAILED)
    return fetched
