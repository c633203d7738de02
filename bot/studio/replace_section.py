"""Replace a section: new lyrics sung over a part of a delivered track (provider-tools.md §9, mode 1).

**Replace a section** under a track's More… asks which part (start-end, in seconds), its new lyrics, and
the whole song's lyrics after the change (bot/chat/forms.py, flow "replace"). The task is music-shaped:
`taskId` to send, the music record-info to poll, a `complete`-only callback with one or two tracks,
delivered like songs (the default readers).

The window rule is the client rule of §9 (the docs disagree on the lower end, §18.2): 10 to 60 s, at most
half the track, inside it, start before end, two decimals. `window_rule` says which part of it a window
breaks, so the question and the request model refuse with the same rule in their own words.
"""

from __future__ import annotations

import math
from typing import ClassVar

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from bot.provider.models import Model, limits_for
from bot.studio import rules
from bot.studio.timed_lyrics import is_instrumental
from bot.studio.tool import Tool
from bot.studio.track_tools import TrackToolRequest
from storage.models import Task, TaskKind, Track

SPAN = (10.0, 60.0)  # infillEndS - infillStartS, in seconds
MAX_SHARE = 0.5  # of the track's duration
# The shortest track with any valid window: 10 s may be at most half of it.
MIN_TRACK_SECONDS = SPAN[0] / MAX_SHARE
# Without the track's model the strictest limits hold (V4's), so nothing the provider refuses is sent.
STRICTEST_MODEL = "V4"
REPLACED_TAG = "[Replaced]"
# The style sent when neither the track nor its request has one (see `style_of`).
SAME_STYLE = "same style as the original"


def window_rule(start: float, end: float, duration: float | None) -> str | None:
    """Which rule the window breaks ("order", "short", "long", "half", "past_end"), or None."""
    span = end - start
    if start < 0 or end <= start:
        return "order"
    if span < SPAN[0]:
        return "short"
    if span > SPAN[1]:
        return "long"
    if duration is not None and end > duration:
        return "past_end"
    if duration is not None and span > duration * MAX_SHARE:
        return "half"
    return None


def longest_span(duration: float | None) -> float:
    """The longest part that may be replaced in a track this long."""
    if duration is None:
        return SPAN[1]
    return min(SPAN[1], round(duration * MAX_SHARE, 2))


def _two_decimals(value: float) -> bool:
    return abs(value * 100 - round(value * 100)) < 1e-6


class ReplaceSectionRequest(TrackToolRequest):
    endpoint: ClassVar[str] = "/api/v1/generate/replace-section"

    prompt: str  # the lyrics of the replaced part ("Replaced lyrics")
    tags: str  # the style: this endpoint calls it tags
    title: str
    infill_start_s: float
    infill_end_s: float
    full_lyrics: str  # the whole song's lyrics after the edit
    # Ours, never sent: mode 1 names no model (mode 2 does), but the track's sets the text limits and is
    # kept as the task's model, so a replaced track can be extended or replaced again on the same model.
    model: Model | None = Field(None, exclude=True)
    track_duration: float | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _rules(self) -> ReplaceSectionRequest:
        self._require("prompt", "tags", "title", "full_lyrics")
        limits = limits_for(self.model or STRICTEST_MODEL)
        self._check_lengths(
            prompt=(self.prompt, limits.prompt),
            fullLyrics=(self.full_lyrics, limits.prompt),
            tags=(self.tags, limits.style),
            title=(self.title, limits.title),
            negativeTags=(self.negative_tags, limits.style),
        )
        for name, value in (("infillStartS", self.infill_start_s), ("infillEndS", self.infill_end_s)):
            if not _two_decimals(value):
                raise PydanticCustomError(
                    "decimals", "{field} has more than 2 decimals", {"field": name, "actual": value}
                )
        start, end, duration = self.infill_start_s, self.infill_end_s, self.track_duration
        broken = window_rule(start, end, duration)
        span = round(end - start, 2)
        # A problem's limit is whole seconds (rounded down, so the figure shown is always allowed).
        if broken == "order":
            raise rules.out_of_range("infillStartS", 0, math.floor(max(end, 0)), start)
        if broken == "past_end":
            raise rules.out_of_range("infillEndS", SPAN[0], math.floor(duration or 0), end)
        if broken is not None:
            raise rules.out_of_range("infillWindow", SPAN[0], math.floor(longest_span(duration)), span)
        return self


def refuse(task: Task, track: Track) -> str | None:
    """Before anything is asked: no lyrics to replace, or no window that fits (a catalogue key)."""
    if is_instrumental(task) or not track.prompt.strip():
        # A track the provider gave no lyrics is sung without words: there is nothing to replace.
        return "replace.instrumental"
    if (track.duration or 0) < MIN_TRACK_SECONDS:
        return "replace.too_short"
    return None


def style_of(task: Task, track: Track) -> str:
    """The style sent as `tags`: the track's, else the one its request asked for, else a neutral one.

    The endpoint requires tags and the replaced part should sound like the rest, so the person is not
    asked for a style; but the provider gives some tracks none (a simple-mode song may come back with
    `tags: ""`), and refusing at the end for a field nobody asked about would be a refusal no answer
    fixes. A description of "as it was" is what a person would type there."""
    asked = task.params.get("style") or task.params.get("tags")  # a replaced track's request says tags
    return track.tags.strip() or str(asked or "").strip() or SAME_STYLE


def kept_lyrics(original: str, new_part: str) -> str:
    """The whole song's lyrics when the person keeps the rest: the original ones, the new part after them.

    Which lines the chosen seconds cover is unknown without the time-aligned lyrics, a paid call of its
    own; guessing by position could silently drop lines the person meant to keep. Keeping every line and
    adding the new part in a section of its own loses nothing and is what the button says it does.
    """
    return f"{original.rstrip()}\n\n{REPLACED_TAG}\n{new_part.strip()}"


TOOL = Tool(
    kind=TaskKind.REPLACE_SECTION,
    request=ReplaceSectionRequest,
    button="button.replace",
    code="rep",  # opens the replace questions (handlers/forms.py), not started at once
    refuse=refuse,
)
