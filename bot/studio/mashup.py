"""Mashup: two songs mixed into a new one (provider-tools.md §10).

The two doc revisions disagree (§18.1): the snapshot wants `customMode` and models V4..V5, the newer
copy is always custom with V6 / V6_WILD / V6_MINI. We send what both take (`uploadUrlList`,
`customMode: true`, `model`, `prompt`, `style`, `title`) within the limits every model allows, and when
the provider refuses the model by name we try once with the other family (`other_model`, run by the
submitter through `Tool.retry`).

The two songs are kept as references, `upload:<id>` (a file the person sent, served by /files/ like the
other upload tasks) or `track:<id>` (a delivered track, whose provider `audio_url` is given as is: the
provider made and hosts it, so nothing is copied or re-served, and it works without PUBLIC_URL). They
become `uploadUrlList` just before sending, so no signed link is stored with the task.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from bot.provider.errors import ProviderError
from bot.provider.models import ProviderRequest
from bot.studio import rules
from bot.studio.tool import Tool
from storage.models import TaskKind

# The snapshot's enum and the newer revision's: an account takes one family or the other (§18.1).
CLASSIC_MODELS = ("V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5")
V6_MODELS = ("V6", "V6_WILD", "V6_MINI")
MODELS = (*CLASSIC_MODELS, *V6_MODELS)
# What each family falls back to when the provider refuses a model of the other (V5 is in both lists,
# as current in the snapshot and kept for compatibility in the newer copy).
FALLBACK = {"classic": "V6", "v6": "V5"}
# The newer revision lists V5_5 only as deprecated and the snapshot not at all: songs on V5_5 mash up on V5.
_MAPPED = {"V5_5": "V5"}
PROMPT_LIMITS = {"V4": 3000}  # otherwise 5000 (both revisions)
STYLE_LIMITS = {"V4": 200}  # otherwise 1000
DEFAULT_PROMPT_LIMIT = 5000
DEFAULT_STYLE_LIMIT = 1000
TITLE_LIMIT = 80  # 80 for V4, V4_5ALL and the newer revision, 100 for the rest: 80 is safe for all
DEFAULT_STYLE = "mashup, seamless blend"  # when neither song's style is known (two uploaded files)
INSTRUMENTAL_PROMPT = "[Instrumental]"  # the snapshot requires a prompt even for an instrumental mix
SOURCE = re.compile(r"^(upload|track):\d+$")


def mashup_model(song_model: str) -> str:
    """The model to try first: the songs' own (SUNO_MODEL) when mashup takes it, else its nearest."""
    model = _MAPPED.get(song_model, song_model)
    return model if model in MODELS else FALLBACK["classic"]


def fallback_model(model: str) -> str:
    return FALLBACK["v6"] if model in V6_MODELS else FALLBACK["classic"]


def prompt_limit(model: str) -> int:
    return PROMPT_LIMITS.get(model, DEFAULT_PROMPT_LIMIT)


def style_limit(model: str) -> int:
    return STYLE_LIMITS.get(model, DEFAULT_STYLE_LIMIT)


class MashupRequest(ProviderRequest):
    endpoint: ClassVar[str] = "/api/v1/generate/mashup"

    # Ours: the two songs, resolved to uploadUrlList just before sending (bot/tasks/submitter.py).
    sources: list[str]
    upload_url_list: list[str] | None = None
    custom_mode: bool = True
    model: str
    prompt: str
    style: str
    title: str
    instrumental: bool | None = None
    # The first model tried, when this request is the retry with the other family; never sent.
    tried_model: str | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _rules(self) -> MashupRequest:
        if len(self.sources) != 2 or not all(SOURCE.match(s) for s in self.sources):
            raise PydanticCustomError("invalid", "two songs are needed", {"field": "uploadUrlList"})
        if self.sources[0] == self.sources[1]:
            raise PydanticCustomError("same_song", "pick two different songs", {"field": "uploadUrlList"})
        if self.upload_url_list is not None:
            urls = self.upload_url_list
            if len(urls) != 2 or not all(re.match(r"^https?://\S+$", u) for u in urls):
                raise PydanticCustomError("invalid", "two http(s) URLs", {"field": "uploadUrlList"})
        if not self.custom_mode:
            raise PydanticCustomError("invalid", "mashup is sent in custom mode", {"field": "customMode"})
        if self.model not in MODELS:
            raise rules.not_one_of("model", MODELS, self.model)
        self._require("prompt", "style", "title")
        self._check_lengths(
            prompt=(self.prompt, prompt_limit(self.model)),
            style=(self.style, style_limit(self.model)),
            title=(self.title, TITLE_LIMIT),
        )
        return self

    def body(self, callback_url: str) -> dict[str, Any]:
        if self.upload_url_list is None:
            raise ValueError("MashupRequest needs its uploadUrlList before it is sent")
        data = self.model_dump(by_alias=True, exclude_none=True, exclude={"sources"})
        data["callBackUrl"] = callback_url
        return data


def other_model(request: ProviderRequest, error: ProviderError) -> ProviderRequest | None:
    """The same mashup on the other model family, when the provider refused this one by name (once)."""
    if not isinstance(request, MashupRequest) or request.tried_model is not None:
        return None
    message = error.message.lower()
    if error.code not in (400, 422) or "model" not in message or request.model.lower() not in message:
        return None
    # Validated again: the limits of the first model are never looser than the fallback's.
    fields = request.model_dump(exclude={"tried_model"})
    return MashupRequest(**{**fields, "model": fallback_model(request.model), "tried_model": request.model})


TOOL = Tool(
    kind=TaskKind.MASHUP,
    request=MashupRequest,
    button="button.mashup",
    code="mash",  # opens the mashup questions (handlers/mashup.py), not started at once
    retry=other_model,
)
