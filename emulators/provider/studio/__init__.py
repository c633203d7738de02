"""The provider's studio endpoints (provider-tools.md), one module per tool, registered from here.

Music-shaped tools (sounds) register their validation with emulators/provider/rules.py and run on the
emulator's usual task runner; tools with their own result shapes add their routes (`ROUTES`).
"""

from __future__ import annotations

from emulators.provider import rules, tasks
from emulators.provider.studio import (
    boost,
    lyrics,
    persona,
    recovery,
    sounds,
    stems,
    timed_lyrics,
    video,
    wav,
)

MUSIC_TOOLS = (sounds,)
FILE_TOOLS = (
    wav,
    stems,
    video,
    lyrics,
    timed_lyrics,
    persona,
)  # the last two answer at once  # run by emulators/provider/studio/files.py StudioHost
# Tools that answer on their own routes (`add_routes(app, prefix, host)`).
ROUTE_TOOLS = (boost, recovery)


def register() -> None:
    """Called once by the emulator before it builds its routes; repeating it changes nothing."""
    for tool in MUSIC_TOOLS:
        rules.register_kind(tool.ENDPOINT, tool.KIND, tool.FIELDS, tool.check)
        tasks.TASK_TYPES[tool.KIND] = tool.TYPE
        tasks.COMPLETE_ONLY_KINDS.add(tool.KIND)
        tasks.INSTRUMENTAL_KINDS.add(tool.KIND)
