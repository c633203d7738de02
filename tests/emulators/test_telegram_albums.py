"""sendMediaGroup, sendVideo and sendPhoto in the Telegram emulator, driven by PTB and by raw HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from telegram import Bot, InputMediaAudio, InputMediaDocument, InputMediaPhoto
from telegram.error import BadRequest

from emulators.audio_fixtures import make_wav
from emulators.telegram.server import TelegramEmulator
from tests.emulators.test_telegram_emulator import make_image, make_mp3

CHAT = 42


@pytest.fixture
async def tg(tmp_path: Path) -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(files_dir=tmp_path / "files", per_chat_interval=0) as emulator:
        yield emulator


@pytest.fixture
async def bot(tg: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot") as ptb_bot:
        yield ptb_bot


async def test_an_album_of_audios_is_one_group_of_messages(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    items = [
        InputMediaAudio(make_mp3(1.0), filename="Rain - Vocals.mp3", title="Vocals"),
        InputMediaAudio(make_mp3(1.0), filename="Rain - Instrumental.mp3", title="Instrumental"),
    ]
    messages = await bot.send_media_group(CHAT, media=items)

    assert len(messages) == 2 and messages[0].media_group_id == messages[1].media_group_id
    assert [m.audio.file_name for m in messages if m.audio] == [
        "Rain - Vocals.mp3",
        "Rain - Instrumental.mp3",
    ]
    observed = tg.audios(CHAT)
    assert len(observed) == 2 and observed[0].media_group_id == messages[0].media_group_id
    assert observed[0].audio is not None and observed[0].audio["title"] == "Vocals"
    # Sent again by file_id: the stored files are reused.
    again = [InputMediaAudio(m.audio.file_id) for m in messages if m.audio]
    assert len(await bot.send_media_group(CHAT, media=again)) == 2


@pytest.mark.parametrize("count", [1, 11])
async def test_an_album_holds_two_to_ten_items(bot: Bot, tg: TelegramEmulator, count: int) -> None:
    await tg.user_sends_text(CHAT, "hi")
    items = [InputMediaDocument(b"x%d" % i, filename=f"{i}.txt") for i in range(count)]
    with pytest.raises(BadRequest, match="2-10 items"):
        await bot.send_media_group(CHAT, media=items)
    assert tg.bot_messages(CHAT) == []


async def test_audios_do_not_mix_with_other_kinds(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    items = [
        InputMediaAudio(make_mp3(1.0), filename="a.mp3"),
        InputMediaDocument(b"notes", filename="notes.txt"),
    ]
    with pytest.raises(BadRequest, match=r"(?i)can't mix audio and document"):
        await bot.send_media_group(CHAT, media=items)  # type: ignore[arg-type]
    photos = [InputMediaPhoto(make_image()), InputMediaPhoto(make_image((120, 80)))]
    sent = await bot.send_media_group(CHAT, media=photos)  # photos (and videos) group together
    assert [m.photo[-1].width for m in sent] == [90, 120]
    assert tg.audios(CHAT) == []


async def test_album_items_are_checked_field_by_field(tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    url = f"{tg.url}/bot{tg.token}/sendMediaGroup"
    cases = [
        (
            [
                {"type": "audio", "media": "attach://a"},
                {"type": "audio", "media": "attach://b", "title": True},
            ],
            "String",
        ),
        (
            [
                {"type": "audio", "media": "attach://a"},
                {"type": "audio", "media": "attach://b", "duration": "x"},
            ],
            "Integer",
        ),
        (
            [{"type": "audio", "media": "attach://a"}, {"type": "audio", "media": "attach://b", "size": 1}],
            "size",
        ),
        (
            [
                {"type": "audio", "media": "attach://a", "caption": "x" * 1025},
                {"type": "audio", "media": "attach://b"},
            ],
            "caption is too long",
        ),
        (
            [{"type": "sticker", "media": "attach://a"}, {"type": "audio", "media": "attach://b"}],
            "unsupported",
        ),
        ([{"type": "audio", "media": "attach://a"}, {"type": "audio", "media": "attach://zzz"}], "not found"),
    ]
    async with aiohttp.ClientSession() as http:
        for media, expected in cases:
            form = aiohttp.FormData()
            form.add_field("chat_id", str(CHAT))
            form.add_field("media", json.dumps(media))
            form.add_field("a", make_mp3(0.5), filename="a.mp3", content_type="audio/mpeg")
            form.add_field("b", make_mp3(0.5), filename="b.mp3", content_type="audio/mpeg")
            async with http.post(url, data=form) as response:
                body = await response.json()
            assert response.status == 400 and expected in body["description"], (media, body)
    assert tg.bot_messages(CHAT) == []


async def test_video_with_its_caption_and_a_photo(bot: Bot, tg: TelegramEmulator, tmp_path: Path) -> None:
    await tg.user_sends_text(CHAT, "hi")
    video = await bot.send_video(
        CHAT, video=make_wav(1.0), filename="Rain - video.mp4", caption="Rain", width=640, height=360
    )
    assert video.video is not None and video.caption == "Rain"
    assert (video.video.width, video.video.height, video.video.file_name) == (640, 360, "Rain - video.mp4")
    [observed] = [m for m in tg.bot_messages(CHAT) if m.video]
    assert observed.kind == "video" and observed.text == "Rain"
    with pytest.raises(BadRequest, match="caption is too long"):
        await bot.send_video(CHAT, video=make_wav(0.5), caption="x" * 1025)

    photo = await bot.send_photo(CHAT, photo=make_image((200, 100), "PNG"))
    assert (photo.photo[-1].width, photo.photo[-1].height) == (200, 100)
    with pytest.raises(BadRequest, match=r"(?i)IMAGE_PROCESS_FAILED"):
        await bot.send_photo(CHAT, photo=b"not an image at all")
    with pytest.raises(BadRequest, match=r"(?i)PHOTO_INVALID_DIMENSIONS"):
        await bot.send_photo(CHAT, photo=make_image((2100, 100)))
    assert len(tg.bot_messages(CHAT)) == 2


async def test_a_photo_over_ten_megabytes_is_refused(bot: Bot, tg: TelegramEmulator) -> None:
    await tg.user_sends_text(CHAT, "hi")
    big = make_image((100, 100)) + b"\0" * (10 * 1024 * 1024)
    with pytest.raises(BadRequest, match=r"(?i)PHOTO_SAVE_FILE_INVALID"):
        await bot.send_photo(CHAT, photo=big)
    assert tg.bot_messages(CHAT) == []
