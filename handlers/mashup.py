"""Mashup from the chat: /mashup, **Mashup** under a track's More…, and Mashup on an uploaded file.

What each way in already knows (the first song, and the person's recent delivered tracks, offered as
buttons) becomes the Draft of the "mashup" question flow (bot/chat/forms.py), which handlers/forms.py
then asks like any other: it is kept with the other open questions, so it survives a restart and works
on any replica. A file sent while a song is asked for goes through the usual audio intake first.
"""

from __future__ import annotations

from telegram import Update

from bot.chat.forms import MASHUP_PICKS, Draft
from bot.chat.library import entry_name
from bot.i18n import Texts
from bot.services import BotContext, services_of
from bot.studio.tool import http_url
from handlers.audio import accept_audio
from handlers.common import person_of, reply
from handlers.studio import own_track, refusal_for
from storage.models import Person, TaskKind, Track, Upload


async def draft_for(update: Update, context: BotContext) -> Draft | None:
    """The mashup draft for how the person came in, or None once they have been told why not:
    `/mashup` (both songs asked), `st:mash:<track>` under a track's More… or `act:mashup:<upload>` in an
    uploaded file's menu (that song first, the second asked)."""
    query = update.callback_query
    if query is None or query.data is None:
        return await _offers(context, await person_of(update, context))
    if query.data.startswith("st:mash:"):
        return await _from_track(update, context, query.data.removeprefix("st:mash:"))
    return await _from_upload(update, context, int(query.data.removeprefix("act:mashup:")))


async def sent_song(update: Update, context: BotContext, draft: Draft) -> str | None:
    """A file sent while a song is asked for, through the usual audio intake: its reference, or None
    once the person has been told why it cannot be used (the question stays open)."""
    upload = await accept_audio(update, context)
    if upload is None:
        return None
    if await _same_file(context, draft, upload):
        await reply(update, Texts((await person_of(update, context)).locale)("mashup.same_song"))
        return None
    return _pick_upload(draft, upload)


async def _offers(context: BotContext, person: Person) -> Draft:
    """A mashup draft offering the person's recent delivered tracks, newest first."""
    services = services_of(context)
    page = await services.storage.library.page(person.user_id, limit=MASHUP_PICKS + 1)
    draft = Draft(flow="mashup", model=services.settings.suno_model)
    for entry in page.entries:
        if http_url(entry.track.audio_url):  # the provider fetches the track from its own link
            _pick_track(draft, entry.track, entry_name(entry))
    return draft


async def _from_track(update: Update, context: BotContext, track_part: str) -> Draft | None:
    query = update.callback_query
    assert query is not None
    person = await person_of(update, context)
    texts = Texts(person.locale)
    owned = await own_track(update, context, track_part)
    if owned is None:
        await query.answer(texts("studio.gone"))
        return None
    await query.answer()
    task, track = owned
    refusal = refusal_for(TaskKind.MASHUP, task, track)
    if refusal is None and http_url(track.audio_url) is None:
        refusal = "studio.gone"
    if refusal is not None:
        await reply(update, texts(refusal))
        return None
    draft = await _offers(context, person)
    return _first(draft, _pick_track(draft, track))


async def _from_upload(update: Update, context: BotContext, upload_id: int) -> Draft | None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    person = await person_of(update, context)
    upload = await services_of(context).storage.uploads.get(upload_id)
    if upload is None or upload.user_id != person.user_id or upload.deleted_at is not None:
        await reply(update, Texts(person.locale)("intake.expired"))
        return None
    draft = await _offers(context, person)
    return _first(draft, _pick_upload(draft, upload))


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


async def _same_file(context: BotContext, draft: Draft, upload: Upload) -> bool:
    """The same bytes sent twice are the same song, whatever the files are called."""
    first = str(draft.answers.get("first") or "")
    if not first.startswith("upload:"):
        return False
    earlier = await services_of(context).storage.uploads.get(int(first.removeprefix("upload:")))
    return earlier is not None and earlier.id != upload.id and earlier.sha256 == upload.sha256
