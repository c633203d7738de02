"""Buttons under delivered tracks."""

from __future__ import annotations

from telegram import Update

from bot.explain import explain_problems
from bot.i18n import Texts
from bot.provider.models import ExtendRequest, InvalidRequest, build_request
from bot.services import BotContext, services_of
from bot.task_service import TaskRefused
from handlers.common import person_of
from storage.models import TaskKind


async def extend_track(update: Update, context: BotContext) -> None:
    """Extend a delivered track: same audio id and model, everything else inherited from the original."""
    query = update.callback_query
    assert query is not None and query.data is not None
    services = services_of(context)
    person = await person_of(update, context)
    texts = Texts(person.locale)
    track_part = query.data.removeprefix("extend:")
    track = await services.storage.tasks.track(int(track_part)) if track_part.isdigit() else None
    source = await services.storage.tasks.get(track.task_id) if track else None
    if track is None or source is None or source.user_id != person.user_id:
        await query.answer()
        return
    try:
        request = build_request(
            ExtendRequest,
            default_param_flag=False,
            audio_id=track.audio_id,
            model=source.model or services.settings.suno_model,
            source_duration=track.duration,
        )
        await services.tasks.create(person, TaskKind.EXTEND, request)
    except InvalidRequest as invalid:
        await query.answer(explain_problems(texts, invalid.problems)[:200], show_alert=True)
        return
    except TaskRefused as refused:
        await query.answer(texts(refused.key, **refused.values)[:200], show_alert=True)
        return
    await query.answer()
