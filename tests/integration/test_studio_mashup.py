"""Mashup end to end: /mashup, More… → Mashup, an uploaded file's Mashup, refusals, the model retry,
a failure callback and polling, through the real bot and both emulators."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from bot.settings import Settings
from emulators.audio_fixtures import make_mp3, make_silent_ogg_opus
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from storage.models import Stage

ERIN = 5005
StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]
SUNRISE = make_mp3(12.0, frequency=330)
MOONLIGHT = make_mp3(11.0, frequency=550)


@pytest.fixture
def erin(telegram: TelegramEmulator) -> ScriptedPerson:
    return ScriptedPerson(telegram, ERIN, first_name="Erin", timeout=20)


async def _two_files(erin: ScriptedPerson) -> None:
    """/mashup with two files sent, every default pressed."""
    await erin.say("/mashup")
    await erin.wait_for_text("Send the first audio file")
    await erin.send_audio(SUNRISE, file_name="Sunrise.mp3")
    await erin.wait_for_text("Pick the second track or send an audio file")
    await erin.send_audio(MOONLIGHT, file_name="Moonlight.mp3")
    await erin.answer("What is the title?", button="Use “Sunrise × Moonlight”")
    await erin.answer("Which style?", button="Use “")
    await erin.answer("Lyrics for the mashup?", button="Instrumental mix")


def _task_downloads(provider: ProviderEmulator, task_id: str) -> list[str | None]:
    return [d.sha256 for d in provider.downloads if d.task_id == task_id]


async def test_mashup_of_two_sent_files_is_delivered_with_the_request_both_revisions_take(
    bot: RunningBot, erin: ScriptedPerson, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    await _two_files(erin)
    await erin.wait_for_audios(2)
    await bot.services.tasks.idle()

    [sent] = provider.api_requests("generate/mashup")
    body = dict(sent.json)
    urls = body.pop("uploadUrlList")
    callback = body.pop("callBackUrl")
    assert body == {
        "customMode": True,
        "model": "V4_5",  # SUNO_MODEL, which mashup takes
        "prompt": "[Instrumental]",
        "style": "mashup, seamless blend",
        "title": "Sunrise × Moonlight",
        "instrumental": True,
    }
    assert len(urls) == 2 and all(u.startswith(bot.url + "/files/") for u in urls)
    assert callback.startswith(bot.url + "/callbacks/")
    # The provider fetched both songs, in order: the bytes Erin sent.
    task = provider.last_task
    assert _task_downloads(provider, task.task_id) == [
        hashlib.sha256(SUNRISE).hexdigest(),
        hashlib.sha256(MOONLIGHT).hexdigest(),
    ]
    assert [cb.stage for cb in task.callbacks] == ["text", "first", "complete"]
    progress = next(m for m in telegram.bot_messages(ERIN) if "Mashup" in (m.text or ""))
    assert "Done!" in progress.text
    for audio in telegram.audios(ERIN):  # delivered like songs, with their buttons
        assert "More…" in str(audio.reply_markup) and "Extend" in str(audio.reply_markup)


async def test_more_mashup_mixes_a_track_with_another_delivered_track(
    bot: RunningBot, erin: ScriptedPerson, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    await erin.say("/sound birdsong at dawn")
    await erin.wait_for_audios(2)
    await bot.services.tasks.idle()
    first = telegram.audios(ERIN)[0]
    more = next(d for d in first.button_data() if d.startswith("more:"))
    track_id = int(more.removeprefix("more:"))
    await telegram.user_presses_button(ERIN, first.message_id, more)
    await telegram.wait_for(lambda: f"st:mash:{track_id}" in first.button_data())
    await telegram.user_presses_button(ERIN, first.message_id, f"st:mash:{track_id}")

    await erin.wait_for_text("Pick the second track or send an audio file")
    await erin.press("🎵 ")  # the other delivered track, offered as a button
    await erin.answer("What is the title?", text="Dawn Chorus Remix")
    await erin.answer("Which style?", text="lofi house")
    await erin.answer("Lyrics for the mashup?", text="[Verse]\nbirds at dawn, we sing along")
    await telegram.wait_for(lambda: len(telegram.audios(ERIN)) == 4, timeout=20)
    await bot.services.tasks.idle()

    [sent] = provider.api_requests("generate/mashup")
    storage = bot.services.storage
    tracks = await storage.tasks.tracks(1)
    mine = next(t for t in tracks if t.id == track_id)
    other = next(t for t in tracks if t.id != track_id)
    # A delivered track goes by the provider's own link to it: the provider made and hosts it.
    assert sent.json["uploadUrlList"] == [mine.audio_url, other.audio_url]
    assert sent.json["prompt"] == "[Verse]\nbirds at dawn, we sing along"
    assert "instrumental" not in sent.json
    assert (sent.json["title"], sent.json["style"]) == ("Dawn Chorus Remix", "lofi house")
    assert len(_task_downloads(provider, provider.last_task.task_id)) == 2


async def test_the_upload_menu_offers_mashup_and_the_same_song_twice_is_refused(
    bot: RunningBot, erin: ScriptedPerson, provider: ProviderEmulator
) -> None:
    await erin.send_audio(SUNRISE, file_name="Sunrise.mp3")
    await erin.answer("What should I do with it?", button="Mashup")
    await erin.wait_for_text("Pick the second track or send an audio file")
    await erin.send_audio(SUNRISE, file_name="Sunrise again.mp3")  # the same bytes, another name
    await erin.wait_for_text("Pick two different songs")
    await erin.say("Sunrise")  # the first song, by its name
    await erin.wait_for_text("Pick two different songs")
    assert provider.api_requests("generate/mashup") == []

    await erin.send_audio(MOONLIGHT, file_name="Moonlight.mp3")  # the question stayed open
    await erin.answer("What is the title?", text="Day and Night")
    await erin.answer("Which style?", text="synthwave")
    await erin.answer("Lyrics for the mashup?", button="Instrumental mix")
    await erin.wait_for_audios(2)
    [sent] = provider.api_requests("generate/mashup")
    assert sent.json["title"] == "Day and Night" and sent.json["style"] == "synthwave"
    assert _task_downloads(provider, provider.last_task.task_id) == [
        hashlib.sha256(SUNRISE).hexdigest(),
        hashlib.sha256(MOONLIGHT).hexdigest(),
    ]


@pytest.mark.parametrize(
    ("audio", "kwargs", "expected"),
    [
        (
            b"\xff" * (20 * 1024 * 1024 + 10),
            {"kind": "document"},
            "bots can only download files up to 20.0 MB",
        ),
        (
            make_silent_ogg_opus(3600.0),
            {"kind": "voice", "mime_type": "audio/ogg"},
            "takes audio up to 8:00 long; this one is 60:00",
        ),
    ],
    ids=["too_big", "too_long"],
)
async def test_a_file_the_intake_refuses_is_not_a_song_and_nothing_is_spent(
    bot: RunningBot,
    erin: ScriptedPerson,
    provider: ProviderEmulator,
    audio: bytes,
    kwargs: dict[str, str],
    expected: str,
) -> None:
    await erin.say("/mashup")
    await erin.wait_for_text("Send the first audio file")
    await erin.send_audio(SUNRISE, file_name="Sunrise.mp3")
    await erin.wait_for_text("Pick the second track")
    await erin.send_audio(audio, **kwargs)
    await erin.wait_for_text(expected)
    await bot.services.tasks.idle()
    assert provider.api_requests("generate/mashup") == []
    assert await bot.services.storage.tasks.recent_for_user(ERIN) == []
    # The question is still open: a good file carries on.
    await erin.send_audio(MOONLIGHT, file_name="Moonlight.mp3")
    await erin.wait_for_text("What is the title?")


async def test_a_refused_model_is_tried_once_more_on_the_other_family(
    bot: RunningBot, erin: ScriptedPerson, provider: ProviderEmulator
) -> None:
    provider.studio.mashup_models = {"V6", "V6_WILD", "V6_MINI"}  # an account on the newer revision
    await _two_files(erin)
    await erin.wait_for_audios(2)
    refused, taken = provider.api_requests("generate/mashup")
    assert refused.json["model"] == "V4_5" and taken.json["model"] == "V6"
    assert {k: v for k, v in refused.json.items() if k != "model"} == {
        k: v for k, v in taken.json.items() if k != "model"
    }
    assert len(provider.tasks) == 1
    await bot.services.tasks.idle()
    [task] = await bot.services.storage.tasks.recent_for_user(ERIN)
    assert task.model == "V6"  # the model that made the tracks, not the refused one

    # Extend under its track: extend lists no V6 model, so the newest it takes, never the refused V4_5.
    await erin.press("Extend")
    await erin.answer("From which second", button="From the end")
    await erin.answer("Which style?", button="Same style")
    await erin.answer("Send the lyrics", button="Instrumental")
    await erin.wait_for_audios(4)
    [extend] = provider.api_requests("generate/extend")
    assert extend.json["model"] == "V5_5"
    assert extend.json["audioId"] in {t.id for t in provider.tasks[task.provider_task_id].tracks}


async def test_a_model_neither_family_takes_fails_clearly_after_one_retry(
    bot: RunningBot, erin: ScriptedPerson, provider: ProviderEmulator
) -> None:
    provider.studio.mashup_models = {"V6_MINI"}
    await _two_files(erin)
    await erin.wait_for_text("did not accept this request")
    await bot.services.tasks.idle()
    assert [r.json["model"] for r in provider.api_requests("generate/mashup")] == ["V4_5", "V6"]
    assert provider.tasks == {}


@pytest.mark.parametrize(
    ("code", "msg", "expected", "balance"),
    [
        # The person's own songs matched a published work: kept, as for every 413 (the ledger's rule).
        (413, "Uploaded audio matches an existing work", "matches an existing published work", 15),
        (531, "Generation failed, credits refunded", "your credits were refunded", 20),
    ],
)
async def test_a_failure_callback_is_shown_and_counted_once(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    erin: ScriptedPerson,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    code: int,
    msg: str,
    expected: str,
    balance: int,
) -> None:
    settings = make_settings(STARS_PACKS="10:50", FREE_CREDITS=20, CREDITS_PER_TASK=5)
    async with start_bot(settings) as bot:
        provider.script(fail_with=(code, msg))
        await _two_files(erin)
        await telegram.wait_for(
            lambda: any(
                "Failed" in (m.text or "") and expected in (m.text or "") for m in telegram.bot_messages(ERIN)
            ),
            timeout=20,
        )
        await bot.services.tasks.idle()
        [task] = await bot.services.storage.tasks.recent_for_user(ERIN)
        assert task.stage is Stage.FAILED and task.error_code == code
        assert await bot.services.storage.ledger.balance(ERIN) == balance
        assert telegram.audios(ERIN) == []


async def test_a_mashup_whose_callbacks_are_lost_is_found_by_polling(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    erin: ScriptedPerson,
    provider: ProviderEmulator,
) -> None:
    provider.script(drop_callbacks=True)
    async with start_bot(make_settings(SUNO_POLL_INTERVAL=0.3)) as bot:
        await _two_files(erin)
        await erin.wait_for_audios(2)
        await bot.services.tasks.idle()
        assert provider.last_task.callbacks == []
        [task] = await bot.services.storage.tasks.recent_for_user(ERIN)
        events = await bot.services.storage.events.for_task(task.id)
        assert events and {e.source for e in events} == {"poll"}


async def test_a_restart_between_the_two_songs_carries_on_with_the_first(
    settings: Settings, start_bot: StartBot, erin: ScriptedPerson, provider: ProviderEmulator
) -> None:
    async with start_bot(settings):
        await erin.say("/mashup")
        await erin.wait_for_text("Send the first audio file")
        await erin.send_audio(SUNRISE, file_name="Sunrise.mp3")
        await erin.wait_for_text("Pick the second track or send an audio file")
    async with start_bot(settings) as bot:  # the same database: a deploy, or a crash and a restart
        await erin.send_audio(MOONLIGHT, file_name="Moonlight.mp3")
        await erin.answer("What is the title?", button="Use “Sunrise × Moonlight”")
        await erin.answer("Which style?", text="dream pop")
        await erin.answer("Lyrics for the mashup?", button="Instrumental mix")
        await erin.wait_for_audios(2)
        await bot.services.tasks.idle()
        [sent] = provider.api_requests("generate/mashup")
        assert sent.json["title"] == "Sunrise × Moonlight" and sent.json["style"] == "dream pop"
        assert _task_downloads(provider, provider.last_task.task_id) == [
            hashlib.sha256(SUNRISE).hexdigest(),
            hashlib.sha256(MOONLIGHT).hexdigest(),
        ]


async def test_without_a_public_url_both_files_go_through_the_upload_host(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    erin: ScriptedPerson,
    provider: ProviderEmulator,
) -> None:
    settings = make_settings(webhook=False, SUNO_POLL_INTERVAL=0.3)
    assert settings.public_url is None
    async with start_bot(settings):
        await _two_files(erin)
        await erin.wait_for_audios(2)
        [sent] = provider.api_requests("generate/mashup")
        assert len(provider.uploads) == 2
        assert "/files/" not in " ".join(sent.json["uploadUrlList"])  # the upload host's links
        assert _task_downloads(provider, provider.last_task.task_id) == [
            hashlib.sha256(SUNRISE).hexdigest(),
            hashlib.sha256(MOONLIGHT).hexdigest(),
        ]


async def test_a_failure_found_by_polling_is_shown_too(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    erin: ScriptedPerson,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    provider.script(drop_callbacks=True, fail_with=(400, "Lyrics contained copyrighted material"))
    async with start_bot(make_settings(SUNO_POLL_INTERVAL=0.3)) as bot:
        await _two_files(erin)
        await telegram.wait_for(
            lambda: any("copyrighted material" in (m.text or "") for m in telegram.bot_messages(ERIN)),
            timeout=20,
        )
        await bot.services.tasks.idle()
        [task] = await bot.services.storage.tasks.recent_for_user(ERIN)
        assert task.stage is Stage.FAILED and task.error_code == 400
        events = await bot.services.storage.events.for_task(task.id)
        assert {e.source for e in events} == {"poll"}
