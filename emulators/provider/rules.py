"""Request validation of the provider emulator: the referee for what the bot sends.

Written from the provider's documented rules (required fields per endpoint and mode, the model enum,
per-model text limits), independently of the bot's own client code, so a bug shared by both cannot
hide. Where the docs leave room, the stricter reading wins: a request that passes here is one the real
provider documents as valid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ADD_MODELS",
    "ENDPOINT_KINDS",
    "MODELS",
    "UPLOAD_KINDS",
    "RuleError",
    "SourceTrack",
    "TextLimits",
    "register_kind",
    "text_limits",
    "validate_task_request",
]

MODELS = frozenset({"V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5"})
ADD_MODELS = frozenset({"V4_5PLUS", "V5", "V5_5"})  # add-vocals / add-instrumental only
DEFAULT_ADD_MODEL = "V4_5PLUS"
NON_CUSTOM_PROMPT_LIMIT = 500
ADD_TITLE_LIMIT = 100
PERSONA_MODELS = frozenset({"style_persona", "voice_persona"})

# Endpoint path suffix (after /api/v1/) -> task kind.
ENDPOINT_KINDS: dict[str, str] = {
    "generate": "generate",
    "generate/extend": "extend",
    "generate/upload-cover": "upload_cover",
    "generate/upload-extend": "upload_extend",
    "generate/add-vocals": "add_vocals",
    "generate/add-instrumental": "add_instrumental",
}
UPLOAD_KINDS = frozenset({"upload_cover", "upload_extend", "add_vocals", "add_instrumental"})

_TUNING = ("negativeTags", "vocalGender", "styleWeight", "weirdnessConstraint", "audioWeight")
_PERSONA = ("personaId", "personaModel")
KNOWN_FIELDS: dict[str, frozenset[str]] = {
    "generate": frozenset(
        {
            "customMode",
            "instrumental",
            "model",
            "callBackUrl",
            "prompt",
            "style",
            "title",
            *_TUNING,
            *_PERSONA,
        }
    ),
    "extend": frozenset(
        {
            "defaultParamFlag",
            "audioId",
            "model",
            "callBackUrl",
            "prompt",
            "style",
            "title",
            "continueAt",
            *_TUNING,
            *_PERSONA,
        }
    ),
    "upload_cover": frozenset(
        {
            "uploadUrl",
            "customMode",
            "instrumental",
            "model",
            "callBackUrl",
            "prompt",
            "style",
            "title",
            "duration",
            *_TUNING,
            *_PERSONA,
        }
    ),
    "upload_extend": frozenset(
        {
            "uploadUrl",
            "defaultParamFlag",
            "instrumental",
            "model",
            "callBackUrl",
            "prompt",
            "style",
            "title",
            "continueAt",
            *_TUNING,
            *_PERSONA,
        }
    ),
    "add_vocals": frozenset(
        {
            "uploadUrl",
            "prompt",
            "title",
            "style",
            "negativeTags",
            "callBackUrl",
            "model",
            "vocalGender",
            "styleWeight",
            "weirdnessConstraint",
            "audioWeight",
        }
    ),
    "add_instrumental": frozenset(
        {
            "uploadUrl",
            "title",
            "tags",
            "negativeTags",
            "callBackUrl",
            "model",
            "vocalGender",
            "styleWeight",
            "weirdnessConstraint",
            "audioWeight",
        }
    ),
}


@dataclass(frozen=True, slots=True)
class RuleError(Exception):
    """A rejected request: the envelope ``code`` (400 invalid, 413 too long) and a msg naming the field."""

    code: int
    msg: str

    def __str__(self) -> str:
        return f"{self.code}: {self.msg}"


@dataclass(frozen=True, slots=True)
class SourceTrack:
    """What extend (and replace-section) need to know about a track this emulator produced."""

    model: str
    duration: float
    ready: bool
    task_id: str = ""  # the task that made it (replace-section names both)


@dataclass(frozen=True, slots=True)
class TextLimits:
    prompt: int
    style: int
    title: int


def text_limits(model: str) -> TextLimits:
    """Custom-mode limits from the provider's table (prompt = lyrics)."""
    if model == "V4":
        return TextLimits(prompt=3000, style=200, title=80)
    if model == "V4_5ALL":
        return TextLimits(prompt=5000, style=1000, title=80)
    return TextLimits(prompt=5000, style=1000, title=100)


def unknown_fields(kind: str, body: Mapping[str, Any]) -> tuple[str, ...]:
    """Fields the provider does not document for this endpoint: ignored, but recorded by the caller."""
    return tuple(sorted(set(body) - KNOWN_FIELDS[kind]))


def validate_task_request(
    kind: str, body: Mapping[str, Any], find_source: Callable[[str], SourceTrack | None]
) -> str:
    """Raise RuleError for a request the provider would reject; return the model the task runs on."""
    check = _CHECKS[kind]
    return check(body, find_source)


# --- field checks -------------------------------------------------------------------------------


def _present(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    return value is not None and value != ""


def _require_bool(body: Mapping[str, Any], name: str) -> bool:
    if name not in body or body[name] is None:
        raise RuleError(400, f"{name} is required")
    value = body[name]
    if not isinstance(value, bool):
        raise RuleError(400, f"{name} must be a boolean")
    return value


def _optional_bool(body: Mapping[str, Any], name: str, default: bool) -> bool:
    if body.get(name) is None:
        return default
    return _require_bool(body, name)


def _string(body: Mapping[str, Any], name: str, *, required: bool) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise RuleError(400, f"{name} is required")
        return None
    if not isinstance(value, str):
        raise RuleError(400, f"{name} must be a string")
    if required and not value.strip():
        raise RuleError(400, f"{name} must not be blank")
    return value


def _limit(body: Mapping[str, Any], name: str, limit: int, context: str) -> None:
    value = body.get(name)
    if isinstance(value, str) and len(value) > limit:
        raise RuleError(413, f"{name} is too long {context} ({len(value)} > {limit} characters)")


def _model(body: Mapping[str, Any], allowed: frozenset[str], default: str | None = None) -> str:
    value = body.get("model")
    if value is None or value == "":
        if default is None:
            raise RuleError(400, "model is required")
        return default
    if value not in allowed:
        raise RuleError(400, f"model must be one of {', '.join(sorted(allowed))}")
    return str(value)


def _url(body: Mapping[str, Any], name: str) -> str:
    value = str(_string(body, name, required=True))
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise RuleError(400, f"{name} must be a valid http(s) URL")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _tuning(body: Mapping[str, Any]) -> None:
    """The optional shared fields: weights 0..1 in steps of 0.01, vocalGender m/f, negativeTags text."""
    for name in ("styleWeight", "weirdnessConstraint", "audioWeight"):
        value = body.get(name)
        if value is None:
            continue
        if not _number(value) or not 0 <= value <= 1:
            raise RuleError(400, f"{name} must be a number from 0 to 1")
        if abs(value * 100 - round(value * 100)) > 1e-6:
            raise RuleError(400, f"{name} must be a multiple of 0.01")
    gender = body.get("vocalGender")
    if gender is not None and gender not in ("m", "f"):
        raise RuleError(400, "vocalGender must be 'm' or 'f'")
    _string(body, "negativeTags", required=False)


def _persona(body: Mapping[str, Any], custom: bool) -> None:
    persona_id = _string(body, "personaId", required=False)
    persona_model = body.get("personaModel")
    if persona_id is not None and not custom:
        raise RuleError(400, "personaId is only allowed in custom mode")
    if persona_model is not None and persona_model not in PERSONA_MODELS:
        raise RuleError(400, "personaModel must be style_persona or voice_persona")


def _continue_at(body: Mapping[str, Any], source_duration: float | None) -> float:
    value = body.get("continueAt")
    if value is None:
        raise RuleError(400, "continueAt is required")
    if not _number(value) or value <= 0:
        raise RuleError(400, "continueAt must be a number of seconds greater than 0")
    if source_duration is not None and value >= source_duration:
        raise RuleError(400, f"continueAt must be less than the source duration ({source_duration:.2f} s)")
    return float(value)


# --- modes shared by several endpoints ----------------------------------------------------------


def _simple_mode(body: Mapping[str, Any]) -> None:
    """customMode=false: only a description; the docs say to leave style and title empty."""
    _string(body, "prompt", required=True)
    _limit(body, "prompt", NON_CUSTOM_PROMPT_LIMIT, "in non-custom mode")
    for name in ("style", "title"):
        if _present(body, name):
            raise RuleError(400, f"{name} must be empty when customMode is false")


def _custom_texts(body: Mapping[str, Any], model: str, *, instrumental: bool) -> None:
    """Custom parameters: style + title, plus lyrics unless instrumental; the §2 per-model limits."""
    _string(body, "style", required=True)
    _string(body, "title", required=True)
    _string(body, "prompt", required=not instrumental)
    limits = text_limits(model)
    _limit(body, "prompt", limits.prompt, f"for model {model}")
    _limit(body, "style", limits.style, f"for model {model}")
    _limit(body, "title", limits.title, f"for model {model}")


def _common(body: Mapping[str, Any], *, custom: bool) -> None:
    _url(body, "callBackUrl")
    _tuning(body)
    _persona(body, custom)


# --- endpoints ----------------------------------------------------------------------------------

Finder = Callable[[str], SourceTrack | None]


def _check_generate(body: Mapping[str, Any], _find: Finder) -> str:
    custom = _require_bool(body, "customMode")
    instrumental = _require_bool(body, "instrumental")
    model = _model(body, MODELS)
    _common(body, custom=custom)
    if custom:
        _custom_texts(body, model, instrumental=instrumental)
    else:
        _simple_mode(body)
    return model


# Mashup's V6 family (provider-tools.md §10) is in no extend enum, and no page says how its tracks are
# extended: the emulator takes the newest model extend lists for them (an inference, as the bot's).
_EXTENDED_ON = {"V6": "V5_5", "V6_WILD": "V5_5", "V6_MINI": "V5_5"}


def _check_extend(body: Mapping[str, Any], find: Finder) -> str:
    custom = _require_bool(body, "defaultParamFlag")
    audio_id = _string(body, "audioId", required=True)
    model = _model(body, MODELS)
    _common(body, custom=custom)
    source = find(audio_id or "")
    if source is None:
        raise RuleError(400, f"audioId {audio_id} is not a track generated by this API")
    if not source.ready:
        raise RuleError(400, f"audioId {audio_id} is still being generated")
    if model != _EXTENDED_ON.get(source.model, source.model):
        raise RuleError(400, f"model {model} must match the source track's model {source.model}")
    if custom:
        _custom_texts(body, model, instrumental=False)
        _continue_at(body, source.duration)
    return model


def _check_upload_cover(body: Mapping[str, Any], _find: Finder) -> str:
    _url(body, "uploadUrl")
    custom = _require_bool(body, "customMode")
    instrumental = _require_bool(body, "instrumental")
    model = _model(body, MODELS)
    _common(body, custom=custom)
    if custom:
        _custom_texts(body, model, instrumental=instrumental)
    else:
        _simple_mode(body)
    duration = body.get("duration")
    if duration is not None:
        if not custom or model != "V5_5":
            raise RuleError(400, "duration is only allowed with customMode=true and model V5_5")
        if not isinstance(duration, int) or isinstance(duration, bool) or not 10 <= duration <= 360:
            raise RuleError(400, "duration must be an integer from 10 to 360")
    return model


def _check_upload_extend(body: Mapping[str, Any], _find: Finder) -> str:
    _url(body, "uploadUrl")
    custom = _require_bool(body, "defaultParamFlag")
    # Documented as optional; when absent the safer reading is "with vocals", which needs lyrics.
    instrumental = _optional_bool(body, "instrumental", default=False)
    model = _model(body, MODELS)
    _common(body, custom=custom)
    if custom:
        _custom_texts(body, model, instrumental=instrumental)
        # The upper bound (the uploaded audio's duration) is checked after the download.
        _continue_at(body, None)
    else:
        _string(body, "prompt", required=False)
    return model


def _check_add_vocals(body: Mapping[str, Any], _find: Finder) -> str:
    _url(body, "uploadUrl")
    for name in ("prompt", "title", "style", "negativeTags"):
        _string(body, name, required=True)
    _limit(body, "title", ADD_TITLE_LIMIT, "for add-vocals")
    model = _model(body, ADD_MODELS, default=DEFAULT_ADD_MODEL)
    _url(body, "callBackUrl")
    _tuning(body)
    return model


def _check_add_instrumental(body: Mapping[str, Any], _find: Finder) -> str:
    _url(body, "uploadUrl")
    if not _present(body, "tags") and _present(body, "style"):
        raise RuleError(400, "tags is required (add-instrumental takes tags, not style)")
    for name in ("title", "tags", "negativeTags"):
        _string(body, name, required=True)
    _limit(body, "title", ADD_TITLE_LIMIT, "for add-instrumental")
    model = _model(body, ADD_MODELS, default=DEFAULT_ADD_MODEL)
    _url(body, "callBackUrl")
    _tuning(body)
    return model


Check = Callable[[Mapping[str, Any], Finder], str]


def register_kind(endpoint: str, kind: str, fields: frozenset[str], check: Check) -> None:
    """A studio endpoint in the music shape (emulators/provider/studio/): validated like the six."""
    ENDPOINT_KINDS[endpoint] = kind
    KNOWN_FIELDS[kind] = fields
    _CHECKS[kind] = check


_CHECKS: dict[str, Check] = {
    "generate": _check_generate,
    "extend": _check_extend,
    "upload_cover": _check_upload_cover,
    "upload_extend": _check_upload_extend,
    "add_vocals": _check_add_vocals,
    "add_instrumental": _check_add_instrumental,
}
