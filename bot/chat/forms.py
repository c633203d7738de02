"""The question flows behind each action: what to ask, in which order, with which defaults, and the request.

Pure logic with no Telegram in it, so the rules are tested directly; handlers/forms.py drives these flows
from the chat with a ConversationHandler.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from bot.provider.models import (
    SIMPLE_PROMPT_LIMIT,
    VOCALS_TITLE_LIMIT,
    AddInstrumentalRequest,
    AddVocalsRequest,
    ExtendRequest,
    GenerateRequest,
    ProviderRequest,
    UploadCoverRequest,
    UploadExtendRequest,
    build_request,
    limits_for,
    max_upload_seconds,
)
from bot.studio import mashup, persona, replace_section
from storage.models import TaskKind

VOCAL_MODELS = ("V4_5PLUS", "V5", "V5_5")
DEFAULT_NEGATIVE_TAGS = "noise, distortion, low quality"


class _NoLyrics(Enum):
    # An enum member, not a bare object(): PTB deep-copies user_data before persisting it, and a copied
    # object() would no longer be `is INSTRUMENTAL`, while an enum member copies to itself.
    INSTRUMENTAL = "instrumental"


INSTRUMENTAL = _NoLyrics.INSTRUMENTAL  # the answer "no lyrics"


class AnswerProblem(Exception):
    """An answer that breaks a rule; `key` and `values` make the message that asks again."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


@dataclass
class Draft:
    """Everything gathered so far for one action. Kept in the person's PTB user_data while they answer.

    bot/chat/draft_json.py writes it as JSON for bot/telegram/persistence.py: a field added here needs a
    line there too (its tests fail until it has one).
    """

    flow: str
    model: str
    upload_id: int | None = None
    duration: float | None = None  # of the uploaded file or of the track being extended
    default_title: str = ""
    audio_id: str | None = None  # the delivered track being extended
    default_style: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    chat_id: int | None = None  # the chat the question was asked in (None: stored before this was kept)
    task_id: str | None = None  # the provider's music task of the track (a persona is made from it)
    voices: dict[str, str] = field(default_factory=dict)  # the person's personas offered: id -> name
    boost: bool = False  # "Improve this style" was pressed: the next style typed is boosted first
    source_lyrics: str = ""  # the track's lyrics, a section of which is replaced (flow "replace")
    # A mashup's songs (bot/studio/mashup.py): `upload:<id>` / `track:<id>` -> its name, and its style.
    picks: dict[str, str] = field(default_factory=dict)
    pick_styles: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Choice:
    label_key: str
    value: Callable[[Draft], Any]
    label_values: Callable[[Draft], dict[str, object]] = lambda draft: {}


@dataclass(frozen=True)
class Question:
    name: str
    ask_key: str
    parse: Callable[[str, Draft], Any]
    choices: Callable[[Draft], tuple[Choice, ...]] = lambda draft: ()
    ask_values: Callable[[Draft], dict[str, object]] = lambda draft: {}


def _text(limit: Callable[[Draft], int], field_key: str) -> Callable[[str, Draft], str]:
    def parse(answer: str, draft: Draft) -> str:
        text = answer.strip()
        if not text:
            raise AnswerProblem("problem.required", field=field_key)
        if len(text) > limit(draft):
            raise AnswerProblem("problem.too_long", field=field_key, actual=len(text), limit=limit(draft))
        return text

    return parse


def parse_seconds(answer: str) -> float | None:
    """'90', '90.5', '1:30' or '0:01:30' as seconds; None when it is none of those."""
    answer = answer.strip().replace(",", ".")
    if re.fullmatch(r"\d+(\.\d+)?", answer):
        return float(answer)
    if re.fullmatch(r"\d+(:\d{1,2}){1,2}(\.\d+)?", answer):
        seconds = 0.0
        for part in answer.split(":"):
            seconds = seconds * 60 + float(part)
        return seconds
    return None


def _continue_at(answer: str, draft: Draft) -> float:
    seconds = parse_seconds(answer)
    duration = draft.duration or 0
    if seconds is None or seconds <= 0 or seconds >= duration:
        raise AnswerProblem("form.continue_at_range", limit=math.floor(duration))
    return seconds


def continue_from_end(draft: Draft) -> float:
    """A point just before the end: continueAt must be strictly inside the track."""
    duration = draft.duration or 0
    return float(max(1, math.floor(duration) - 1)) if duration > 2 else round(duration / 2, 2)


def _model(answer: str, draft: Draft) -> str:
    value = answer.strip().upper().replace(".", "_")
    if value not in VOCAL_MODELS:
        raise AnswerProblem("form.model_choose", models=", ".join(VOCAL_MODELS))
    return value


def _lyrics(answer: str, draft: Draft) -> Any:
    if answer.strip().lower() in ("instrumental", "инструментал"):
        return INSTRUMENTAL
    return _text(lambda d: limits_for(d.model).prompt, "field.lyrics")(answer, draft)


def _style_limit(draft: Draft) -> int:
    return limits_for(draft.model if draft.model not in VOCAL_MODELS else "V4_5PLUS").style


def _title_limit(draft: Draft) -> int:
    return VOCALS_TITLE_LIMIT if draft.flow in ("vocals", "instrumental") else limits_for(draft.model).title


def _title_choices(draft: Draft) -> tuple[Choice, ...]:
    title = draft.default_title[: _title_limit(draft)]
    if not title:
        return ()
    return (Choice("form.use_title", lambda d: title, lambda d: {"title": title}),)


STYLE = Question(
    "style",
    "form.ask_style",
    _text(_style_limit, "field.style"),
    choices=lambda d: (
        (Choice("form.same_style", lambda x: x.default_style[: _style_limit(x)]),) if d.default_style else ()
    ),
)
TITLE = Question("title", "form.ask_title", _text(_title_limit, "field.title"), choices=_title_choices)
LYRICS = Question(
    "lyrics",
    "form.ask_lyrics",
    _lyrics,
    choices=lambda d: (Choice("form.instrumental", lambda x: INSTRUMENTAL),),
)
VOCAL_LYRICS = Question(
    "lyrics", "form.ask_vocal_lyrics", _text(lambda d: limits_for("V4_5PLUS").prompt, "field.lyrics")
)
AVOID = Question(
    "negative_tags",
    "form.ask_avoid",
    _text(_style_limit, "field.negativeTags"),
    choices=lambda d: (
        Choice(
            "form.avoid_default", lambda x: DEFAULT_NEGATIVE_TAGS, lambda x: {"tags": DEFAULT_NEGATIVE_TAGS}
        ),
    ),
)
CONTINUE_AT = Question(
    "continue_at",
    "form.ask_continue_at",
    _continue_at,
    choices=lambda d: (
        Choice("form.from_end", continue_from_end, lambda x: {"seconds": int(continue_from_end(x))}),
    ),
    ask_values=lambda d: {"duration": math.floor(d.duration or 0)},
)
MODEL = Question(
    "model",
    "form.ask_model",
    _model,
    choices=lambda d: tuple(
        Choice("form.model", lambda x, m=m: m, lambda x, m=m: {"model": m}) for m in VOCAL_MODELS
    ),
)
DESCRIPTION = Question("prompt", "form.ask_description", _text(lambda d: SIMPLE_PROMPT_LIMIT, "field.prompt"))


def window_bounds(answer: str, bad_key: str = "persona.bad_window") -> tuple[float, float]:
    """'0-30', '1:05-1:30' or '65 95' as (start, end) in seconds; `bad_key` asks again otherwise."""
    parts = [p for p in re.split(r"\s*[-–—\s]\s*", answer.strip()) if p]
    seconds = [parse_seconds(p) for p in parts]
    if len(seconds) != 2 or seconds[0] is None or seconds[1] is None:
        raise AnswerProblem(bad_key)
    return seconds[0], seconds[1]


def _window(answer: str, draft: Draft) -> str:
    """The vocal window, kept as 'start-end' in seconds."""
    start, end = window_bounds(answer)
    low, high = persona.WINDOW
    if not low <= end - start <= high or (draft.duration is not None and end > draft.duration):
        raise AnswerProblem("persona.window_out", duration=math.floor(draft.duration or 0))
    return f"{start:g}-{end:g}"


def _first_window(draft: Draft) -> str:
    end = min(persona.WINDOW[1], math.floor(draft.duration or persona.WINDOW[1]))
    return f"0-{end:g}"


def _voice(answer: str, draft: Draft) -> str:
    wanted = answer.strip().lower()
    found = [pid for pid, name in draft.voices.items() if name.lower() == wanted]
    if not found:
        raise AnswerProblem("form.voice_unknown")
    return found[0]


def _description_choices(draft: Draft) -> tuple[Choice, ...]:
    if not draft.default_style:
        return ()
    return (Choice("form.same_style", lambda x: x.default_style[: persona.DESCRIPTION_LIMIT]),)


def _window_choices(draft: Draft) -> tuple[Choice, ...]:
    if (draft.duration or 0) < persona.WINDOW[0]:
        return ()
    return (Choice("persona.use_window", _first_window, lambda x: {"window": _first_window(x)}),)


def _voice_choices(draft: Draft) -> tuple[Choice, ...]:
    voices = tuple(
        Choice("form.voice", lambda x, pid=pid: pid, lambda x, name=name: {"name": name})
        for pid, name in draft.voices.items()
    )
    return (Choice("form.voice_own", lambda x: ""), *voices)


PERSONA_NAME = Question(
    "name", "persona.ask_name", _text(lambda d: persona.NAME_LIMIT, "field.name"), choices=_title_choices
)
PERSONA_DESCRIPTION = Question(
    "description",
    "persona.ask_description",
    _text(lambda d: persona.DESCRIPTION_LIMIT, "field.description"),
    choices=_description_choices,
)
VOCAL_WINDOW = Question(
    "window",
    "persona.ask_window",
    _window,
    choices=_window_choices,
    ask_values=lambda d: {"duration": math.floor(d.duration or 0)},
)
VOICE = Question("voice", "form.ask_voice", _voice, choices=_voice_choices)


def _persona_fields(answers: dict[str, Any]) -> dict[str, Any]:
    voice = answers.get("voice") or None
    return {"persona_id": voice, "persona_model": persona.STYLE_PERSONA} if voice else {}


def _persona(d: Draft) -> ProviderRequest:
    start, end = (float(x) for x in str(d.answers["window"]).split("-"))
    return build_request(
        persona.PersonaRequest,
        task_id=d.task_id or "",
        audio_id=d.audio_id or "",
        name=d.answers["name"],
        description=d.answers["description"],
        vocal_start=start,
        vocal_end=end,
        track_duration=d.duration,
    )


def _lyrics_fields(answers: dict[str, Any]) -> dict[str, Any]:
    lyrics = answers.get("lyrics", INSTRUMENTAL)
    if lyrics is INSTRUMENTAL:
        return {"instrumental": True}
    return {"instrumental": False, "prompt": lyrics}


def _cover(d: Draft) -> ProviderRequest:
    return build_request(
        UploadCoverRequest,
        custom_mode=True,
        model=d.model,
        style=d.answers["style"],
        title=d.answers["title"],
        **_lyrics_fields(d.answers),
    )


def _upload_extend(d: Draft) -> ProviderRequest:
    return build_request(
        UploadExtendRequest,
        default_param_flag=True,
        model=d.model,
        style=d.answers["style"],
        title=d.answers["title"],
        continue_at=d.answers["continue_at"],
        source_duration=d.duration,
        **_lyrics_fields(d.answers),
    )


def _vocals(d: Draft) -> ProviderRequest:
    return build_request(
        AddVocalsRequest,
        prompt=d.answers["lyrics"],
        style=d.answers["style"],
        title=d.answers["title"],
        negative_tags=d.answers["negative_tags"],
        model=d.answers["model"],
    )


def _instrumental(d: Draft) -> ProviderRequest:
    return build_request(
        AddInstrumentalRequest,
        tags=d.answers["style"],
        title=d.answers["title"],
        negative_tags=d.answers["negative_tags"],
        model=d.answers["model"],
    )


def _custom(d: Draft) -> ProviderRequest:
    return build_request(
        GenerateRequest,
        custom_mode=True,
        model=d.model,
        style=d.answers["style"],
        title=d.answers["title"],
        **_lyrics_fields(d.answers),
        **_persona_fields(d.answers),
    )


def _generate(d: Draft) -> ProviderRequest:
    if d.answers.get("voice"):
        # The provider takes a persona in custom mode only (API §3.1): the description is sung as
        # written, in its own words as the style, under a title made of its first words.
        description = d.answers["prompt"]
        limits = limits_for(d.model)
        return build_request(
            GenerateRequest,
            custom_mode=True,
            instrumental=False,
            model=d.model,
            prompt=description,
            style=description[: limits.style],
            title=" ".join(description.split()[:6])[: limits.title],
            **_persona_fields(d.answers),
        )
    return build_request(
        GenerateRequest, custom_mode=False, instrumental=False, model=d.model, prompt=d.answers["prompt"]
    )


def _extend(d: Draft) -> ProviderRequest:
    assert d.audio_id is not None
    title = d.default_title[: limits_for(d.model).title] or "Extended"
    lyrics = d.answers.get("lyrics", INSTRUMENTAL)
    return build_request(
        ExtendRequest,
        default_param_flag=True,
        audio_id=d.audio_id,
        model=d.model,
        continue_at=d.answers["continue_at"],
        source_duration=d.duration,
        style=d.answers["style"],
        title=title,
        # An instrumental extension still needs a prompt in custom mode: describe it.
        prompt="[Instrumental]" if lyrics is INSTRUMENTAL else lyrics,
    )


# ---- Replace a section (bot/studio/replace_section.py) ----


def _longest_shown(draft: Draft) -> str:
    # Whole seconds, rounded down: a part as long as the figure shown is always accepted.
    return str(math.floor(replace_section.longest_span(draft.duration)))


def _replace_window(answer: str, draft: Draft) -> str:
    start, end = (round(x, 2) for x in window_bounds(answer, "replace.bad_window"))
    broken = replace_section.window_rule(start, end, draft.duration)
    if broken is not None:
        raise AnswerProblem(
            f"replace.window_{broken}",
            span=f"{round(end - start, 2):g}",
            half=_longest_shown(draft),
            length=_clock(draft.duration or 0),
        )
    return f"{start:g}-{end:g}"


def _replace_window_values(draft: Draft) -> dict[str, object]:
    return {
        "length": _clock(draft.duration or 0),
        "half": _longest_shown(draft),
    }


def _lyrics_limit(draft: Draft) -> int:
    return limits_for(draft.model).prompt


def _kept_lyrics(draft: Draft) -> str:
    return replace_section.kept_lyrics(draft.source_lyrics, str(draft.answers.get("lyrics") or ""))


def _full_lyrics_choices(draft: Draft) -> tuple[Choice, ...]:
    # Offered only when what it builds is within the limit: a button must never lead to a refusal.
    if not draft.source_lyrics.strip() or len(_kept_lyrics(draft)) > _lyrics_limit(draft):
        return ()
    return (Choice("replace.keep_lyrics", _kept_lyrics),)


REPLACE_WINDOW = Question("window", "replace.ask_window", _replace_window, ask_values=_replace_window_values)
REPLACE_LYRICS = Question("lyrics", "replace.ask_lyrics", _text(_lyrics_limit, "field.lyrics"))
FULL_LYRICS = Question(
    "full_lyrics",
    "replace.ask_full_lyrics",
    _text(_lyrics_limit, "field.fullLyrics"),
    choices=_full_lyrics_choices,
)


def _replace(d: Draft) -> ProviderRequest:
    start, end = (float(x) for x in str(d.answers["window"]).split("-"))
    limits = limits_for(d.model)
    return build_request(
        replace_section.ReplaceSectionRequest,
        task_id=d.task_id or "",
        audio_id=d.audio_id or "",
        prompt=d.answers["lyrics"],
        # The track's own title and style: the replaced version is the same song.
        tags=d.default_style[: limits.style],
        title=d.default_title[: limits.title],
        infill_start_s=start,
        infill_end_s=end,
        full_lyrics=d.answers["full_lyrics"],
        model=d.model,
        track_duration=d.duration,
    )


# ---- Mashup (bot/studio/mashup.py): two songs, then at most three questions with defaults ----------

MASHUP_PICKS = 5  # the person's recent tracks offered as buttons


def _source(answer: str, draft: Draft) -> str:
    """A song typed by its name (the buttons and a sent file are the usual ways: handlers/mashup.py)."""
    wanted = answer.strip().lower()
    found = [ref for ref, name in draft.picks.items() if name.lower() == wanted]
    if not found:
        raise AnswerProblem("mashup.need_song")
    return mashup_song(draft, found[0])


def mashup_song(draft: Draft, ref: str) -> str:
    """`ref` as the next song, unless it is the one already chosen."""
    if ref == draft.answers.get("first"):
        raise AnswerProblem("mashup.same_song")
    return ref


def _source_choices(draft: Draft) -> tuple[Choice, ...]:
    offered = [ref for ref in draft.picks if ref.startswith("track:") and ref != draft.answers.get("first")]
    return tuple(
        Choice(
            "mashup.pick",
            lambda x, ref=ref: mashup_song(x, ref),
            lambda x, ref=ref: {"name": _short(x.picks[ref], 60)},
        )
        for ref in offered[:MASHUP_PICKS]
    )


def _songs(draft: Draft) -> list[str]:
    return [str(draft.answers[n]) for n in ("first", "second") if n in draft.answers]


def _mashup_title(draft: Draft) -> str:
    names = [draft.picks.get(ref, "") for ref in _songs(draft)]
    return " × ".join(n for n in names if n)[: mashup.TITLE_LIMIT]


def _mashup_style(draft: Draft) -> str:
    styles = [draft.pick_styles.get(ref, "") for ref in _songs(draft)]
    return ", ".join(s for s in styles if s)[: mashup.style_limit(mashup.mashup_model(draft.model))]


def _mashup_style_or_default(draft: Draft) -> str:
    return _mashup_style(draft) or mashup.DEFAULT_STYLE


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mashup_lyrics(answer: str, draft: Draft) -> Any:
    if answer.strip().lower() in ("instrumental", "инструментал"):
        return INSTRUMENTAL
    limit = mashup.prompt_limit(mashup.mashup_model(draft.model))
    return _text(lambda d: limit, "field.lyrics")(answer, draft)


MASHUP_FIRST = Question("first", "mashup.ask_first", _source, choices=_source_choices)
MASHUP_SECOND = Question("second", "mashup.ask_second", _source, choices=_source_choices)
MASHUP_TITLE = Question(
    "title",
    "form.ask_title",
    _text(lambda d: mashup.TITLE_LIMIT, "field.title"),
    choices=lambda d: (
        (Choice("form.use_title", _mashup_title, lambda x: {"title": _mashup_title(x)}),)
        if _mashup_title(d)
        else ()
    ),
)
MASHUP_STYLE = Question(
    "style",
    "form.ask_style",
    _text(lambda d: mashup.style_limit(mashup.mashup_model(d.model)), "field.style"),
    choices=lambda d: (
        Choice(
            "mashup.use_style",
            _mashup_style_or_default,
            lambda x: {"style": _short(_mashup_style_or_default(x))},
        ),
    ),
)
MASHUP_LYRICS = Question(
    "lyrics",
    "mashup.ask_lyrics",
    _mashup_lyrics,
    choices=lambda d: (Choice("mashup.instrumental", lambda x: INSTRUMENTAL),),
)


def _mashup(d: Draft) -> ProviderRequest:
    lyrics = d.answers["lyrics"]
    words = {"instrumental": True, "prompt": mashup.INSTRUMENTAL_PROMPT} if lyrics is INSTRUMENTAL else {}
    return build_request(
        mashup.MashupRequest,
        sources=[d.answers["first"], d.answers["second"]],
        model=mashup.mashup_model(d.model),
        title=d.answers["title"],
        style=d.answers["style"],
        **(words or {"prompt": lyrics}),
    )


def answer_song(draft: Draft, ref: str) -> Question | None:
    """A song given as a sent file (`upload:<id>`): the answer to the open song question."""
    flow = FLOWS[draft.flow]
    question = current_question(flow, draft)
    assert question in (MASHUP_FIRST, MASHUP_SECOND)
    draft.answers[question.name] = mashup_song(draft, ref)
    draft.step += 1
    return current_question(flow, draft)


def mashup_asks_song(draft: Draft) -> bool:
    """The open question of a mashup is one of its two songs: a file sent now answers it."""
    flow = FLOWS[draft.flow]
    return flow.kind is TaskKind.MASHUP and current_question(flow, draft) in (MASHUP_FIRST, MASHUP_SECOND)


@dataclass(frozen=True)
class Flow:
    name: str
    kind: TaskKind
    questions: tuple[Question, ...]
    build: Callable[[Draft], ProviderRequest]
    uses_upload: bool = True


FLOWS: dict[str, Flow] = {
    "cover": Flow("cover", TaskKind.UPLOAD_COVER, (STYLE, TITLE, LYRICS), _cover),
    "upload_extend": Flow(
        "upload_extend", TaskKind.UPLOAD_EXTEND, (CONTINUE_AT, STYLE, TITLE, LYRICS), _upload_extend
    ),
    "vocals": Flow("vocals", TaskKind.ADD_VOCALS, (VOCAL_LYRICS, STYLE, TITLE, AVOID, MODEL), _vocals),
    "instrumental": Flow(
        "instrumental", TaskKind.ADD_INSTRUMENTAL, (STYLE, TITLE, AVOID, MODEL), _instrumental
    ),
    "generate": Flow("generate", TaskKind.GENERATE, (DESCRIPTION,), _generate, uses_upload=False),
    "custom": Flow("custom", TaskKind.CUSTOM, (TITLE, STYLE, LYRICS), _custom, uses_upload=False),
    # /custom opened by Use these under /lyrics' variants: the lyrics are the first answer, given.
    "custom_lyrics": Flow(
        "custom_lyrics", TaskKind.CUSTOM, (LYRICS, TITLE, STYLE), _custom, uses_upload=False
    ),
    # The same three for a person with personas: whose voice is asked last (bot/studio/persona.py).
    "generate_voice": Flow(
        "generate_voice", TaskKind.GENERATE, (DESCRIPTION, VOICE), _generate, uses_upload=False
    ),
    "custom_voice": Flow(
        "custom_voice", TaskKind.CUSTOM, (TITLE, STYLE, LYRICS, VOICE), _custom, uses_upload=False
    ),
    "custom_lyrics_voice": Flow(
        "custom_lyrics_voice", TaskKind.CUSTOM, (LYRICS, TITLE, STYLE, VOICE), _custom, uses_upload=False
    ),
    "persona": Flow(
        "persona",
        TaskKind.PERSONA,
        (PERSONA_NAME, PERSONA_DESCRIPTION, VOCAL_WINDOW),
        _persona,
        uses_upload=False,
    ),
    "extend": Flow("extend", TaskKind.EXTEND, (CONTINUE_AT, STYLE, LYRICS), _extend, uses_upload=False),
    "replace": Flow(
        "replace",
        TaskKind.REPLACE_SECTION,
        (REPLACE_WINDOW, REPLACE_LYRICS, FULL_LYRICS),
        _replace,
        uses_upload=False,
    ),
    "mashup": Flow(
        "mashup",
        TaskKind.MASHUP,
        (MASHUP_FIRST, MASHUP_SECOND, MASHUP_TITLE, MASHUP_STYLE, MASHUP_LYRICS),
        _mashup,
        uses_upload=False,
    ),
}
UPLOAD_ACTIONS = ("cover", "upload_extend", "vocals", "instrumental")
SHORT_STEM_SECONDS = 10


def upload_length_problem(flow: Flow, duration: float, model: str) -> AnswerProblem | None:
    """Refuse a file the chosen task cannot take (provider-api.md §7) before any question is asked."""
    if flow.name in ("cover", "upload_extend"):
        limit = max_upload_seconds(model)
        if duration > limit:
            return AnswerProblem(
                "intake.too_long", action=f"action.{flow.name}", length=_clock(duration), limit=_clock(limit)
            )
    return None


def short_stem_warning(flow: Flow, duration: float) -> bool:
    return flow.name in ("vocals", "instrumental") and duration < SHORT_STEM_SECONDS


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def offers_boost(flow: Flow, question: Question) -> bool:
    """/custom's style question has "Improve this style" (bot/studio/boost.py)."""
    return flow.name == "custom" and question is STYLE


def current_question(flow: Flow, draft: Draft) -> Question | None:
    return flow.questions[draft.step] if draft.step < len(flow.questions) else None


def answer(flow: Flow, draft: Draft, text: str) -> Question | None:
    """Record a typed answer to the current question; returns the next question, or None when done."""
    question = current_question(flow, draft)
    assert question is not None
    draft.answers[question.name] = question.parse(text, draft)
    draft.step += 1
    return current_question(flow, draft)


def choose(flow: Flow, draft: Draft, step: int, index: int) -> Question | None:
    """Record a button answer; a button from an earlier question is refused."""
    question = current_question(flow, draft)
    choices = question.choices(draft) if question else ()
    if question is None or step != draft.step or not 0 <= index < len(choices):
        raise AnswerProblem("form.stale_button")
    draft.answers[question.name] = choices[index].value(draft)
    draft.step += 1
    return current_question(flow, draft)
