"""Mashup from the chat: /mashup, **Mashup** under a track's More…, and Mashup on an uploaded file.

Each way in opens the "mashup" question flow (bot/chat/forms.py) with what it already knows: the first
song, and the person's recent delivered tracks offered as buttons. A file sent while a song is asked
for goes through the usual audio intake and answers the question. The flow's state is the Draft, kept
with the other open questions, so it survives a restart and works on any replica.
"""

from __future__ import annotations

from telegram import Update

from bot.chat.forms import FLOWS, MASHUP_PICKS, AnswerProblem, Draft, answer_song
from bot.chat.library import entry_name
from bot.i18n import Texts
from bot.services import BotContext, services_of
from bot.studio.tool import http_url
from handlers.audio import accept_audio
from handlers.common import person_of, reply
from handlers.forms import ASKING, END, _advance, _begin
from handlers.studio import own_track, refusal_for
from storage.models import Person, TaskKind, Track, Upload


async def _draft(context: BotContext, person: Person) -> Draft:
    """A mashup draft offering the person's recent delivered tracks, newest first."""
    services = services_of(context)
    page = await services.storage.library.page(person.user_id, limit=MASHUP_PICKS + 1)
    draft = Draft(flow="mashup", model=services.settings.suno_model)
    for entry in page.entries:
        if http_url(entry.track.audio_url):  # the provider fetches the track from its own link
            _pick_track(draft, entry.track, entry_name(entry))
    return draft


def _pick_track(draft: Draft, track: Track, name: str = "") -> str:
    ref = f"track:{track.id}"
    draft.picks[ref] = name or track.title or f"#{track.id}"
    draft.pick_styles[ref] = track.tags
    return ref


def _pick_upload(draft: Draft, upload: Upload) -> str:
    ref = f"upload:{upload.id}"
    draft.picks[ref] = upload.file_name.rsplit(".", 1)[0]
    return ref


def _first(draft: Draft, ref: str) -> Draft:
    draft.answers["first"] = ref
    draft.step = 1
    return draft


async def mashup_command(update: Update, context: BotContext) -> int:
    """`/mashup`: the first song is asked (a file, or one of the tracks offered), then the second."""
    person = await person_of(update, context)
    return await _begin(update, context, await _draft(context, person))


async def mashup_track(update: Update, context: BotContext) -> int:
    """**Mashup** under a delivered track's More…: that track first, the second is asked."""
    query = update.callback_query
    assert query is not None and query.data is not None
    person = await person_of(update, context)
    texts = Texts(person.locale)
    owned = await own_track(update, context, query.data.removeprefix("st:mash:"))
    if owned is None:
        await query.answer(texts("studio.gone"))
        return END
    await query.answer()
    task, track = owned
    refusal = refusal_for(TaskKind.MASHUP, task, track)
    if refusal is None and http_url(track.audio_url) is None:
        refusal = "studio.gone"
    if refusal is not None:
        await reply(update, texts(refusal))
        return END
    draft = await _draft(context, person)
    return await _begin(update, context, _first(draft, _pick_track(draft, track)))


async def mashup_upload(update: Update, context: BotContext) -> int:
    """Mashup in an uploaded file's action menu: that file first, the second is asked."""
    query = update.callback_query
    assert query is not None and query.data is not None
    await query.answer()
    person = await person_of(update, context)
    upload = await services_of(context).storage.uploads.get(int(query.data.removeprefix("act:mashup:")))
    if upload is None or upload.user_id != person.user_id or upload.deleted_at is not None:
        await reply(update, Texts(person.locale)("intake.expired"))
        return END
    draft = await _draft(context, person)
    return await _begin(update, context, _first(draft, _pick_upload(draft, upload)))


async def song_file(update: Update, context: BotContext, draft: Draft) -> int:
    """A file sent while a mashup asks for a song: checked by the intake, then the answer."""
    context.user_data.draft = draft
    upload = await accept_audio(update, context)
    if upload is None:
        return ASKING  # told why; the same question stays open for another file or a track
    texts = Texts((await person_of(update, context)).locale)
    ref = _pick_upload(draft, upload)
    try:
        if await _same_file(context, draft, upload):
            raise AnswerProblem("mashup.same_song")
        nxt = answer_song(draft, ref)
    except AnswerProblem as problem:
        await reply(update, texts(problem.key, **problem.values))
        return ASKING
    return await _advance(update, context, FLOWS[draft.flow], draft, nxt)


async def _same_file(context: BotContext, draft: Draft, upload: Upload) -> bool:
    """The same bytes sent twice are the same song, whatever the files are called."""
    first = str(draft.answers.get("first") or "")
    if not first.startswith("upload:"):
        return False
    earlier = await services_of(context).storage.uploads.get(int(first.removeprefix("upload:")))
    return earlier is not None and earlier.id != upload.id and earlier.sha256 == upload.sha256
