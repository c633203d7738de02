"""POST /api/v1/generate/sounds (provider-tools.md §11): validated strictly, then a music-shaped task.

The docs leave room (§18.6); the stricter reading wins: V5 only, callBackUrl required, the tempo an
integer 1-300 (or null), the key one of the sharps-only enum or "Any".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulators.provider.rules import Finder, RuleError, _limit, _model, _optional_bool, _string, _url

ENDPOINT = "generate/sounds"
KIND = "sounds"
TYPE = "SOUNDS"
INSTRUMENTAL = True  # sounds make no lyrics
FIELDS = frozenset({"prompt", "model", "soundLoop", "soundTempo", "soundKey", "grabLyrics", "callBackUrl"})
PROMPT_LIMIT = 500
_NOTES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
KEYS = frozenset({"Any", *_NOTES, *(f"{n}m" for n in _NOTES)})


def check(body: Mapping[str, Any], _find: Finder) -> str:
    _string(body, "prompt", required=True)
    _limit(body, "prompt", PROMPT_LIMIT, "for sounds")
    model = _model(body, frozenset({"V5"}))
    _url(body, "callBackUrl")
    _optional_bool(body, "soundLoop", False)
    _optional_bool(body, "grabLyrics", False)
    tempo = body.get("soundTempo")
    if tempo is not None and (not isinstance(tempo, int) or isinstance(tempo, bool) or not 1 <= tempo <= 300):
        raise RuleError(400, "soundTempo must be an integer from 1 to 300")
    key = body.get("soundKey")
    if key is not None and key not in KEYS:
        raise RuleError(400, "soundKey must be Any or a key such as C, C#m (sharps, no flats)")
    return model
