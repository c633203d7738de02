"""Share links through the real bot and both emulators: a stranger gets the song until it is revoked."""

from __future__ import annotations

import re

import pytest

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from tests.integration.test_library import buttons, last_reply, make_songs

ALICE = 1001
STRANGER = 2002
LINK = re.compile(r"https://t\.me/\S+\?start=s_[A-Za-z0-9_-]+")


async def test_a_share_link_gives_a_stranger_the_song_until_it_is_revoked(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.script(delays=(0.05, 0.1, 0.15))
    await make_songs(bot, telegram, ALICE, ["a calm song about rain"])
    delivered = telegram.audios(ALICE)[0]
    share = [data for text, data in buttons(delivered) if text == "Share"]
    assert share and any(text == "Extend" for text, _ in buttons(delivered))  # Extend stays
    track = await bot.services.storage.tasks.track(int(share[0].removeprefix("share:")))
    assert track is not None
    media_gets = len([r for r in provider.requests if r.host == "media"])

    count = len(telegram.bot_messages(ALICE))
    await telegram.user_presses_button(ALICE, delivered.message_id, share[0])
    offer = await last_reply(telegram, ALICE, count)
    found = LINK.search(offer.text or "")
    assert found, offer.text
    link = found.group(0)
    assert link.startswith(f"https://t.me/{telegram.store.bot_username}?start=")

    # Pressing Share again gives the same link, not a second one to revoke.
    count = len(telegram.bot_messages(ALICE))
    await telegram.user_presses_button(ALICE, delivered.message_id, share[0])
    assert link in ((await last_reply(telegram, ALICE, count)).text or "")

    await telegram.user_opens_link(STRANGER, link, first_name="Sam")
    await telegram.wait_for(lambda: len(telegram.bot_messages(STRANGER)) == 2)
    audio, invitation = telegram.bot_messages(STRANGER)
    assert audio.audio is not None
    assert audio.audio["sent_by"] == "file_id" and audio.audio["file_id"] == track.telegram_file_id
    assert not buttons(audio)  # Extend and Share are the owner's
    assert "/generate" in (invitation.text or "") and track.title in (invitation.text or "")
    assert len([r for r in provider.requests if r.host == "media"]) == media_gets

    # A forged or altered token gives nothing.
    forged = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    await telegram.user_opens_link(STRANGER, forged)
    await telegram.wait_for(lambda: len(telegram.bot_messages(STRANGER)) == 3)
    assert "no longer works" in (telegram.bot_messages(STRANGER)[-1].text or "")

    revoke = [data for _, data in buttons(offer) if data.startswith("share:revoke:")]
    await telegram.user_presses_button(ALICE, offer.message_id, revoke[0])
    await telegram.wait_for(lambda: "revoked" in (telegram.bot_messages(ALICE)[count - 1].text or ""))

    await telegram.user_opens_link(STRANGER, link)
    await telegram.wait_for(lambda: len(telegram.bot_messages(STRANGER)) == 4)
    assert "no longer works" in (telegram.bot_messages(STRANGER)[-1].text or "")
    assert len(telegram.audios(STRANGER)) == 1

    # A new Share after revoking is a new link; the old one stays dead.
    count = len(telegram.bot_messages(ALICE))
    await telegram.user_presses_button(ALICE, delivered.message_id, share[0])
    fresh = LINK.search((await last_reply(telegram, ALICE, count)).text or "")
    assert fresh and fresh.group(0) != link
    assert telegram.violations == []


async def test_only_the_owner_can_share_or_revoke(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.script(delays=(0.05, 0.1, 0.15))
    await make_songs(bot, telegram, ALICE, ["a calm song about rain"])
    delivered = telegram.audios(ALICE)[0]
    share = next(data for text, data in buttons(delivered) if text == "Share")
    await telegram.user_sends_text(STRANGER, "/start")
    await telegram.wait_for(lambda: len(telegram.bot_messages(STRANGER)) == 1)
    theirs = telegram.bot_messages(STRANGER)[0]
    await telegram.user_presses_button(STRANGER, theirs.message_id, share, require_button=False)
    await telegram.wait_for(lambda: any(c.params.get("text") for c in telegram.calls("answerCallbackQuery")))
    assert len(telegram.bot_messages(STRANGER)) == 1  # no link for someone else's song


async def test_the_emulator_refuses_links_telegram_would_not_carry(telegram: TelegramEmulator) -> None:
    name = telegram.store.bot_username
    for url in (
        f"https://t.me/{name}?start=has.dot",
        f"https://t.me/{name}?start={'a' * 65}",
        "https://t.me/someone_else_bot?start=s_1",
    ):
        with pytest.raises(ValueError):
            await telegram.user_opens_link(1, url)
    assert telegram.pending_updates == []
