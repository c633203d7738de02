"""Music video of a delivered track (provider-tools.md §6): the MP4, sent as a video with the title."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from bot.studio.tool import Tool
from bot.studio.track_tools import TrackToolRequest, callback_reader, record_reader, track_fields, url_under
from storage.models import FileData, TaskKind


class VideoRequest(TrackToolRequest):
    endpoint: ClassVar[str] = "/api/v1/mp4/generate"


def _files(data: Mapping[str, Any]) -> list[FileData]:
    url = url_under(data, "video_url", "videoUrl")
    return [FileData(name="video.mp4", media="video", url=url)] if url else []


TOOL = Tool(
    kind=TaskKind.VIDEO,
    request=VideoRequest,
    poll_path="/api/v1/mp4/record-info",
    read_callback=callback_reader(_files),
    read_record=record_reader(_files),
    button="button.video",
    code="mp4",
    from_track=track_fields,
)
