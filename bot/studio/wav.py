"""WAV: the lossless file of a delivered track, as a document (provider-tools.md §5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from bot.studio.tool import Tool
from bot.studio.track_tools import TrackToolRequest, callback_reader, record_reader, track_fields, url_under
from storage.models import FileData, TaskKind


class WavRequest(TrackToolRequest):
    # The usage text says "taskId or audioId", the schema requires both: both are sent (§18.3).
    endpoint: ClassVar[str] = "/api/v1/wav/generate"


def _files(data: Mapping[str, Any]) -> list[FileData]:
    # `audioWavUrl` as documented; the kie-era `audio_wav_url` too.
    url = url_under(data, "audioWavUrl", "audio_wav_url")
    return [FileData(name="lossless.wav", media="document", url=url)] if url else []


TOOL = Tool(
    kind=TaskKind.WAV,
    request=WavRequest,
    poll_path="/api/v1/wav/record-info",
    read_callback=callback_reader(_files),
    read_record=record_reader(_files),
    button="button.wav",
    code="wav",
    from_track=track_fields,
)
