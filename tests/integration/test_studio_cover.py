"""Cover art under More…: two photos and a choice, Use as cover, one cover per song, failures, polling."""

from __future__ import annotations

from bot.provider.client import ProviderClient
from bot.studio.cover import CoverRequest
from bot.tasks.submitter import POLLING_CALLBACK_URL
from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.provider.studio import cover as emulated_cover
from emulators.telegram.server import TelegramEmulator
from emulators.telegram.state import ChatMessage
from storage.models import Stage, TaskKind
from tests.integration.studio_chat import ALICE, delivered_song, press_tool

COVER = "suno/cover/generate"


def _track_ids(telegram: TelegramEmulator) -> list[tuple[int, int]]:
    """Every delivered audio as (message id, track id), in order."""
    found = []
    for audio in telegram.audios(ALICE):
        # More… under the usual buttons, Back under the tools when they are open.
        data = next(d for d in audio.button_data() if d.startswith(("more:", "back:")))
        found.append((audio.message_id, int(data.split(":")[1])))
    return found


def _photos(telegram: TelegramEmulator) -> list[ChatMessage]:
    return [m for m in telegram.bot_messages(ALICE) if m.photo]


def _choices(telegram: TelegramEmulator) -> list[ChatMessage]:
    return [m for m in telegram.bot_messages(ALICE) if any(d.startswith("usecov:") for d in m.button_data())]


def _answers(telegram: TelegramEmulator) -> list[str]:
    return [str(c.params.get("text") or "") for c in telegram.calls("answerCallbackQuery")]


async def _cover_art(telegram: TelegramEmulator, bot: RunningBot) -> tuple[int, int, ChatMessage]:
    """A song, its cover art asked for under its first track and delivered: (message, track, choice)."""
    message_id, track_id = await delivered_song(telegram, bot)
    await press_tool(telegram, message_id, track_id, "cov")
    await telegram.wait_for(lambda: len(_photos(telegram)) == 2 and len(_choices(telegram)) == 1, timeout=20)
    await bot.services.tasks.idle()
    return message_id, track_id, _choices(telegram)[0]


async def test_cover_art_comes_as_an_album_of_two_photos_and_a_choice(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    _, track_id, choice = await _cover_art(telegram, bot)

    track = await bot.services.storage.tasks.track(track_id)
    assert track is not None
    music = await bot.services.storage.tasks.get(track.task_id)
    assert music is not None
    [sent] = provider.api_requests(COVER)
    # The music task's id and a callback, nothing else (our note of the track stays ours).
    assert set(sent.json) == {"taskId", "callBackUrl"} and sent.json["taskId"] == music.provider_task_id
    photos = _photos(telegram)
    assert len({m.media_group_id for m in photos}) == 1 and photos[0].media_group_id is not None
    assert len(telegram.calls("sendMediaGroup")) == 1
    assert track.title in (choice.text or "")
    assert [b.split(":")[2] for b in choice.button_data()] == [str(track_id)] * 2
    assert "Use cover 1" in str(choice.reply_markup) and "Use cover 2" in str(choice.reply_markup)
    progress = [
        m for m in telegram.bot_messages(ALICE) if "Cover art" in (m.text or "") and "Done!" in m.text
    ]
    assert len(progress) == 1


async def test_use_as_cover_sends_the_track_again_with_that_image_as_a_jpeg_thumbnail(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    _, track_id, choice = await _cover_art(telegram, bot)
    track = await bot.services.storage.tasks.track(track_id)
    assert track is not None
    first, second = choice.button_data()
    audios_before = len(telegram.audios(ALICE))
    uploads_before = len(telegram.calls("sendAudio"))

    # Two quick taps on one button: one audio.
    await telegram.user_presses_button(ALICE, choice.message_id, first)
    await telegram.user_presses_button(ALICE, choice.message_id, first)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == audios_before + 1, timeout=15)
    await bot.services.tasks.idle()
    assert len(telegram.audios(ALICE)) == audios_before + 1

    call = telegram.calls("sendAudio")[uploads_before]
    # A multipart upload of the audio itself, with the thumbnail as a JPEG part beside it.
    assert call.params["audio"]["upload"] == "audio", call.params
    thumb_part = call.params["thumbnail"]
    assert thumb_part["content_type"] == "image/jpeg" and thumb_part["size"] <= 200 * 1024
    resent = telegram.audios(ALICE)[-1]
    assert resent.audio is not None and resent.audio["title"] == track.title
    thumbnail = resent.audio["thumbnail"]
    assert 0 < thumbnail["width"] <= 320 and 0 < thumbnail["height"] <= 320  # the 600x600 image scaled
    assert f"extend:{track_id}" in resent.button_data() and f"more:{track_id}" in resent.button_data()
    answers = _answers(telegram)
    assert any("Sending the track again" in a for a in answers)
    assert any("on its way to this track already" in a for a in answers)

    # Another image later: another audio, with a different thumbnail.
    await telegram.user_presses_button(ALICE, choice.message_id, second)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == audios_before + 2, timeout=15)
    other = telegram.audios(ALICE)[-1]
    assert other.audio is not None
    assert other.audio["thumbnail"]["file_unique_id"] != thumbnail["file_unique_id"]


async def test_a_telegram_outage_delays_the_resend_but_does_not_lose_it(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    _, _, choice = await _cover_art(telegram, bot)
    audios_before = len(telegram.audios(ALICE))
    outage = telegram.outage(2, methods={"sendAudio"})
    await telegram.user_presses_button(ALICE, choice.message_id, choice.button_data()[0])
    await telegram.wait_for(lambda: outage.refused > 0, timeout=10)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == audios_before + 1, timeout=30)


async def test_cover_art_is_asked_for_once_per_song_whichever_track(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id, _ = await _cover_art(telegram, bot)
    [(_, first), (sibling_message, sibling)] = _track_ids(telegram)[:2]
    assert first == track_id

    await press_tool(telegram, message_id, track_id, "cov")
    await telegram.wait_for(lambda: len(_choices(telegram)) == 2)
    await press_tool(telegram, sibling_message, sibling, "cov")
    await telegram.wait_for(lambda: len(_choices(telegram)) == 3)
    await bot.services.tasks.idle()

    assert len(provider.api_requests(COVER)) == 1
    assert len(_photos(telegram)) == 2  # shown again as a choice, not sent again
    again = _choices(telegram)[-1]
    assert "already" in (again.text or "")
    assert [b.split(":")[2] for b in again.button_data()] == [str(sibling)] * 2  # for this track


async def test_a_cover_asked_for_while_one_is_coming_is_not_asked_again(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    message_id, track_id = await delivered_song(telegram, bot)
    [_, (sibling_message, sibling)] = _track_ids(telegram)[:2]
    provider.stage_delays = (0.2, 0.4, 3.0)  # the cover takes a while
    await press_tool(telegram, message_id, track_id, "cov")
    await provider.wait_for(lambda: len(provider.api_requests(COVER)) == 1)
    await press_tool(telegram, sibling_message, sibling, "cov")
    await telegram.wait_for(lambda: any("on its way" in (m.text or "") for m in telegram.bot_messages(ALICE)))
    await telegram.wait_for(lambda: len(_photos(telegram)) == 2, timeout=20)
    assert len(provider.api_requests(COVER)) == 1


async def test_a_failed_cover_shows_as_a_failure_and_gives_the_credits_back(
    make_settings, start_bot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    settings = make_settings(STARS_PACKS="10:50", FREE_CREDITS=20, CREDITS_PER_TASK=5)
    async with start_bot(settings) as bot:
        message_id, track_id = await delivered_song(telegram, bot)
        balance = await bot.services.storage.ledger.balance(ALICE)
        provider.studio.fail_next(501, "Cover generation failed")
        await press_tool(telegram, message_id, track_id, "cov")

        def failed() -> bool:
            return any(
                "Cover art" in (m.text or "") and "Failed" in (m.text or "")
                for m in telegram.bot_messages(ALICE)
            )

        await telegram.wait_for(failed, timeout=15)
        await bot.services.tasks.idle()
        [callback] = provider.studio.tasks.values()
        assert callback.callbacks[0]["code"] == 501 and callback.callbacks[0]["data"]["images"] is None
        assert await bot.services.storage.ledger.balance(ALICE) == balance  # the hold was released
        assert _photos(telegram) == []
        assert await bot.services.storage.tasks.not_failed_of_kind(ALICE, TaskKind.COVER_ART) == []


async def test_cover_art_polled_without_callbacks_reads_the_integer_flag(
    make_settings, start_bot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    async with start_bot(make_settings(webhook=False, SUNO_POLL_INTERVAL=0.3)) as bot:
        message_id, track_id = await delivered_song(telegram, bot)
        await press_tool(telegram, message_id, track_id, "cov")
        await telegram.wait_for(
            lambda: len(_photos(telegram)) == 2 and len(_choices(telegram)) == 1, timeout=20
        )
        polls = provider.api_requests("suno/cover/record-info")
        assert polls and all(p.code == 200 for p in polls)
        [cover] = [t for t in provider.studio.tasks.values() if t.tool == COVER]
        assert cover.body["callBackUrl"] == POLLING_CALLBACK_URL  # no callback reaches us: polling did it


async def test_a_repeat_answer_naming_the_cover_made_before_is_followed_and_delivered(
    make_settings, start_bot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    async with start_bot(make_settings(SUNO_POLL_INTERVAL=0.3)) as bot:
        message_id, track_id = await delivered_song(telegram, bot)
        track = await bot.services.storage.tasks.track(track_id)
        assert track is not None
        music = await bot.services.storage.tasks.get(track.task_id)
        assert music is not None and music.provider_task_id is not None
        # A cover the provider made that our storage does not know (a restored backup, another bot).
        client: ProviderClient = bot.services.provider
        made = await client.submit(
            CoverRequest(task_id=music.provider_task_id), callback_url=POLLING_CALLBACK_URL
        )
        await provider.wait_for(lambda: provider.studio.tasks[made].success_flag == "SUCCESS", timeout=10)

        await press_tool(telegram, message_id, track_id, "cov")
        await telegram.wait_for(
            lambda: len(_photos(telegram)) == 2 and len(_choices(telegram)) == 1, timeout=20
        )
        await bot.services.tasks.idle()

        first, repeat = provider.api_requests(COVER)
        assert (first.code, repeat.code) == (200, 400)
        assert [t.task_id for t in provider.studio.tasks.values() if t.tool == COVER] == [made]
        [cover] = await bot.services.storage.tasks.not_failed_of_kind(ALICE, TaskKind.COVER_ART)
        assert cover.provider_task_id == made and cover.stage is Stage.COMPLETE
        assert provider.api_requests("suno/cover/record-info")


async def test_use_as_cover_for_someone_elses_image_or_track_is_refused(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    _, track_id, choice = await _cover_art(telegram, bot)
    image = choice.button_data()[0].split(":")[1]
    sendaudio = len(telegram.calls("sendAudio"))
    for forged in (f"usecov:{image}:999999", f"usecov:999999:{track_id}"):
        await telegram.user_presses_button(ALICE, choice.message_id, forged, require_button=False)
    await telegram.wait_for(lambda: sum("no longer available" in a for a in _answers(telegram)) == 2)
    await bot.services.tasks.idle()
    assert len(telegram.calls("sendAudio")) == sendaudio


async def test_a_resend_telegram_refuses_for_good_is_told_to_the_person(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    _, track_id, choice = await _cover_art(telegram, bot)
    track = await bot.services.storage.tasks.track(track_id)
    assert track is not None
    audios_before = len(telegram.audios(ALICE))
    telegram.fail_next("sendAudio", error_code=400, description="Bad Request: AUDIO_INVALID")
    await telegram.user_presses_button(ALICE, choice.message_id, choice.button_data()[0])

    def told() -> bool:
        return any("could not send" in (m.text or "") for m in telegram.bot_messages(ALICE))

    await telegram.wait_for(told, timeout=15)
    assert track.title in next(
        m.text or "" for m in telegram.bot_messages(ALICE) if "could not send" in (m.text or "")
    )
    assert len(telegram.audios(ALICE)) == audios_before

    # Told it failed, the person may press again: a new attempt, not "on its way already".
    await telegram.user_presses_button(ALICE, choice.message_id, choice.button_data()[0])
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == audios_before + 1, timeout=15)


async def test_one_image_comes_as_a_photo_with_its_own_button(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, monkeypatch
) -> None:
    monkeypatch.setattr(emulated_cover, "COLOURS", ((10, 160, 90),))  # the provider made one image this time
    message_id, track_id = await delivered_song(telegram, bot)
    await press_tool(telegram, message_id, track_id, "cov")
    await telegram.wait_for(lambda: len(_photos(telegram)) == 1, timeout=20)
    await bot.services.tasks.idle()
    [photo] = _photos(telegram)
    assert photo.media_group_id is None and len(telegram.calls("sendPhoto")) == 1
    [button] = photo.button_data()
    assert button.startswith("usecov:") and button.endswith(f":{track_id}")
    assert "Use as cover" in str(photo.reply_markup) and _choices(telegram) == [photo]

    audios_before = len(telegram.audios(ALICE))
    await telegram.user_presses_button(ALICE, photo.message_id, button)
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == audios_before + 1, timeout=15)
    resent = telegram.audios(ALICE)[-1]
    assert resent.audio is not None and resent.audio["thumbnail"]["width"] <= 320


async def test_an_image_over_telegrams_photo_limit_comes_as_a_document_and_can_still_be_chosen(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator, monkeypatch
) -> None:
    plain = emulated_cover._jpeg

    def first_one_huge(colour: tuple[int, int, int]) -> bytes:
        # Past Telegram's 10 MB photo limit; a JPEG decoder stops at its end marker, so it still opens.
        data = plain(colour)
        return data + b"\0" * 11_000_000 if colour == emulated_cover.COLOURS[0] else data

    monkeypatch.setattr(emulated_cover, "_jpeg", first_one_huge)
    message_id, track_id = await delivered_song(telegram, bot)
    await press_tool(telegram, message_id, track_id, "cov")
    await telegram.wait_for(lambda: len(_choices(telegram)) == 1, timeout=20)
    await bot.services.tasks.idle()

    # The big one as a document, the other as a photo (one photo is no album), then the choice of both.
    [document] = [m for m in telegram.bot_messages(ALICE) if m.document]
    assert document.document is not None and document.document["file_size"] > 10_000_000
    assert len(_photos(telegram)) == 1 and telegram.calls("sendMediaGroup") == []
    [choice] = _choices(telegram)
    assert choice.message_id > document.message_id and len(choice.button_data()) == 2

    # The small one makes a cover; the big one is past what the bot decodes for a thumbnail, and says so.
    audios_before = len(telegram.audios(ALICE))
    await telegram.user_presses_button(ALICE, choice.message_id, choice.button_data()[1])
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == audios_before + 1, timeout=15)
    resent = telegram.audios(ALICE)[-1]
    assert resent.audio is not None and resent.audio["thumbnail"]["width"] <= 320
    await telegram.user_presses_button(ALICE, choice.message_id, choice.button_data()[0])
    await telegram.wait_for(
        lambda: any("Try another image" in (m.text or "") for m in telegram.bot_messages(ALICE)), timeout=15
    )
    assert len(telegram.audios(ALICE)) == audios_before + 1
