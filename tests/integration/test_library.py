"""/library through the real bot and both emulators: pages, search, re-sending by file id, removal."""

from __future__ import annotations

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from emulators.telegram.state import ChatMessage

ALICE = 1001
BOB = 1002


async def make_songs(
    bot: RunningBot, telegram: TelegramEmulator, user_id: int, descriptions: list[str]
) -> None:
    """Each description through /generate to its two delivered tracks, one after another."""
    for description in descriptions:
        before = len(telegram.audios(user_id))
        await telegram.user_sends_text(user_id, f"/generate {description}")
        await telegram.wait_for(lambda b=before: len(telegram.audios(user_id)) == b + 2, timeout=20)
        await bot.services.tasks.idle()


def buttons(message: ChatMessage) -> list[tuple[str, str]]:
    markup = message.inline_markup or {}
    return [(b["text"], b["callback_data"]) for row in markup.get("inline_keyboard", []) for b in row]


async def last_reply(telegram: TelegramEmulator, user_id: int, count_before: int) -> ChatMessage:
    await telegram.wait_for(lambda: len(telegram.bot_messages(user_id)) > count_before)
    return telegram.bot_messages(user_id)[-1]


async def test_library_pages_newest_first_and_finds_by_words(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.script(delays=(0.05, 0.1, 0.15))
    await make_songs(bot, telegram, ALICE, ["rain over tokyo", "sunny beach party", "night drive synthwave"])
    await make_songs(bot, telegram, BOB, ["rain on the window"])

    count = len(telegram.bot_messages(ALICE))
    await telegram.user_sends_text(ALICE, "/library")
    page = await last_reply(telegram, ALICE, count)
    assert "(6)" in (page.text or "") and "page 1 of 2" in (page.text or "")
    songs = [(text, data) for text, data in buttons(page) if data.startswith("lib:play:")]
    assert len(songs) == 5
    assert all(text.startswith("Night Drive Synthwave") for text, _ in songs[:2])  # newest first
    assert songs[-1][0].startswith("Rain Over Tokyo")
    assert all("·" in text for text, _ in songs)  # title · style · duration · when
    older = [data for text, data in buttons(page) if text == "Older ›"]
    assert older and not any(text == "‹ Newer" for text, _ in buttons(page))

    await telegram.user_presses_button(ALICE, page.message_id, older[0])
    await telegram.wait_for(lambda: "page 2 of 2" in (telegram.bot_messages(ALICE)[-1].text or ""))
    page = telegram.bot_messages(ALICE)[-1]
    second = [text for text, data in buttons(page) if data.startswith("lib:play:")]
    assert len(second) == 1 and second[0].startswith("Rain Over Tokyo")
    assert any(text == "‹ Newer" for text, _ in buttons(page))

    count = len(telegram.bot_messages(ALICE))
    await telegram.user_sends_text(ALICE, "/library RAIN")
    found = await last_reply(telegram, ALICE, count)
    titles = [text for text, data in buttons(found) if data.startswith("lib:play:")]
    # Her two rain tracks, never Bob's "Rain On The Window".
    assert len(titles) == 2 and all(t.startswith("Rain Over Tokyo") for t in titles), titles

    count = len(telegram.bot_messages(ALICE))
    await telegram.user_sends_text(ALICE, "/library jazz")
    nothing = await last_reply(telegram, ALICE, count)
    assert "None of your songs" in (nothing.text or "") and not buttons(nothing)
    assert telegram.violations == []


async def test_opening_a_song_resends_it_by_file_id_and_removing_hides_it(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.script(delays=(0.05, 0.1, 0.15))
    await make_songs(bot, telegram, ALICE, ["a calm song about rain"])
    stored = await bot.services.storage.tasks.tracks(1)
    media_gets = len([r for r in provider.requests if r.host == "media"])

    count = len(telegram.bot_messages(ALICE))
    await telegram.user_sends_text(ALICE, "/library")
    page = await last_reply(telegram, ALICE, count)
    play = [data for _, data in buttons(page) if data.startswith("lib:play:")]
    assert len(play) == 2
    newest = int(play[0].removeprefix("lib:play:"))
    track = next(t for t in stored if t.id == newest)

    audios = len(telegram.audios(ALICE))
    await telegram.user_presses_button(ALICE, page.message_id, play[0])
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == audios + 1)
    again = telegram.audios(ALICE)[-1]
    assert again.audio is not None
    assert again.audio["sent_by"] == "file_id" and again.audio["file_id"] == track.telegram_file_id
    assert again.audio["title"] == track.title
    assert ("Extend", f"extend:{track.id}") in buttons(again)  # its usual buttons
    assert len([r for r in provider.requests if r.host == "media"]) == media_gets  # nothing downloaded

    # Bob cannot open Alice's song by forging the button.
    await telegram.user_sends_text(BOB, "/library")
    await telegram.wait_for(lambda: len(telegram.bot_messages(BOB)) == 1)
    bob_page = telegram.bot_messages(BOB)[0]
    await telegram.user_presses_button(BOB, bob_page.message_id, play[0], require_button=False)
    await telegram.wait_for(lambda: any(c.params.get("text") for c in telegram.calls("answerCallbackQuery")))
    assert telegram.audios(BOB) == []

    remove = [data for _, data in buttons(page) if data.startswith(f"lib:del:{newest}:")]
    await telegram.user_presses_button(ALICE, page.message_id, remove[0])
    await telegram.wait_for(lambda: "(1)" in (telegram.bot_messages(ALICE)[-2].text or ""))
    left = [data for _, data in buttons(telegram.bot_messages(ALICE)[-2]) if data.startswith("lib:play:")]
    assert left == [play[1]]
    assert (await bot.services.storage.tasks.require(1)).stage.value == "complete"  # the task stays
    audios = len(telegram.audios(ALICE))
    await telegram.user_presses_button(ALICE, page.message_id, play[0], require_button=False)
    await telegram.wait_for(
        lambda: any(
            "no longer" in (c.params.get("text") or "") for c in telegram.calls("answerCallbackQuery")
        )
    )
    assert len(telegram.audios(ALICE)) == audios
    assert telegram.violations == []


async def test_status_names_each_song(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.script(delays=(0.05, 0.1, 0.15))
    await make_songs(bot, telegram, ALICE, ["a calm song about rain"])
    count = len(telegram.bot_messages(ALICE))
    await telegram.user_sends_text(ALICE, "/status")
    status = await last_reply(telegram, ALICE, count)
    assert "“A Calm Song About Rain”" in (status.text or ""), status.text
