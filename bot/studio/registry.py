"""Every studio tool, by task kind: adding one is a line here (and its module, texts and emulator part)."""

from __future__ import annotations

from bot.studio import (
    lyrics,
    mashup,
    persona,
    recovery,
    replace_section,
    sounds,
    stems,
    timed_lyrics,
    video,
    wav,
)
from bot.studio.boost import TOOL as BOOST
from bot.studio.cover import TOOL as COVER
from bot.studio.tool import Tool
from storage.models import TaskKind

TOOLS: dict[TaskKind, Tool] = {
    tool.kind: tool
    for tool in (
        sounds.TOOL,
        wav.TOOL,
        timed_lyrics.TOOL,
        stems.VOCALS,
        stems.STEMS_TOOL,
        video.TOOL,
        persona.TOOL,
        lyrics.TOOL,
        BOOST,
        replace_section.TOOL,
        COVER,
        mashup.TOOL,
        recovery.TOOL,
    )
}


def tool_for(kind: TaskKind) -> Tool | None:
    return TOOLS.get(kind)
