"""Personas: a voice made from one of a person's tracks (provider-tools.md §8), for later songs.

**Make a persona** under a track asks a name, a description and the vocal window (bot/chat/forms.py,
flow "persona"); the call is synchronous and its answer the persona, saved for the person when it is
delivered (`save`, idempotent, so a retried delivery saves it once). /custom and /generate then offer
"in the voice of <name>": its personaId goes into a custom-mode request with personaModel
"style_persona", the only mode the provider takes it in (API §3.1).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field, model_validator

from bot.provider.models import ProviderSnapshot, first_text
from bot.studio import rules
from bot.studio.tool import Tool, failed
from bot.studio.track_tools import TrackToolRequest
from storage.models import FileData, Stage, TaskKind

WINDOW = (10.0, 30.0)  # vocalEnd - vocalStart, in seconds
NAME_LIMIT = 80  # undocumented: as long as a title may be
DESCRIPTION_LIMIT = 1000  # undocumented: as long as a style may be
STYLE_PERSONA = "style_persona"


class PersonaRequest(TrackToolRequest):
    endpoint: ClassVar[str] = "/api/v1/generate/generate-persona"

    name: str
    description: str
    vocal_start: float = 0.0
    vocal_end: float = 30.0
    track_duration: float | None = Field(None, exclude=True)  # ours, to check the window; never sent

    @model_validator(mode="after")
    def _rules(self) -> PersonaRequest:
        self._require("name", "description")
        self._check_lengths(name=(self.name, NAME_LIMIT), description=(self.description, DESCRIPTION_LIMIT))
        low, high = WINDOW
        span = self.vocal_end - self.vocal_start
        if self.vocal_start < 0 or not low <= span <= high:
            raise rules.out_of_range("vocalWindow", low, high, round(span, 1))
        if self.track_duration is not None and self.vocal_end > self.track_duration:
            raise rules.out_of_range("vocalEnd", low, int(self.track_duration), round(self.vocal_end, 1))
        return self

    def body(self, callback_url: str) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)  # synchronous: no callback


def read_answer(own_id: str, data: dict[str, Any]) -> ProviderSnapshot:
    persona_id = first_text(data, ("personaId", "persona_id"))
    if persona_id is None:
        return failed(own_id, {"code": 500, "msg": "the answer named no persona"})
    saved = {
        "personaId": persona_id,
        "name": first_text(data, ("name",)) or "",
        "description": first_text(data, ("description",)) or "",
    }
    # A text only the bot reads: delivery saves it (`save`) and tells the person.
    return ProviderSnapshot(
        task_id=own_id,
        stage=Stage.COMPLETE,
        files=[FileData(name="persona", media="text", text=json.dumps(saved), title=saved["name"])],
    )


def saved_persona(text: str | None) -> dict[str, str] | None:
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("personaId"), str):
        return None
    return {k: str(value.get(k) or "") for k in ("personaId", "name", "description")}


TOOL = Tool(
    kind=TaskKind.PERSONA,
    request=PersonaRequest,
    poll_path=None,
    read_answer=read_answer,
    button="button.persona",
    code="per",  # opens the persona questions (handlers/forms.py), not started at once
)
