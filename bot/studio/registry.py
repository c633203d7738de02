"""Every studio tool, by task kind: adding one is a line here (and its module, texts and emulator part)."""

from __future__ import annotations

from bot.studio import sounds, wav
from bot.studio.boost import TOOL as BOOST  # studio part 3
from bot.studio.tool import Tool
from storage.models import TaskKind

TOOLS: dict[TaskKind, Tool] = {tool.kind: tool for tool in (sounds.TOOL, wav.TOOL)}
# Studio part 3: boost style.
TOOLS.update({tool.kind: tool for tool in (BOOST,)})


def tool_for(kind: TaskKind) -> Tool | None:
    return TOOLS.get(kind)
