"""POST /api/v1/generate/generate-persona (provider-tools.md §8): synchronous, one persona per track.

taskId, audioId, name and description are required; the vocal window (vocalStart, default 0, and
vocalEnd, default 30) must be 10-30 s long and inside the track; a second persona of the same track
answers 409. The personaId it gives is then accepted by the music endpoints in custom mode.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from emulators.provider.rules import RuleError, _string
from emulators.provider.studio.files import StudioHost

ENDPOINT = "generate/generate-persona"
SYNCHRONOUS = True
COST = 0  # undocumented (§18.12)
WINDOW = (10.0, 30.0)


def _seconds(body: Mapping[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RuleError(422, f"{name} must be a number of seconds, at least 0")
    return float(value)


def answer(body: Mapping[str, Any], host: StudioHost) -> tuple[int, dict[str, Any]]:
    track = host.music_track(body, callback=False)
    name = _string(body, "name", required=True)
    description = _string(body, "description", required=True)
    _string(body, "style", required=False)
    start, end = _seconds(body, "vocalStart", 0.0), _seconds(body, "vocalEnd", 30.0)
    low, high = WINDOW
    if not low <= end - start <= high:
        raise RuleError(422, f"the vocal window must be {low:g}-{high:g} seconds long")
    if end > track.duration:
        raise RuleError(422, "the vocal window must lie inside the track")
    if track.id in host.personas.values():
        raise RuleError(409, "Persona already exists for this music")
    persona_id = secrets.token_hex(16)
    host.personas[persona_id] = track.id
    return COST, {"personaId": persona_id, "name": name, "description": description}
