"""A Draft as plain JSON values and back, for keeping open questions across restarts.

Written out field by field rather than pickled or dumped with `asdict`: what is stored is a format of its
own that a later version must still read, and reading checks everything, because a draft that does not
fit today's flows (renamed, reordered, a value of the wrong type) must be refused, not half-used.
"""

from __future__ import annotations

import math
from typing import Any

from bot.chat.forms import FLOWS, INSTRUMENTAL, Draft

FORMAT = 1
_INSTRUMENTAL = {"special": "instrumental"}  # the answer "no lyrics", which is neither text nor a number


class StoredDraftInvalid(ValueError):
    """A stored draft this version cannot use; the person is asked to start again."""


def draft_to_json(draft: Draft) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "flow": draft.flow,
        "model": draft.model,
        "upload_id": draft.upload_id,
        "duration": draft.duration,
        "default_title": draft.default_title,
        "audio_id": draft.audio_id,
        "default_style": draft.default_style,
        "answers": {name: answer_to_json(name, value) for name, value in draft.answers.items()},
        "step": draft.step,
        "chat_id": draft.chat_id,
        "task_id": draft.task_id,
        "voices": dict(draft.voices),
        "boost": draft.boost,
        "source_lyrics": draft.source_lyrics,
        "picks": dict(draft.picks),
        "pick_styles": dict(draft.pick_styles),
    }


def answer_to_json(name: str, value: object) -> object:
    if value is INSTRUMENTAL:
        return dict(_INSTRUMENTAL)
    if isinstance(value, str) or (isinstance(value, float) and math.isfinite(value)):
        return value
    # Failing here, at write time, is what keeps a new kind of answer from being stored as garbage.
    raise TypeError(f"answer {name!r} of type {type(value).__name__} has no JSON form")


def draft_from_json(value: object) -> Draft:
    """The Draft `value` describes; StoredDraftInvalid if it is not one today's flows can continue."""
    if not isinstance(value, dict):
        raise StoredDraftInvalid("not an object")
    if value.get("format") != FORMAT:
        raise StoredDraftInvalid(f"format {value.get('format')!r}, expected {FORMAT}")
    expected = {
        "format",
        "flow",
        "model",
        "upload_id",
        "duration",
        "default_title",
        "audio_id",
        "default_style",
        "answers",
        "step",
    }
    # `chat_id`, `task_id`, `voices`, `boost`, `source_lyrics` and the mashup's `picks` and `pick_styles`
    # came later: a draft stored without them is still read.
    later = {"chat_id", "task_id", "voices", "boost", "source_lyrics", "picks", "pick_styles"}
    if set(value) - later != expected:
        raise StoredDraftInvalid(f"fields {sorted(set(value) ^ expected)} unexpected or missing")
    flow = FLOWS.get(_typed(value, "flow", str))
    if flow is None:
        raise StoredDraftInvalid(f"no flow {value['flow']!r}")
    step = _typed(value, "step", int)
    if not 0 <= step < len(flow.questions):  # a finished flow is never stored
        raise StoredDraftInvalid(f"step {step} outside flow {flow.name!r}")
    answers = value["answers"]
    if not isinstance(answers, dict):
        raise StoredDraftInvalid("answers is not an object")
    asked = {question.name for question in flow.questions[:step]}
    if set(answers) != asked:
        # The flow's questions changed since: its request could not be built from these answers.
        raise StoredDraftInvalid(f"answers {sorted(answers)} do not match flow {flow.name!r} at step {step}")
    return Draft(
        flow=flow.name,
        model=_typed(value, "model", str),
        upload_id=_optional(value, "upload_id", int),
        duration=_duration(value["duration"]),
        default_title=_typed(value, "default_title", str),
        audio_id=_optional(value, "audio_id", str),
        default_style=_typed(value, "default_style", str),
        answers={name: answer_from_json(name, answer) for name, answer in answers.items()},
        step=step,
        chat_id=_optional(value, "chat_id", int) if "chat_id" in value else None,
        task_id=_optional(value, "task_id", str) if "task_id" in value else None,
        voices=_voices(value.get("voices", {})),
        boost=value.get("boost") is True,
        source_lyrics=_typed(value, "source_lyrics", str) if "source_lyrics" in value else "",
        picks=_names(value.get("picks", {}), "picks"),
        pick_styles=_names(value.get("pick_styles", {}), "pick_styles"),
    )


def _voices(value: object) -> dict[str, str]:
    return _names(value, "voices")


def _names(value: object, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise StoredDraftInvalid(f"{name} is {value!r}")
    return {str(k): v for k, v in value.items()}


def answer_from_json(name: str, value: object) -> object:
    if value == _INSTRUMENTAL:
        return INSTRUMENTAL
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise StoredDraftInvalid(f"answer {name!r} is {value!r}")


def _typed(value: dict[str, Any], name: str, kind: type[Any]) -> Any:
    item = value[name]
    # bool is an int to isinstance, never a step or an id here.
    if not isinstance(item, kind) or isinstance(item, bool):
        raise StoredDraftInvalid(f"{name} is {item!r}, not {kind.__name__}")
    return item


def _optional(value: dict[str, Any], name: str, kind: type[Any]) -> Any:
    return None if value[name] is None else _typed(value, name, kind)


def _duration(item: object) -> float | None:
    if item is None:
        return None
    if not isinstance(item, int | float) or isinstance(item, bool) or not math.isfinite(item):
        raise StoredDraftInvalid(f"duration is {item!r}, not a number")
    return float(item)
