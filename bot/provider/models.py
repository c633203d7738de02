"""The provider's requests, with the documented rules, and one snapshot model for what it reports.

Strict in what we send: every rule of provider-api.md §2-§3 is checked here, so nothing the provider would
reject for a documented reason leaves the bot. Liberal in what we accept: callbacks (snake_case) and
record-info (camelCase) both parse into `ProviderSnapshot`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeVar, get_args

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from bot.provider.errors import SENSITIVE_WORD_CODE as SENSITIVE_WORD_CODE
from storage.models import FileData, Stage, TrackData

Model = Literal["V4", "V4_5", "V4_5PLUS", "V4_5ALL", "V5", "V5_5"]
VocalModel = Literal["V4_5PLUS", "V5", "V5_5"]
NEWEST_MODEL: Model = "V5_5"

SIMPLE_PROMPT_LIMIT = 500
# Older docs gave a flat 80 for titles on every model; 80 is what every version accepts.
SAFE_TITLE_LIMIT = 80
VOCALS_TITLE_LIMIT = 100


class TextLimits(BaseModel):
    prompt: int
    style: int
    title: int


_LIMITS: dict[str, TextLimits] = {
    "V4": TextLimits(prompt=3000, style=200, title=80),
    "V4_5": TextLimits(prompt=5000, style=1000, title=100),
    "V4_5PLUS": TextLimits(prompt=5000, style=1000, title=100),
    "V4_5ALL": TextLimits(prompt=5000, style=1000, title=80),
    "V5": TextLimits(prompt=5000, style=1000, title=100),
    "V5_5": TextLimits(prompt=5000, style=1000, title=100),
}


def track_model(model: str) -> str:
    """The model a tool under a track works on (extend, replace a section): the track's own, or the
    newest of the song models for a track made on one no other endpoint lists.

    Only mashup makes those (its V6 / V6_WILD / V6_MINI, provider-tools.md §10). Extend wants the source
    track's model (provider-api.md §3.2) but lists none of them, so the newest model it takes is the
    nearest to the track's; sending V6 would be refused before anything is made."""
    return model if model in get_args(Model) else NEWEST_MODEL


def limits_for(model: str) -> TextLimits:
    table = _LIMITS[model]
    return TextLimits(prompt=table.prompt, style=table.style, title=min(table.title, SAFE_TITLE_LIMIT))


# Uploaded audio limits (provider-api.md §7).
MAX_UPLOAD_SECONDS = 8 * 60
MAX_UPLOAD_SECONDS_V4_5ALL = 60
SHORT_STEM_SECONDS = 10


def max_upload_seconds(model: str) -> int:
    return MAX_UPLOAD_SECONDS_V4_5ALL if model == "V4_5ALL" else MAX_UPLOAD_SECONDS


def _too_long(field: str, limit: int, actual: int) -> PydanticCustomError:
    return PydanticCustomError(
        "too_long",
        "{field} is {actual} characters; at most {limit}",
        {"field": field, "limit": limit, "actual": actual},
    )


def _required(field: str) -> PydanticCustomError:
    return PydanticCustomError("required", "{field} is required", {"field": field})


def _present(value: str | None) -> bool:
    return value is not None and value.strip() != ""


class ProviderRequest(BaseModel):
    """Common shape: camelCase on the wire, optional tuning fields, no callBackUrl (the client adds it)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)
    endpoint: ClassVar[str]
    # An endpoint whose own code list differs from the shared one (API §4): its codes as the shared ones.
    codes: ClassVar[Mapping[int, int]] = {}

    negative_tags: str | None = None
    vocal_gender: Literal["m", "f"] | None = None
    style_weight: float | None = Field(None, ge=0, le=1, multiple_of=0.01)
    weirdness_constraint: float | None = Field(None, ge=0, le=1, multiple_of=0.01)
    audio_weight: float | None = Field(None, ge=0, le=1, multiple_of=0.01)

    def body(self, callback_url: str) -> dict[str, Any]:
        if "upload_url" in type(self).model_fields and getattr(self, "upload_url", None) is None:
            raise ValueError(f"{type(self).__name__} needs its uploadUrl before it is sent")
        data = self.model_dump(by_alias=True, exclude_none=True)
        data["callBackUrl"] = callback_url
        return data

    def _require(self, *names: str) -> None:
        """Fields the endpoint needs filled: blank text counts as missing."""
        for name in names:
            if not _present(getattr(self, name)):
                raise _required(to_camel(name))

    @staticmethod
    def _check_lengths(**fields: tuple[str | None, int]) -> None:
        for name, (value, limit) in fields.items():
            if value is not None and len(value) > limit:
                raise _too_long(name, limit, len(value))

    def _check_custom(
        self, model: str, *, style: str | None, title: str | None, prompt: str | None, instrumental: bool
    ) -> None:
        if not _present(style):
            raise _required("style")
        if not _present(title):
            raise _required("title")
        if not instrumental and not _present(prompt):
            raise _required("prompt")
        limits = limits_for(model)
        self._check_lengths(
            prompt=(prompt, limits.prompt), style=(style, limits.style), title=(title, limits.title)
        )

    def _check_simple(self, prompt: str | None) -> None:
        if not _present(prompt):
            raise _required("prompt")
        assert prompt is not None
        if len(prompt) > SIMPLE_PROMPT_LIMIT:
            raise _too_long("prompt", SIMPLE_PROMPT_LIMIT, len(prompt))


class _SongRequest(ProviderRequest):
    """Generate and upload-cover share two modes: simple (a description) or custom (style, title, lyrics)."""

    custom_mode: bool
    instrumental: bool = False
    model: Model
    prompt: str | None = None
    style: str | None = None
    title: str | None = None
    # A persona's voice (bot/studio/persona.py): the provider takes it in custom mode only (API §3.1).
    persona_id: str | None = None
    persona_model: Literal["style_persona", "voice_persona"] | None = None

    @model_validator(mode="after")
    def _rules(self) -> _SongRequest:
        if self.persona_id is not None and not self.custom_mode:
            raise PydanticCustomError("simple_mode", "personaId is for custom mode only")
        if self.custom_mode:
            self._check_custom(
                self.model,
                style=self.style,
                title=self.title,
                prompt=self.prompt,
                instrumental=self.instrumental,
            )
        else:
            self._check_simple(self.prompt)
            if self.style is not None or self.title is not None:
                raise PydanticCustomError("simple_mode", "style and title are for custom mode only")
        return self


class GenerateRequest(_SongRequest):
    endpoint: ClassVar[str] = "/api/v1/generate"


class ExtendRequest(ProviderRequest):
    """Extend a track this API generated; `source_duration` is ours, used to check continueAt, never sent."""

    endpoint: ClassVar[str] = "/api/v1/generate/extend"

    default_param_flag: bool
    audio_id: str = Field(min_length=1)
    model: Model
    prompt: str | None = None
    style: str | None = None
    title: str | None = None
    continue_at: float | None = None
    source_duration: float | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _rules(self) -> ExtendRequest:
        if self.default_param_flag:
            self._check_custom(
                self.model, style=self.style, title=self.title, prompt=self.prompt, instrumental=False
            )
            _check_continue_at(self.continue_at, self.source_duration)
        return self


class UploadCoverRequest(_SongRequest):
    endpoint: ClassVar[str] = "/api/v1/generate/upload-cover"

    upload_url: str | None = Field(None, pattern=r"^https?://\S+$")  # set just before sending


class UploadExtendRequest(ProviderRequest):
    endpoint: ClassVar[str] = "/api/v1/generate/upload-extend"

    upload_url: str | None = Field(None, pattern=r"^https?://\S+$")  # set just before sending
    default_param_flag: bool
    instrumental: bool = False
    model: Model
    prompt: str | None = None
    style: str | None = None
    title: str | None = None
    continue_at: float | None = None
    source_duration: float | None = Field(None, exclude=True)

    @model_validator(mode="after")
    def _rules(self) -> UploadExtendRequest:
        if self.default_param_flag:
            self._check_custom(
                self.model,
                style=self.style,
                title=self.title,
                prompt=self.prompt,
                instrumental=self.instrumental,
            )
            _check_continue_at(self.continue_at, self.source_duration)
        else:
            # The guide asks for a prompt here while the schema says only uploadUrl: we always send one.
            self._check_simple(self.prompt)
        return self


class AddVocalsRequest(ProviderRequest):
    endpoint: ClassVar[str] = "/api/v1/generate/add-vocals"

    upload_url: str | None = Field(None, pattern=r"^https?://\S+$")  # set just before sending
    prompt: str
    title: str
    style: str
    negative_tags: str
    model: VocalModel = "V4_5PLUS"

    @model_validator(mode="after")
    def _rules(self) -> AddVocalsRequest:
        self._require("prompt", "title", "style", "negative_tags")
        limits = limits_for("V4_5PLUS")
        self._check_lengths(
            title=(self.title, VOCALS_TITLE_LIMIT),
            prompt=(self.prompt, limits.prompt),
            style=(self.style, limits.style),
        )
        return self


class AddInstrumentalRequest(ProviderRequest):
    endpoint: ClassVar[str] = "/api/v1/generate/add-instrumental"

    upload_url: str | None = Field(None, pattern=r"^https?://\S+$")  # set just before sending
    title: str
    tags: str
    negative_tags: str
    model: VocalModel = "V4_5PLUS"

    @model_validator(mode="after")
    def _rules(self) -> AddInstrumentalRequest:
        self._require("title", "tags", "negative_tags")
        limits = limits_for("V4_5PLUS")
        self._check_lengths(title=(self.title, VOCALS_TITLE_LIMIT), tags=(self.tags, limits.style))
        return self


TaskRequest = (
    GenerateRequest
    | ExtendRequest
    | UploadCoverRequest
    | UploadExtendRequest
    | AddVocalsRequest
    | AddInstrumentalRequest
)


def _check_continue_at(continue_at: float | None, source_duration: float | None) -> None:
    if continue_at is None:
        raise _required("continueAt")
    if continue_at <= 0 or (source_duration is not None and continue_at >= source_duration):
        raise PydanticCustomError(
            "continue_at",
            "continueAt must be after 0 and before the end of the track ({duration} s)",
            {"field": "continueAt", "limit": int(source_duration or 0), "actual": continue_at},
        )


class RequestProblem(BaseModel):
    """One broken rule, in terms the chat can explain."""

    field: str
    kind: str  # required | too_long | continue_at | invalid, and the studio's: range | one_of | not_for_model
    limit: int | None = None
    actual: int | float | str | None = None
    low: int | float | None = None  # a range's lower end (range)
    choices: str | None = None  # what may be given (one_of)


# The kinds of broken rule the chat explains in words of their own (bot/locales: problem.<kind>).
PROBLEM_KINDS = ("required", "too_long", "continue_at", "range", "one_of", "not_for_model", "too_many_words")


def problems_of(error: ValidationError) -> list[RequestProblem]:
    problems = []
    for item in error.errors():
        ctx = item.get("ctx") or {}
        loc = item.get("loc") or ()
        field = str(ctx.get("field") or (loc[0] if loc else "request"))
        kind = item["type"] if item["type"] in PROBLEM_KINDS else "invalid"
        if item["type"] == "missing":
            kind = "required"
        problems.append(
            RequestProblem(
                field=to_camel(field),
                kind=kind,
                limit=ctx.get("limit"),
                actual=ctx.get("actual"),
                low=ctx.get("low"),
                choices=ctx.get("choices"),
            )
        )
    return problems


class InvalidRequest(Exception):
    def __init__(self, problems: list[RequestProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.kind}" for p in problems))
        self.problems = problems


R = TypeVar("R", bound=ProviderRequest)


def build_request(cls: type[R], **fields: Any) -> R:
    """Validate a request; raise InvalidRequest listing what the person has to change."""
    try:
        return cls(**fields)
    except ValidationError as error:
        raise InvalidRequest(problems_of(error)) from None


# ---- What the provider reports -------------------------------------------------------------------
#
# Liberal in what we accept: the provider's docs, its examples and its real answers disagree on names and
# shapes (provider-api.md §3.7, §3.9, §5, §10). Every variant seen is read here, so nothing else has to
# guess: a reason under any of its names, a task id wherever it is put, a placeholder track skipped.

# Where a failure's reason is found, first non-empty wins: record-info, callbacks and envelopes differ.
REASON_KEYS = ("errorMessage", "error_message", "errorMsg", "failMsg", "error", "msg", "message")


def first_text(data: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first non-blank string under one of `keys`; a null or empty value does not hide the next."""
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def task_id_of(envelope: Mapping[str, Any]) -> str | None:
    """A submission's task id: `data.taskId` as documented, `data.task_id`, or a top-level `taskId`."""
    data = envelope.get("data")
    places = [data] if isinstance(data, Mapping) else []
    places.append(envelope)
    for place in places:
        found = first_text(place, ("taskId", "task_id"))
        if found is not None:
            return found
    return None


def upload_url_of(envelope: Mapping[str, Any]) -> str | None:
    """An upload's URL for uploadUrl: `data.downloadUrl` (the OpenAPI shape) or `data.fileUrl`."""
    data = envelope.get("data")
    if not isinstance(data, Mapping):
        return None
    url = first_text(data, ("downloadUrl", "fileUrl"))
    return url if url is not None and url.startswith(("http://", "https://")) else None


def _real_tracks(value: object) -> tuple[object, int]:
    """Placeholder items (no id yet, while pending) dropped, and how many: the good ones beside them count."""
    if not isinstance(value, list):
        return value, 0
    kept = [
        item
        for item in value
        if item is not None
        and (not isinstance(item, Mapping) or (isinstance(item.get("id"), str) and item["id"].strip()))
    ]
    return kept, len(value) - len(kept)


class ProviderTrack(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(min_length=1)
    audio_url: str | None = Field(None, validation_alias=AliasChoices("audio_url", "audioUrl"))
    stream_audio_url: str | None = Field(
        None, validation_alias=AliasChoices("stream_audio_url", "streamAudioUrl")
    )
    image_url: str | None = Field(None, validation_alias=AliasChoices("image_url", "imageUrl"))
    prompt: str | None = None
    model_name: str | None = Field(None, validation_alias=AliasChoices("model_name", "modelName"))
    title: str | None = None
    tags: str | None = None
    duration: float | None = None

    @field_validator("audio_url", "stream_audio_url", "image_url")
    @classmethod
    def _http_only(cls, value: str | None) -> str | None:
        # Anything but http(s) is dropped: we download these URLs, and file:// or data: must never be fetched.
        if value and value.startswith(("http://", "https://")):
            return value
        return None

    def as_track_data(self) -> TrackData:
        return TrackData(
            audio_id=self.id,
            title=self.title or "",
            tags=self.tags or "",
            prompt=self.prompt or "",
            model_name=self.model_name or "",
            duration=self.duration,
            audio_url=self.audio_url,
            stream_url=self.stream_audio_url,
            image_url=self.image_url,
        )


_CALLBACK_STAGES = {
    "text": Stage.TEXT,
    "first": Stage.FIRST,
    "complete": Stage.COMPLETE,
    "error": Stage.FAILED,
}
_STATUS_STAGES = {
    "PENDING": Stage.SUBMITTED,
    "TEXT_SUCCESS": Stage.TEXT,
    "FIRST_SUCCESS": Stage.FIRST,
    "SUCCESS": Stage.COMPLETE,
    "CREATE_TASK_FAILED": Stage.FAILED,
    "GENERATE_AUDIO_FAILED": Stage.FAILED,
    "SENSITIVE_WORD_ERROR": Stage.FAILED,
    "CALLBACK_EXCEPTION": Stage.FAILED,
}
# A status outside the documented list is read by its meaning: these endings are failures.
_FAILED_ENDINGS = ("FAILED", "FAILURE", "FAIL", "ERROR")
GENERATION_FAILED_CODE = 501  # a failure status that carries no code: "generation failed"


def status_stage(status: str) -> Stage | None:
    """The stage a record-info status means; None for a status we do not know that is no failure."""
    known = _STATUS_STAGES.get(status)
    if known is not None:
        return known
    return Stage.FAILED if status.endswith(_FAILED_ENDINGS) else None


class ProviderSnapshot(BaseModel):
    """One normalised report about a task, from a callback or from record-info."""

    task_id: str
    stage: Stage
    tracks: list[ProviderTrack] = Field(default_factory=list)
    files: list[FileData] = Field(default_factory=list)  # a studio tool's results (bot/studio/)
    error_code: int | None = None
    error_message: str | None = None
    # A record-info status outside the documented list that is no failure: the task keeps waiting.
    unknown_status: str | None = None

    @property
    def track_data(self) -> list[TrackData]:
        return [t.as_track_data() for t in self.tracks]

    @classmethod
    def from_callback(cls, body: dict[str, Any]) -> ProviderSnapshot:
        parsed = CallbackBody.model_validate(body)
        data = parsed.data
        kind = (data.callback_type or "").lower()
        tracks = data.data or []
        if parsed.code != 200 or kind == "error":
            reason = data.error or parsed.msg
            sensitive = "sensitive" in f"{parsed.msg or ''} {data.error or ''}".lower()
            return cls(
                task_id=data.task_id,
                stage=Stage.FAILED,
                tracks=tracks,
                error_code=SENSITIVE_WORD_CODE if sensitive else (parsed.code if parsed.code != 200 else 500),
                error_message=reason,
            )
        if kind not in _CALLBACK_STAGES:
            raise ValueError(f"unknown callbackType {data.callback_type!r}")
        if kind == "complete" and data.placeholders and not tracks:
            # Nothing but placeholders is no result: refused, the provider sends it again or a poll asks.
            raise ValueError("a complete callback whose tracks all lack an id")
        return cls(task_id=data.task_id, stage=_CALLBACK_STAGES[kind], tracks=tracks)

    @classmethod
    def from_record_info(cls, data: dict[str, Any]) -> ProviderSnapshot:
        parsed = RecordInfo.model_validate(data)
        status = (parsed.status or "PENDING").strip().upper()
        stage = status_stage(status)
        tracks = parsed.response.suno_data if parsed.response and parsed.response.suno_data else []
        if stage is None:
            return cls(
                task_id=parsed.task_id, stage=Stage.SUBMITTED, tracks=tracks, unknown_status=status[:64]
            )
        if stage is Stage.COMPLETE and not tracks and parsed.response and parsed.response.placeholders:
            stage = Stage.SUBMITTED  # nothing but placeholders yet: the next poll asks again
        if status == "CALLBACK_EXCEPTION" and any(t.audio_url for t in tracks):
            stage = Stage.COMPLETE  # the provider failed to call us back, but the audio exists
        if stage is Stage.FAILED:
            sensitive = status == "SENSITIVE_WORD_ERROR"
            code = SENSITIVE_WORD_CODE if sensitive else (parsed.error_code or GENERATION_FAILED_CODE)
            return cls(
                task_id=parsed.task_id,
                stage=stage,
                tracks=tracks,
                error_code=code,
                error_message=parsed.error_message or status,
            )
        return cls(task_id=parsed.task_id, stage=stage, tracks=tracks)


class CallbackData(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    callback_type: str | None = Field(None, validation_alias=AliasChoices("callbackType", "callback_type"))
    task_id: str = Field(min_length=1, validation_alias=AliasChoices("task_id", "taskId"))
    data: list[ProviderTrack] | None = None
    error: str | None = None
    placeholders: int = 0  # items skipped for want of an id

    @model_validator(mode="before")
    @classmethod
    def _liberal(cls, value: object) -> object:
        if isinstance(value, Mapping):
            value = dict(value)
            value["data"], value["placeholders"] = _real_tracks(value.get("data"))
            value["error"] = first_text(value, REASON_KEYS)
        return value


class CallbackBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: int
    msg: str = ""
    data: CallbackData

    @model_validator(mode="before")
    @classmethod
    def _liberal(cls, value: object) -> object:
        if isinstance(value, Mapping):
            value = dict(value)
            value["msg"] = first_text(value, ("msg", "message")) or ""
        return value


class RecordResponse(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    suno_data: list[ProviderTrack] | None = None
    placeholders: int = 0  # items skipped for want of an id

    @model_validator(mode="before")
    @classmethod
    def _liberal(cls, value: object) -> object:
        if isinstance(value, Mapping):
            items = next((value[k] for k in ("sunoData", "suno_data", "data") if k in value), None)
            tracks, placeholders = _real_tracks(items)
            value = {"suno_data": tracks, "placeholders": placeholders}
        return value


class RecordInfo(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    task_id: str = Field(validation_alias=AliasChoices("taskId", "task_id"))
    status: str | None = None
    response: RecordResponse | None = None
    error_code: int | None = Field(None, validation_alias=AliasChoices("errorCode", "error_code"))
    error_message: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _liberal(cls, value: object) -> object:
        if isinstance(value, Mapping):
            value = dict(value)
            value["error_message"] = first_text(value, REASON_KEYS)
        return value

    @field_validator("error_code", mode="before")
    @classmethod
    def _numeric_code(cls, value: object) -> object:
        if isinstance(value, str):
            return int(value) if value.strip().isdigit() else None
        return value
