"""Cover images made to fit Telegram's thumbnail rules: JPEG, at most 320x320 and 200 kB."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

MAX_SIDE = 320
MAX_BYTES = 200 * 1024


def make_thumbnail(data: bytes) -> bytes | None:
    """The image as a conforming JPEG thumbnail, or None when it is not an image we can read.

    CPU-bound: call it in a thread.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG" and max(image.size) <= MAX_SIDE and len(data) <= MAX_BYTES:
                return data
            image = image.convert("RGB")
            image.thumbnail((MAX_SIDE, MAX_SIDE))
            for quality in (85, 70, 50, 30):
                out = io.BytesIO()
                image.save(out, format="JPEG", quality=quality, optimize=True)
                if out.tell() <= MAX_BYTES:
                    return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return None
