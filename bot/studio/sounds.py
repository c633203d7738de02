"""Sounds: `/sound <description>` makes short sounds, loops and ambiences (provider-tools.md §11).

The worked example of a studio tool (README "Adding a task kind"): a request model with every rule the
docs give, the tool's declaration, and how `/sound`'s words become a request. Its results come in the
music shape, so the defaults read them and they are delivered as tracks.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import model_validator

from bot.provider.models import ProviderRequest
from bot.studio import rules
from bot.studio.tool import Tool
from storage.models import TaskKind

PROMPT_LIMIT = 500
TEMPO_RANGE = (1, 300)  # BPM, from kie's twin (provider-tools.md §18.6)
_NOTES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
# Written with sharps, never flats; "Any" is the provider's default.
KEYS = ("Any", *_NOTES, *(f"{note}m" for note in _NOTES))
# Which of the options each model takes: sounds are a V5 task type [C]; a model added here without
# options makes the bot refuse them on it rather than send what the provider would ignore or reject.
MODEL_OPTIONS: dict[str, frozenset[str]] = {"V5": frozenset({"soundLoop", "soundTempo", "soundKey"})}
DEFAULT_MODEL = "V5"


class SoundsRequest(ProviderRequest):
    endpoint: ClassVar[str] = "/api/v1/generate/sounds"

    prompt: str
    model: str = DEFAULT_MODEL
    sound_loop: bool | None = None
    sound_tempo: int | None = None
    sound_key: str | None = None

    @model_validator(mode="after")
    def _rules(self) -> SoundsRequest:
        self._require("prompt")
        self._check_lengths(prompt=(self.prompt, PROMPT_LIMIT))
        if self.model not in MODEL_OPTIONS:
            raise rules.not_one_of("model", MODEL_OPTIONS, self.model)
        given = {
            "soundLoop": self.sound_loop is not None,
            "soundTempo": self.sound_tempo is not None,
            "soundKey": self.sound_key is not None,
        }
        for option, present in given.items():
            if present and option not in MODEL_OPTIONS[self.model]:
                raise rules.not_for_model(option, self.model)
        low, high = TEMPO_RANGE
        if self.sound_tempo is not None and not low <= self.sound_tempo <= high:
            raise rules.out_of_range("soundTempo", low, high, self.sound_tempo)
        if self.sound_key is not None and self.sound_key not in KEYS:
            raise rules.not_one_of("soundKey", KEYS, self.sound_key)
        return self


TOOL = Tool(kind=TaskKind.SOUNDS, request=SoundsRequest)

# `/sound rain on a tin roof loop=yes bpm=90 key=C#m`: options are name=value words anywhere.
_OPTION_NAMES = {"loop": "sound_loop", "bpm": "sound_tempo", "tempo": "sound_tempo", "key": "sound_key"}
_OPTION_NAMES["model"] = "model"
_YES, _NO = ("yes", "y", "on", "true", "1", "да"), ("no", "n", "off", "false", "0", "нет")


class OptionProblem(ValueError):
    """A word of `/sound` that is no option we know, or an option's value we cannot read."""

    def __init__(self, word: str) -> None:
        super().__init__(word)
        self.word = word


def parse_command(words: list[str]) -> dict[str, Any]:
    """`/sound`'s words as request fields: the description, and the name=value options among them."""
    fields: dict[str, Any] = {}
    description: list[str] = []
    for word in words:
        name, sep, value = word.partition("=")
        if not sep:
            description.append(word)
            continue
        field = _OPTION_NAMES.get(name.lower())
        if field is None or not value:
            raise OptionProblem(word)
        fields[field] = _option_value(field, value, word)
    fields["prompt"] = " ".join(description).strip()
    return fields


def _option_value(field: str, value: str, word: str) -> object:
    if field == "sound_loop":
        if value.lower() in _YES:
            return True
        if value.lower() in _NO:
            return False
        raise OptionProblem(word)
    if field == "sound_tempo":
        if not value.isdigit():
            raise OptionProblem(word)
        return int(value)
    if field == "sound_key":
        # People write "c#m" or "C#M": the provider's spelling is an upper-case note, a lower-case "m".
        if value.lower() == "any":
            return "Any"
        minor = len(value) > 1 and value[-1] in "mM" and value[:-1].upper() in _NOTES
        return value[:-1].upper() + "m" if minor else value.upper() if value.upper() in _NOTES else value
    return value.upper()
