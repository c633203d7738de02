"""POST /api/v1/generate/get-timestamped-lyrics (provider-tools.md §3): synchronous, taskId + audioId.

The answer is the track's words with their times (`alignedWords`), a waveform and a score; an
instrumental answers with empty arrays (the undocumented case, read as Suno's own call does, §18.7).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from emulators.provider.studio.files import StudioHost

ENDPOINT = "generate/get-timestamped-lyrics"
SYNCHRONOUS = True
COST = 0  # undocumented (§18.12): reading what exists is taken as free


def answer(body: Mapping[str, Any], host: StudioHost) -> tuple[int, dict[str, Any]]:
    track = host.music_track(body, callback=False)
    lines = [line for line in track.prompt.splitlines() if line.strip()]
    words: list[str] = []
    for line in lines:
        # Section tags ride on the first word after them, with the newline, as the docs' example shows.
        parts = line.split() if not re.fullmatch(r"\[.*\]", line.strip()) else [line.strip()]
        if words and parts:
            parts[0] = "\n" + parts[0]
        words.extend(parts)
    step = max(track.duration - 1.0, 1.0) / max(len(words), 1)
    aligned = [
        {
            "word": word,
            "success": True,
            "startS": round(0.5 + i * step, 2),
            "endS": round(0.5 + (i + 0.8) * step, 2),
            "palign": 0,
        }
        for i, word in enumerate(words)
    ]
    waveform = [round(abs(((i * 37) % 100) / 100), 2) for i in range(32)] if aligned else []
    return COST, {
        "alignedWords": aligned,
        "waveformData": waveform,
        "hootCer": 0.38 if aligned else 0,
        "isStreamed": False,
    }
