"""Stems of a delivered track (provider-tools.md §4): Separate vocals (two files) and All stems (up to 12).

Both are one endpoint with a `type`; the results are audios named after their stems, sent as one album
(or a .zip when there are more than an album holds: bot/studio/delivery.py). Which stems came is read
from the fields present, as the docs say; the callback's snake_case and record-info's camelCase names are
both read, under sunoapi's `vocal_removal_info` and kie's `vocal_separation_info`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from bot.studio.tool import Tool
from bot.studio.track_tools import TrackToolRequest, callback_reader, record_reader, track_fields, url_under
from storage.models import FileData, Task, TaskKind, Track

SEPARATE_VOCAL, SPLIT_STEM = "separate_vocal", "split_stem"
# Each stem the provider may report, in the order people expect them, and the name its file gets.
STEMS: tuple[tuple[str, str], ...] = (
    ("vocal", "Vocals"),
    ("instrumental", "Instrumental"),
    ("backing_vocals", "Backing vocals"),
    ("drums", "Drums"),
    ("bass", "Bass"),
    ("guitar", "Guitar"),
    ("keyboard", "Keyboard"),
    ("piano", "Piano"),
    ("percussion", "Percussion"),
    ("strings", "Strings"),
    ("synth", "Synth"),
    ("fx", "FX"),
    ("brass", "Brass"),
    ("woodwinds", "Woodwinds"),
)


class StemsRequest(TrackToolRequest):
    endpoint: ClassVar[str] = "/api/v1/vocal-removal/generate"

    type: Literal["separate_vocal", "split_stem"] = SEPARATE_VOCAL


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _files(data: Mapping[str, Any]) -> list[FileData]:
    info = data.get("vocal_removal_info") or data.get("vocal_separation_info")
    found = info if isinstance(info, Mapping) else data  # record-info's `response` holds them directly
    files = []
    for key, label in STEMS:
        url = url_under(found, f"{key}_url", _camel(f"{key}_url"))
        if url is not None:
            files.append(FileData(name=f"{label}.mp3", media="audio", url=url, title=label))
    return files


def _fields(kind: str) -> Any:
    def fields(task: Task, track: Track) -> dict[str, Any]:
        return {**track_fields(task, track), "type": kind}

    return fields


_READERS: dict[str, Any] = {
    "poll_path": "/api/v1/vocal-removal/record-info",
    "read_callback": callback_reader(_files),
    "read_record": record_reader(_files),
}

VOCALS = Tool(
    kind=TaskKind.VOCALS,
    request=StemsRequest,
    button="button.vocals",
    code="voc",
    from_track=_fields(SEPARATE_VOCAL),
    **_READERS,
)
STEMS_TOOL = Tool(
    kind=TaskKind.STEMS,
    request=StemsRequest,
    button="button.stems",
    code="stm",
    from_track=_fields(SPLIT_STEM),
    **_READERS,
)
