"""The studio from the chat: /sound, /lyrics, and the More… keyboard's tools under a delivered track."""

from __future__ import annotations

import logging
import time

from telegram import Update
from telegram.error import BadRequest

from bot.chat.delivery import extend_button
from bot.chat.explain import explain_problems
from bot.i18n import Texts
from bot.provider.models import InvalidRequest, ProviderRequest, build_request
from bot.services import BotContext, services_of
from bot.studio import cover, lyrics, sounds
from bot.studio.keyboard import more_keyboard, tool_by_code
from bot.tasks.service import TaskRefused
from handlers.common import person_of, reply
from handlers.payments import packs_keyboard
from storage.models import Person, Task, TaskKind, Track

log = logging.getLogger(__name__)


async def sound(update: Update, context: BotContext) -> None:
    """`/sound <description> [loop=yes] [bpm=90] [key=C#m] [model=V5]`."""
    person = await person_of(update, context)
    texts = Texts(person.locale)
    try:
        fields = sounds.parse_command(list(context.args or []))
    except sounds.OptionProblem as problem:
        await reply(update, texts("sound.bad_option", word=problem.word))
        return
    if not fields["prompt"]:
        await reply(update, texts("sound.usage"))
        return
    await start_tool(update, context, person, TaskKind.SOUNDS, sounds.SoundsRequest, fields)


async def lyrics_command(update: Update, context: BotContext) -> None:
    """`/lyrics <idea>`: lyric variants, each with Use these (bot/studio/lyrics.py)."""
    person = await person_of(update, context)
    idea = " ".join(context.args or []).strip()
    if not idea:
        await reply(update, Texts(person.locale)("lyrics.usage"))
        return
    await start_tool(update, context, person, TaskKind.LYRICS, lyrics.LyricsRequest, {"prompt": idea})


async def start_tool(
    update: Update,
    context: BotContext,
    person: Person,
    kind: TaskKind,
    cls: type[ProviderRequest],
    fields: dict[str, object],
) -> Task | None:
    """Validate before anything is spent, then start the task; a refusal says what to change."""
    services = services_of(context)
    texts = Texts(person.locale)
    chat = update.effective_chat
    assert chat is not None
    try:
        request = build_request(cls, **fields)
        return await services.tasks.create(person, kind, request, chat_id=chat.id)
    except InvalidRequest as invalid:
        await reply(update, explain_problems(texts, invalid.problems))
    except TaskRefused as refused:
        packs = services.settings.stars_packs if refused.key == "credits.short" else ()
        markup = packs_keyboard(texts, packs) if packs else None
        await reply(update, texts(refused.key, **refused.values), reply_markup=markup)
    return None


async def own_track(update: Update, context: BotContext, track_part: str) -> tuple[Task, Track] | None:
    """The track a button names, if it is the presser's own delivered track."""
    person = await person_of(update, context)
    storage = services_of(context).storage
    track = await storage.tasks.track(int(track_part)) if track_part.isdigit() else None
    task = await storage.tasks.get(track.task_id) if track is not None else None
    if track is None or task is None or task.user_id != person.user_id or track.sent_at is None:
        return None
    return task, track


async def more_button(update: Update, context: BotContext) -> None:
    """More… and Back: the track's keyboard swapped in place (no new message)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    texts = Texts((await person_of(update, context)).locale)
    action, _, track_part = query.data.partition(":")
    owned = await own_track(update, context, track_part)
    if owned is None:
        await query.answer(texts("studio.gone"))
        return
    await query.answer()
    _, track = owned
    markup = more_keyboard(texts, track) if action == "more" else extend_button(texts, track)
    try:
        await query.edit_message_reply_markup(reply_markup=markup)
    except BadRequest as error:
        if "not modified" not in str(error).lower():  # a double tap shows what it shows
            raise


async def tool_button(update: Update, context: BotContext) -> None:
    """A tool under More…: `st:<code>:<track>` starts it on that track."""
    query = update.callback_query
    assert query is not None and query.data is not None
    person = await person_of(update, context)
    texts = Texts(person.locale)
    _, code, track_part = [*query.data.split(":"), "", ""][:3]
    tool = tool_by_code(code)
    owned = await own_track(update, context, track_part)
    if tool is None or tool.from_track is None or owned is None:
        await query.answer(texts("studio.gone"))
        return
    task, track = owned
    refusal = refusal_for(tool.kind, task, track) or (tool.refuse(task, track) if tool.refuse else None)
    if refusal is not None:
        await query.answer()
        await reply(update, texts(refusal))
        return
    await query.answer()
    if tool.existing is not None:  # one result per song (cover art): what the person has is shown again
        shown = await tool.existing(services_of(context).storage, texts, task, track)
        if shown is not None:
            await reply(update, shown[0], reply_markup=shown[1])
            return
    await start_tool(update, context, person, tool.kind, tool.request, tool.from_track(task, track))


async def use_cover_button(update: Update, context: BotContext) -> None:
    """Use as cover: `usecov:<image>:<track>` re-sends the track with that image (bot/studio/cover.py)."""
    query = update.callback_query
    assert query is not None and query.data is not None
    person = await person_of(update, context)
    services = services_of(context)
    _, image_part, track_part = query.data.split(":")
    key = await cover.use_cover(
        services.storage,
        services.tasks.queue,
        user_id=person.user_id,
        image_id=int(image_part),
        track_id=int(track_part),
        now=time.time(),
    )
    await query.answer(Texts(person.locale)(key))


def refusal_for(kind: TaskKind, task: Task, track: Track) -> str | None:
    """What makes a tool impossible on this track, known before anything is spent (a catalogue key)."""
    if task.provider_task_id is None or task.provider_task_id.startswith("sync-"):
        return "studio.gone"
    return None
