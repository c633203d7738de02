"""The provider's studio endpoints (provider-tools.md), one module per tool, registered from here.

Music-shaped tools (sounds) register their validation with emulators/provider/rules.py and run on the
emulator's usual task runner; tools with their own result shapes add their routes (`ROUTES`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from emulators.provider import rules, tasks
from emulators.provider.studio import (
    boost,
    cover,
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

MUSIC_TOOLS = (sounds, replace_section, mashup)
FILE_TOOLS = (
    wav,
    stems,
    video,
    lyrics,
    timed_lyrics,
    persona,
    cover,
)  # timed_lyrics and persona answer at once; all run by emulators/provider/studio/files.py StudioHost
# Tools that answer on their own routes (`add_routes(app, prefix, host)`).
ROUTE_TOOLS = (boost, recovery)


def register() -> None:
    """Called once by the emulator before it builds its routes; repeating it changes nothing."""
    for tool in MUSIC_TOOLS:
        rules.register_kind(tool.ENDPOINT, tool.KIND, tool.FIELDS, tool.check)
        tasks.TASK_TYPES[tool.KIND] = tool.TYPE
        tasks.MODEL_NAMES.update(getattr(tool, "MODEL_NAMES", {}))
        # Only `complete` unless the tool says otherwise (mashup has all three stages).
        if getattr(tool, "STAGES", ("complete",)) == ("complete",):
            tasks.COMPLETE_ONLY_KINDS.add(tool.KIND)
        if tool.INSTRUMENTAL:
            tasks.INSTRUMENTAL_KINDS.add(tool.KIND)
        if getattr(tool, "REMAKES_SOURCE", False):  # its tracks are versions of the one it names
            tasks.REMAKE_KINDS.add(tool.KIND)
        if hasattr(tool, "fetch_sources"):  # songs given as URLs, fetched before the task runs
            tasks.SOURCE_FETCHES[tool.KIND] = tool.fetch_sources
        if hasattr(tool, "model_refusal"):  # an account may take only some models
            MODEL_GATES[tool.KIND] = tool.model_refusal


# Kind -> (studio host, model) -> why this account refuses the model, or None.
MODEL_GATES: dict[str, Callable[[Any, str], str | None]] = {}
