"""Every question flow, one ConversationHandler: /generate, /custom, the audio actions and Extend.

One question at a time; defaults are buttons; /cancel leaves; a new audio file starts over with that
file. The conversation state and the person's Draft are persistent (bot/telegram/persistence.py keeps
them in the database), so after a restart the next answer carries on with the open question.

Conversations are per chat and person (PTB's default key), the Draft per person: it remembers the chat
it was asked in, so an answer in one chat never continues a question opened in another. An answer whose
draft is missing (its stored form could not be read, or another chat's question replaced it) is told
the question is closed; text with no question open at all goes to handlers/unknown.py.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType
from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler, MessageHandler, filters
from telegram.warnings import PTBUserWarning

from bot.chat.explain import explain_problems
from bot.chat.forms import (
    FLOWS,
    UPLOAD_ACTIONS,
    AnswerProblem,
    Draft,
    Flow,
    Question,
    answer,
    answer_song,
    choose,
    current_question,
    mashup_asks_song,
    offers_boost,
    short_stem_warning,
    upload_length_problem,
)
from bot.i18n import Texts
from bot.provider.models import InvalidRequest, track_model
from bot.services import BotContext, services_of
from bot.studio import boost
from bot.studio.persona import WINDOW as PERSONA_WINDOW
from bot.studio.replace_section import refuse as replace_refusal
from bot.studio.replace_section import style_of as replace_style
from bot.tasks.service import TaskRefused
from handlers import mashup
from handlers.audio import AUDIO_MESSAGES, receive_audio
from handlers.common import person_of, reply
from handlers.payments import offer_packs
from handlers.privacy import forget
from handlers.studio import own_track, refusal_for, start_tool
from storage.models import Person, Task, TaskKind, Track

log = logging.getLogger(__name__)

# Conversations are tracked per person, not per message, on purpose: the question's buttons are checked
# against the draft's current step instead. PTB warns about that combination at every start.
warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)

ASKING = 0
END = ConversationHandler.END


def _keyboard(texts: Texts, question: Question, draft: Draft) -> InlineKeyboardMarkup | None:
    rows = [
        [
            InlineKeyboardButton(
                texts(c.label_key, **c.label_values(draft)), callback_data=f"ans:{draft.step}:{i}"
            )
        ]
        for i, c in enumerate(question.choices(draft))
    ]
    if offers_boost(FLOWS[draft.flow], question):
        rows.append([InlineKeyboardButton(texts("boost.button"), callback_data=f"boost:ask:{draft.step}")])
    return InlineKeyboardMarkup(rows) if rows else None


async def _ask(update: Update, texts: Texts, question: Question, draft: Draft) -> int:
    text = texts(question.ask_key, **question.ask_values(draft))
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        # In a group the bot hears only replies to its own messages (handlers/screen.py).
        text = f"{text}\n\n{texts('form.reply_in_group')}"
    await reply(update, text, reply_markup=_keyboard(texts, question, draft))
    return ASKING


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None  # handlers/access.py stops updates without a chat
    return chat.id


def _open_draft(update: Update, context: BotContext) -> Draft | None:
    """The person's draft if it belongs to a question asked in this chat."""
    draft = context.user_data.draft
    if draft is None or (draft.chat_id is not None and draft.chat_id != _chat_id(update)):
        return None
    return draft


async def _begin(update: Update, context: BotContext, draft: Draft) -> int:
    texts = Texts((await person_of(update, context)).locale)
    draft.chat_id = _chat_id(update)
    context.user_data.draft = draft
    question = current_question(FLOWS[draft.flow], draft)
    assert question is not None
    return await _ask(update, texts, question, draft)


async def _advance(
    update: Update, context: BotContext, flow: Flow, draft: Draft, nxt: Question | None
) -> int:
    texts = Texts((await person_of(update, context)).locale)
    if nxt is not None:
        return await _ask(update, texts, nxt, draft)
    context.user_data.draft = None
    await _submit(update, context, flow, draft, texts)
    return END


async def _submit(update: Update, context: BotContext, flow: Flow, draft: Draft, texts: Texts) -> None:
    services = services_of(context)
    person = await person_of(update, context)
    try:
        request = flow.build(draft)
        await services.tasks.create(
            person, flow.kind, request, chat_id=_chat_id(update), upload_id=draft.upload_id
        )
    except InvalidRequest as invalid:
        await reply(update, explain_problems(texts, invalid.problems, field_names=_field_names(flow)))
        await reply(update, texts("form.start_again"))
    except TaskRefused as refused:
        if refused.key == "credits.short" and services.settings.stars_packs:  # out of credits: offer packs
            await offer_packs(update, context, texts, texts(refused.key, **refused.values))
        else:
            await reply(update, texts(refused.key, **refused.values))


def _field_names(flow: Flow) -> dict[str, str]:
    return {"prompt": "field.prompt" if flow.kind is TaskKind.GENERATE else "field.lyrics"}


# ---- entry points ----------------------------------------------------------------------------------


async def _voices(update: Update, context: BotContext) -> dict[str, str]:
    """The person's personas, offered as "in the voice of" (bot/studio/persona.py): id -> name."""
    person = await person_of(update, context)
    return {p.persona_id: p.name for p in await services_of(context).storage.results.personas(person.user_id)}


async def generate(update: Update, context: BotContext) -> int:
    """`/generate <description>` starts at once (or asks whose voice); `/generate` asks the description."""
    services = services_of(context)
    voices = await _voices(update, context)
    flow = "generate_voice" if voices else "generate"
    draft = Draft(flow=flow, model=services.settings.suno_model, chat_id=_chat_id(update), voices=voices)
    description = " ".join(context.args or []).strip()
    if not description:
        return await _begin(update, context, draft)
    context.user_data.draft = draft  # whose voice may still be asked: the answer must find the draft
    return await _typed(update, context, draft, description)


async def custom(update: Update, context: BotContext) -> int:
    voices = await _voices(update, context)
    model = services_of(context).settings.suno_model
    draft = Draft(flow="custom_voice" if voices else "custom", model=model, voices=voices)
    return await _begin(update, context, draft)


async def _track_questions(
    update: Update,
    context: BotContext,
    *,
    flow: str,
    refusal: Callable[[Person, Task, Track], Awaitable[str | None]],
    **fields: Callable[[Task, Track], Any],
) -> int:
    """A tool under a track's More… that asks questions first (`st:<code>:<track id>`): the presser's own
    track, refused before anything is asked when the tool cannot be used on it, else its first question.
    `fields` are the draft's fields the tool takes from the track, over the track's own title and style."""
    query = update.callback_query
    assert query is not None and query.data is not None
    person = await person_of(update, context)
    texts = Texts(person.locale)
    owned = await own_track(update, context, query.data.rpartition(":")[2])
    if owned is None:
        await query.answer(texts("studio.gone"))
        return END
    await query.answer()
    task, track = owned
    refused = refusal_for(FLOWS[flow].kind, task, track) or await refusal(person, task, track)
    if refused is not None:
        await reply(update, texts(refused))
        return END
    values: dict[str, Any] = {"default_title": track.title, "default_style": track.tags}
    values.update((name, value(task, track)) for name, value in fields.items())
    draft = Draft(
        flow=flow,
        model=track_model(task.model or services_of(context).settings.suno_model),
        audio_id=track.audio_id,
        task_id=task.provider_task_id,
        duration=track.duration,
        **values,
    )
    return await _begin(update, context, draft)


async def make_persona(update: Update, context: BotContext) -> int:
    """Make a persona under a track's More…: its name, description and vocal window are asked."""
    storage = services_of(context).storage

    async def refusal(person: Person, task: Task, track: Track) -> str | None:
        if any(p.track_id == track.id for p in await storage.results.personas(person.user_id)):
            return "persona.exists"  # the provider makes one persona per track (409)
        return "persona.too_short" if (track.duration or 0) < PERSONA_WINDOW[0] else None

    return await _track_questions(update, context, flow="persona", refusal=refusal)


async def replace_section(update: Update, context: BotContext) -> int:
    """Replace a section under a track's More…: which part, its new lyrics, the whole song's lyrics."""

    async def refusal(person: Person, task: Task, track: Track) -> str | None:
        return replace_refusal(task, track)

    return await _track_questions(
        update,
        context,
        flow="replace",
        refusal=refusal,
        source_lyrics=lambda task, track: track.prompt,
        default_style=replace_style,
    )


async def use_lyrics(update: Update, context: BotContext) -> int:
    """Use these under a /lyrics variant: /custom with its lyrics given, its title offered."""
    query = update.callback_query
    assert query is not None and query.data is not None
    services = services_of(context)
    person = await person_of(update, context)
    result = await services.storage.results.file(int(query.data.removeprefix("uselyr:")))
    task = await services.storage.tasks.get(result.task_id) if result is not None else None
    if result is None or task is None or task.user_id != person.user_id or not result.text:
        await query.answer(Texts(person.locale)("studio.gone"))
        return END
    await query.answer()
    voices = await _voices(update, context)
    draft = Draft(
        flow="custom_lyrics_voice" if voices else "custom_lyrics",
        model=services.settings.suno_model,
        default_title=result.title,
        answers={"lyrics": result.text},
        step=1,
        voices=voices,
    )
    return await _begin(update, context, draft)


async def upload_action(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    _, action, upload_part = query.data.split(":")
    services = services_of(context)
    person = await person_of(update, context)
    texts = Texts(person.locale)
    upload = await services.storage.uploads.get(int(upload_part))
    if upload is None or upload.user_id != person.user_id or upload.deleted_at is not None:
        await reply(update, texts("intake.expired"))
        return END
    flow = FLOWS[action]
    model = services.settings.suno_model
    problem = upload_length_problem(flow, upload.duration, model)
    if problem is not None:
        values = dict(problem.values, action=texts(str(problem.values["action"])))
        await reply(update, texts(problem.key, **values))
        return END
    if short_stem_warning(flow, upload.duration):
        await reply(update, texts("intake.short_warning", seconds=int(upload.duration)))
    draft = Draft(
        flow=action,
        model=model,
        upload_id=upload.id,
        duration=upload.duration,
        default_title=upload.file_name.rsplit(".", 1)[0],
    )
    return await _begin(update, context, draft)


async def extend_track(update: Update, context: BotContext) -> int:
    """The Extend button under a delivered track: continue it from a chosen point, same model."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    services = services_of(context)
    person = await person_of(update, context)
    track = await services.storage.tasks.track(int(query.data.removeprefix("extend:")))
    source = await services.storage.tasks.get(track.task_id) if track else None
    if track is None or source is None or source.user_id != person.user_id or not track.duration:
        await reply(update, Texts(person.locale)("form.cannot_extend"))
        return END
    draft = Draft(
        flow="extend",
        model=track_model(source.model or services.settings.suno_model),
        audio_id=track.audio_id,
        duration=track.duration,
        default_title=track.title,
        default_style=track.tags,
    )
    return await _begin(update, context, draft)


# ---- answers -----------------------------------------------------------------------------------------


async def _typed(update: Update, context: BotContext, draft: Draft, text: str) -> int:
    flow = FLOWS[draft.flow]
    try:
        question = current_question(flow, draft)
        if draft.boost and question is not None and offers_boost(flow, question):
            return await _boost(update, context, draft, question.parse(text, draft))
        nxt = answer(flow, draft, text)
    except AnswerProblem as problem:
        texts = Texts((await person_of(update, context)).locale)
        values = dict(problem.values)
        if "field" in values:
            values["field"] = texts(str(values["field"]))
        context.user_data.draft = draft
        await reply(update, texts(problem.key, **values))
        return ASKING  # the same question stays open: they can simply send a better answer
    return await _advance(update, context, flow, draft, nxt)


async def text_answer(update: Update, context: BotContext) -> int:
    draft = _open_draft(update, context)
    message = update.effective_message
    if draft is None or message is None:
        return await question_lost(update, context)
    return await _typed(update, context, draft, message.text or "")


async def button_answer(update: Update, context: BotContext) -> int:
    query = update.callback_query
    assert query is not None and query.data is not None
    draft = _open_draft(update, context)
    if draft is None:
        return await question_lost(update, context)
    texts = Texts((await person_of(update, context)).locale)
    _, step, index = query.data.split(":")
    flow = FLOWS[draft.flow]
    try:
        nxt = choose(flow, draft, int(step), int(index))
    except AnswerProblem as problem:
        await query.answer(texts(problem.key), show_alert=False)
        return ASKING
    await query.answer()
    return await _advance(update, context, flow, draft, nxt)


# ---- Improve this style (studio part 3, bot/studio/boost.py) -------------------------------------


async def boost_ask(update: Update, context: BotContext) -> int:
    """ "Improve this style" under the style question: the next style typed is boosted, not taken."""
    query = update.callback_query
    assert query is not None and query.data is not None
    draft = _open_draft(update, context)
    if draft is None:
        return await question_lost(update, context)
    texts = Texts((await person_of(update, context)).locale)
    question = current_question(FLOWS[draft.flow], draft)
    if (
        question is None
        or not offers_boost(FLOWS[draft.flow], question)
        or query.data != f"boost:ask:{draft.step}"
    ):
        await query.answer(texts("form.stale_button"))
        return ASKING
    await query.answer()
    draft.boost = True
    context.user_data.draft = draft
    await reply(update, texts("boost.send"))
    return ASKING


async def _boost(update: Update, context: BotContext, draft: Draft, style: str) -> int:
    """A style to boost, already checked as an answer: the task starts; the question stays open."""
    person = await person_of(update, context)
    draft.boost = False  # one style per press: a refusal or a later answer takes a typed style as is
    context.user_data.draft = draft
    task = await start_tool(
        update, context, person, TaskKind.BOOST_STYLE, boost.BoostRequest, {"content": style}
    )
    if task is not None:
        await reply(update, Texts(person.locale)("boost.working"))
    return ASKING


async def boost_choice(update: Update, context: BotContext) -> int:
    """ "Use it" / "Keep mine" under a boosted style: either answers the open style question."""
    query = update.callback_query
    assert query is not None and query.data is not None
    draft = _open_draft(update, context)
    if draft is None:
        return await question_lost(update, context)
    person = await person_of(update, context)
    texts = Texts(person.locale)
    _, task_part, choice = query.data.split(":")
    storage = services_of(context).storage
    flow = FLOWS[draft.flow]
    question = current_question(flow, draft)
    task = await storage.tasks.get(int(task_part))
    files = await storage.results.files(task.id) if task is not None else []
    if (
        task is None
        or task.user_id != person.user_id
        or task.kind is not TaskKind.BOOST_STYLE
        or question is None
        or not offers_boost(flow, question)
        or not files
    ):
        await query.answer(texts("form.stale_button"))
        return ASKING
    style = (files[0].text or "") if choice == "use" else str(task.params.get("content") or "")
    try:
        nxt = answer(flow, draft, style)
    except AnswerProblem as problem:
        await query.answer()
        values = dict(problem.values)
        if "field" in values:
            values["field"] = texts(str(values["field"]))
        context.user_data.draft = draft
        await reply(update, texts(problem.key, **values))
        return ASKING
    await query.answer()
    return await _advance(update, context, flow, draft, nxt)


async def not_text(update: Update, context: BotContext) -> int:
    texts = Texts((await person_of(update, context)).locale)
    await reply(update, texts("form.need_text"))
    return ASKING


async def new_audio(update: Update, context: BotContext) -> int:
    """A new audio file mid-question: drop the open question and take the new file instead, unless the
    question asks for a song (a mashup's), which the file then answers."""
    draft = _open_draft(update, context)
    if draft is not None and mashup_asks_song(draft):
        return await _song_sent(update, context, draft)
    context.user_data.draft = None
    await receive_audio(update, context)
    return END


async def cancel(update: Update, context: BotContext) -> int:
    context.user_data.draft = None
    await reply(update, Texts((await person_of(update, context)).locale)("cancelled"))
    return END


async def question_lost(update: Update, context: BotContext) -> int:
    """An answer to a question open here whose draft is gone: unreadable after an upgrade, or replaced
    by a question the person opened in another chat."""
    texts = Texts((await person_of(update, context)).locale)
    if update.callback_query is not None:
        await update.callback_query.answer(texts("form.closed"), show_alert=True)
    else:
        await reply(update, texts("form.lost"))
    return END


async def forget_in_question(update: Update, context: BotContext) -> int:
    """/forget while a question is open: the question ends, its answers are among what goes."""
    context.user_data.draft = None
    await forget(update, context)
    return END


# ---- Mashup (handlers/mashup.py says what each way in knows) ------------------------------------


async def mashup_entry(update: Update, context: BotContext) -> int:
    """/mashup, Mashup under a track's More…, or Mashup on an uploaded file: the mashup questions."""
    draft = await mashup.draft_for(update, context)
    return END if draft is None else await _begin(update, context, draft)


async def _song_sent(update: Update, context: BotContext, draft: Draft) -> int:
    context.user_data.draft = draft
    ref = await mashup.sent_song(update, context, draft)
    if ref is None:
        return ASKING  # told why; the question stays open for another file or a track
    try:
        nxt = answer_song(draft, ref)
    except AnswerProblem as problem:
        await reply(update, Texts((await person_of(update, context)).locale)(problem.key))
        return ASKING
    return await _advance(update, context, FLOWS[draft.flow], draft, nxt)


def forms_conversation() -> ConversationHandler:  # type: ignore[type-arg]
    actions = "|".join(UPLOAD_ACTIONS)
    return ConversationHandler(
        entry_points=[
            # Mashup (handlers/mashup.py): /mashup, under a track's More…, or on an uploaded file.
            CommandHandler("mashup", mashup_entry),
            CallbackQueryHandler(mashup_entry, pattern=r"^(st:mash|act:mashup):\d+$"),
            CommandHandler("generate", generate),
            CommandHandler("custom", custom),
            CallbackQueryHandler(upload_action, pattern=rf"^act:({actions}):\d+$"),
            CallbackQueryHandler(extend_track, pattern=r"^extend:\d+$"),
            CallbackQueryHandler(use_lyrics, pattern=r"^uselyr:\d+$"),
            CallbackQueryHandler(make_persona, pattern=r"^st:per:"),
            CallbackQueryHandler(replace_section, pattern=r"^st:rep:"),
        ],
        states={
            ASKING: [
                MessageHandler(filters.TEXT & ~filters.COMMAND, text_answer),
                CallbackQueryHandler(button_answer, pattern=r"^ans:\d+:\d+$"),
                CallbackQueryHandler(boost_ask, pattern=r"^boost:ask:\d+$"),
                CallbackQueryHandler(boost_choice, pattern=r"^boost:\d+:(use|keep)$"),
                MessageHandler(AUDIO_MESSAGES, new_audio),
                MessageHandler(~filters.COMMAND & ~filters.StatusUpdate.ALL, not_text),
            ]
        },
        fallbacks=[CommandHandler("cancel", cancel), CommandHandler("forget", forget_in_question)],
        name="forms",  # the persistence's key for this handler's states: renaming it forgets them
        persistent=True,
        allow_reentry=True,
    )
