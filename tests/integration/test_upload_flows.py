"""Each audio action from the chat to delivered audio, through the real server and both emulators."""

from __future__ import annotations

import hashlib

from bot.emulators.audio_fixtures import make_mp3, make_ogg_opus
from bot.emulators.harness import RunningBot
from bot.emulators.provider import ProviderEmulator
from bot.emulators.telegram import TelegramEmulator

BOB = 2002


def last_buttons(telegram: TelegramEmulator, chat_id: int) -> list[tuple[str, str]]:
    for message in reversed(telegram.bot_messages(chat_id)):
        markup = message.reply_markup or {}
        rows = markup.get("inline_keyboard") or []
        if rows:
            return [(b["text"], b["callback_data"]) for row in rows for b in row]
    return []


async def press(telegram: TelegramEmulator, chat_id: int, label: str) -> None:
    for message in reversed(telegram.bot_messages(chat_id)):
        for row in (message.reply_markup or {}).get("inline_keyboard") or []:
            for button in row:
                if button["text"].startswith(label):
                    await telegram.user_presses_button(chat_id, message.message_id, button["callback_data"])
                    return
    raise AssertionError(f"no button {label!r} in {last_buttons(telegram, chat_id)}")


async def said(telegram: TelegramEmulator, chat_id: int, fragment: str) -> None:
    await telegram.wait_for(lambda: any(fragment in (m.text or "") for m in telegram.bot_messages(chat_id)))


async def test_cover_of_an_uploaded_file(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    audio = make_mp3(12.0, frequency=330)
    await telegram.user_sends_audio(BOB, audio, file_name="My Demo.mp3")
    await said(telegram, BOB, "What should I do with it?")
    await press(telegram, BOB, "Cover")
    await said(telegram, BOB, "Which style?")
    await telegram.user_sends_text(BOB, "jazz trio, brushed drums")
    await said(telegram, BOB, "What is the title?")
    await press(telegram, BOB, "Use “My Demo”")
    await said(telegram, BOB, "Send the lyrics")
    await press(telegram, BOB, "Instrumental")
    await telegram.wait_for(lambda: len(telegram.audios(BOB)) == 2, timeout=20)

    [request] = provider.api_requests("upload-cover")
    assert request.json["customMode"] is True and request.json["instrumental"] is True
    assert request.json["title"] == "My Demo" and request.json["style"] == "jazz trio, brushed drums"
    assert request.json["uploadUrl"].startswith(bot.url + "/files/")
    task = provider.last_task
    assert task.upload_sha256 == hashlib.sha256(audio).hexdigest()  # the bytes the person sent


async def test_voice_note_is_converted_and_gets_vocals(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    await telegram.user_sends_audio(BOB, make_ogg_opus(11.0), kind="voice", mime_type="audio/ogg")
    await said(telegram, BOB, "What should I do with it?")
    await press(telegram, BOB, "Add vocals")
    await said(telegram, BOB, "Send the lyrics to sing")
    await telegram.user_sends_text(BOB, "[Verse]\nRain on the window")
    await said(telegram, BOB, "Which style?")
    await telegram.user_sends_text(BOB, "soul")
    await said(telegram, BOB, "What is the title?")
    await telegram.user_sends_text(BOB, "Window")
    await said(telegram, BOB, "Any styles to avoid?")
    await press(telegram, BOB, "Just avoid")
    await said(telegram, BOB, "Which model?")
    await press(telegram, BOB, "V5")
    await telegram.wait_for(lambda: len(telegram.audios(BOB)) == 2, timeout=20)
    [request] = provider.api_requests("add-vocals")
    assert request.json["model"] == "V5" and request.json["negativeTags"]
    assert provider.last_task.upload_sha256 is not None
