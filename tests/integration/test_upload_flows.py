"""Every task kind from a chat action to delivered audio, through the real server and both emulators."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest

from bot.settings import Settings
from emulators.audio_fixtures import make_mp3, make_ogg_opus
from emulators.harness import RunningBot
from emulators.person import ScriptedPerson
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator

BOB = 2002


@pytest.fixture
def bob(telegram: TelegramEmulator) -> ScriptedPerson:
    return ScriptedPerson(telegram, BOB, first_name="Bob", timeout=20)


async def test_cover_of_an_uploaded_file(
    bot: RunningBot, bob: ScriptedPerson, provider: ProviderEmulator
) -> None:
    audio = make_mp3(12.0, frequency=330)
    await bob.send_audio(audio, file_name="My Demo.mp3")
    await bob.answer("What should I do with it?", button="Cover")
    await bob.answer("Which style?", text="jazz trio, brushed drums")
    await bob.answer("What is the title?", button="Use “My Demo”")
    await bob.answer("Send the lyrics", button="Instrumental")
    await bob.wait_for_audios(2)

    [request] = provider.api_requests("upload-cover")
    assert request.json["customMode"] is True and request.json["instrumental"] is True
    assert request.json["title"] == "My Demo" and request.json["style"] == "jazz trio, brushed drums"
    assert request.json["uploadUrl"].startswith(bot.url + "/files/")
    assert provider.last_task.upload_sha256 == hashlib.sha256(audio).hexdigest()  # the bytes Bob sent


async def test_voice_note_is_converted_and_gets_vocals(
    bot: RunningBot, bob: ScriptedPerson, provider: ProviderEmulator
) -> None:
    await bob.send_audio(make_ogg_opus(11.0), kind="voice", mime_type="audio/ogg")
    await bob.answer("What should I do with it?", button="Add vocals")
    await bob.answer("Send the lyrics to sing", text="[Verse]\nRain on the window")
    await bob.answer("Which style?", text="soul")
    await bob.answer("What is the title?", text="Window")
    await bob.answer("Any styles to avoid?", button="Just avoid")
    await bob.answer("Which model?", button="V5")
    await bob.wait_for_audios(2)
    [request] = provider.api_requests("add-vocals")
    assert request.json["model"] == "V5" and request.json["negativeTags"]
    assert request.json["prompt"] == "[Verse]\nRain on the window"
    upload = await bot.services.storage.uploads.get(1)
    assert upload is not None and upload.mime_type == "audio/mpeg"  # Opus became MP3 in-process
    assert provider.last_task.upload_sha256 == upload.sha256


async def test_add_instrumental_sends_tags_not_style(
    bot: RunningBot, bob: ScriptedPerson, provider: ProviderEmulator
) -> None:
    await bob.send_audio(make_mp3(11.0), kind="document", file_name="vocals.mp3", mime_type="audio/mpeg")
    await bob.answer("What should I do with it?", button="Add instrumental")
    await bob.answer("Which style?", text="string quartet")
    await bob.answer("What is the title?", button="Use “vocals”")
    await bob.answer("Any styles to avoid?", text="drums")
    await bob.answer("Which model?", button="V4_5PLUS")
    await bob.wait_for_audios(2)
    [request] = provider.api_requests("add-instrumental")
    assert request.json["tags"] == "string quartet" and "style" not in request.json
    assert request.json["negativeTags"] == "drums" and request.json["title"] == "vocals"


async def test_upload_extend_with_lyrics_and_a_typed_point(
    bot: RunningBot, bob: ScriptedPerson, provider: ProviderEmulator
) -> None:
    await bob.send_audio(make_mp3(20.0), file_name="loop.mp3")
    await bob.answer("What should I do with it?", button="Extend")
    await bob.answer("From which second", text="25")  # past the end: asked again
    await bob.wait_for_text("before the end (20 s)")
    await bob.say("0:15")
    await bob.answer("Which style?", text="house")
    await bob.answer("What is the title?", text="Loop Longer")
    await bob.answer("Send the lyrics", text="[Chorus]\nOne more time")
    await bob.wait_for_audios(2)
    [request] = provider.api_requests("upload-extend")
    assert request.json["defaultParamFlag"] is True and request.json["continueAt"] == 15
    assert request.json["instrumental"] is False and request.json["prompt"] == "[Chorus]\nOne more time"


async def test_custom_song_then_extend_a_delivered_track(
    bot: RunningBot, bob: ScriptedPerson, provider: ProviderEmulator
) -> None:
    await bob.say("/custom")
    await bob.answer("What is the title?", text="Night Drive")
    await bob.answer("Which style?", text="synthwave")
    await bob.answer("Send the lyrics", text="[Verse]\nNeon on the highway")
    await bob.wait_for_audios(2)
    [generate] = provider.api_requests("generate")
    assert generate.json["customMode"] is True and generate.json["title"] == "Night Drive"

    await bob.press("Extend")
    await bob.answer("From which second", button="From the end")
    await bob.answer("Which style?", button="Same style")
    await bob.answer("Send the lyrics", button="Instrumental")
    await bob.wait_for_audios(4)
    [extend] = provider.api_requests("extend")
    source = provider.tasks[generate_task_id(provider)]
    assert extend.json["audioId"] in {t.id for t in source.tracks}
    assert extend.json["model"] == generate.json["model"]  # the provider requires the source's model
    assert 0 < extend.json["continueAt"] < source.tracks[0].duration


def generate_task_id(provider: ProviderEmulator) -> str:
    return next(task_id for task_id, task in provider.tasks.items() if task.kind == "generate")


async def test_polling_mode_uploads_through_the_provider_upload_host(
    make_settings: Callable[..., Settings],
    start_bot: Callable[[Settings], AbstractAsyncContextManager[RunningBot]],
    bob: ScriptedPerson,
    provider: ProviderEmulator,
) -> None:
    audio = make_mp3(10.5, frequency=500)
    async with start_bot(make_settings(webhook=False, SUNO_POLL_INTERVAL=0.3)):
        await bob.send_audio(audio, file_name="hum.mp3")
        await bob.answer("What should I do with it?", button="Cover")
        await bob.answer("Which style?", text="reggae")
        await bob.answer("What is the title?", text="Hum")
        await bob.answer("Send the lyrics", button="Instrumental")
        await bob.wait_for_audios(2)
    [request] = provider.api_requests("upload-cover")
    [uploaded] = provider.uploads.values()
    assert request.json["uploadUrl"] == uploaded.download_url
    assert uploaded.sha256 == hashlib.sha256(audio).hexdigest() == provider.last_task.upload_sha256
