"""Lyrics under a track: its time-aligned words (provider-tools.md §3) as text and as an `.lrc` file.

Synchronous: the answer is the result. Words carry their section tags and line breaks (`"[Verse]\\nWaggin'"`);
the text keeps them, the LRC gives each sung line the time of its first word. An instrumental has no
lyrics: refused before anything is spent when the track is known to be one, and an answer without
words fails the task (its credits given back) rather than sending an empty file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from bot.provider.models import ProviderSnapshot
from bot.studio.tool import Tool, failed
from bot.studio.track_tools import TrackToolRequest, track_fields
from storage.models import FileData, Stage, Task, TaskKind, Track

NO_LYRICS_CODE = 422
_TAG = re.compile(r"\[[^\]]*\]")
INSTRUMENTAL_KINDS = (TaskKind.ADD_INSTRUMENTAL, TaskKind.SOUNDS)


class TimedLyricsRequest(TrackToolRequest):
    endpoint: ClassVar[str] = "/api/v1/generate/get-timestamped-lyrics"

    def body(self, callback_url: str) -> dict[str, Any]:
        # Synchronous: there is no callback to name.
        return self.model_dump(by_alias=True, exclude_none=True)


def is_instrumental(task: Task) -> bool:
    return task.kind in INSTRUMENTAL_KINDS or task.params.get("instrumental") is True


def refuse(task: Task, track: Track) -> str | None:
    return "lyrics.instrumental" if is_instrumental(task) else None


def _clock(seconds: float) -> str:
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"[{int(minutes):02d}:{rest:05.2f}]"


def lines_of(words: list[Mapping[str, Any]]) -> list[tuple[float, str]]:
    """Each sung line with the start of its first word; section tags are left out."""
    lines: list[tuple[float, list[str]]] = []
    for item in words:
        word = item.get("word")
        start = item.get("startS")
        if not isinstance(word, str) or not isinstance(start, int | float) or isinstance(start, bool):
            continue
        pieces = word.split("\n")
        for i, piece in enumerate(pieces):
            if i > 0 or not lines:
                lines.append((float(start), []))
            text = _TAG.sub("", piece).strip()
            if text:
                if not lines[-1][1]:
                    lines[-1] = (float(start), lines[-1][1])
                lines[-1][1].append(text)
    return [(start, " ".join(parts)) for start, parts in lines if parts]


def read_answer(own_id: str, data: dict[str, Any]) -> ProviderSnapshot:
    words = [w for w in data.get("alignedWords") or [] if isinstance(w, Mapping)]
    lines = lines_of(words)
    if not lines:
        body = {"code": NO_LYRICS_CODE, "msg": "this track has no lyrics (an instrumental)"}
        return failed(own_id, body, default_code=NO_LYRICS_CODE)
    text = "".join(str(w.get("word") or "") + " " for w in words).replace(" \n", "\n").strip()
    lrc = "\n".join(f"{_clock(start)}{line}" for start, line in lines) + "\n"
    return ProviderSnapshot(
        task_id=own_id,
        stage=Stage.COMPLETE,
        files=[
            FileData(name="lyrics", media="text", text=text),
            FileData(name="lyrics.lrc", media="document", text=lrc),
        ],
    )


TOOL = Tool(
    kind=TaskKind.TIMED_LYRICS,
    request=TimedLyricsRequest,
    poll_path=None,
    read_answer=read_answer,
    button="button.lyrics",
    code="lrc",
    from_track=track_fields,
    refuse=refuse,
)
