"""The Telegram emulator's groups, channels, edits, inline buttons and photos, read back through PTB."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telegram import Bot, Update
from telegram.constants import ChatType, MessageEntityType
from telegram.error import Forbidden

from emulators.telegram.server import TelegramEmulator

ALICE = 42
BOB = 43
GROUP = -1001234567890


@pytest.fixture
async def tg(tmp_path: Path) -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(files_dir=tmp_path / "files", per_chat_interval=0) as emulator:
        yield emulator


@pytest.fixture
async def bot(tg: TelegramEmulator) -> AsyncIterator[Bot]:
    async with Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot") as ptb_bot:
        yield ptb_bot


async def updates(bot: Bot) -> list[Update]:
    found = await bot.get_updates()
    if found:
        await bot.get_updates(offset=found[-1].update_id + 1)  # confirmed, as PTB's updater does
    return list(found)


async def test_a_group_message_names_the_group_and_its_sender(bot: Bot, tg: TelegramEmulator) -> None:
    tg.create_group(GROUP, added_by=ALICE, title="Friends")
    [joined] = await updates(bot)
    change = joined.my_chat_member
    assert change is not None and change.chat.id == GROUP and change.chat.type == ChatType.SUPERGROUP
    assert change.chat.title == "Friends" and change.from_user.id == ALICE
    assert (change.old_chat_member.status, change.new_chat_member.status) == ("left", "member")
    assert change.new_chat_member.user.id == bot.id

    first = await tg.user_sends_text(BOB, "hello @music_test_bot and /start@music_test_bot", chat_id=GROUP)
    await tg.user_sends_text(ALICE, "hi Bob", chat_id=GROUP, reply_to=first["message_id"])
    said, replied = await updates(bot)
    assert said.message is not None and said.message.from_user is not None
    assert said.message.chat.type == ChatType.SUPERGROUP and said.message.from_user.id == BOB
    entities = said.message.parse_entities()
    assert sorted((e.type, text) for e, text in entities.items()) == [
        (MessageEntityType.BOT_COMMAND, "/start@music_test_bot"),
        (MessageEntityType.MENTION, "@music_test_bot"),
    ]
    assert replied.message is not None and replied.message.reply_to_message is not None
    assert replied.message.reply_to_message.message_id == first["message_id"]

    sent = await bot.send_message(GROUP, "hi all")
    assert sent.chat.type == ChatType.SUPERGROUP
    assert tg.bot_messages(GROUP)[-1].text == "hi all"
    assert tg.messages(ALICE) == []  # Alice never opened a private chat with the bot


async def test_a_bot_removed_from_a_group_is_refused_until_it_is_added_again(
    bot: Bot, tg: TelegramEmulator
) -> None:
    tg.create_group(GROUP, added_by=ALICE)
    tg.remove_bot(GROUP, by=ALICE)
    with pytest.raises(Forbidden, match="bot is not a member of the group chat"):
        await bot.send_message(GROUP, "still here?")
    tg.add_bot(GROUP, by=BOB)
    await bot.send_message(GROUP, "back")
    tg.remove_bot(GROUP, by=BOB, ban=True)
    with pytest.raises(Forbidden, match="bot was kicked from the group chat"):
        await bot.send_message(GROUP, "hello?")
    statuses = [
        (u.my_chat_member.old_chat_member.status, u.my_chat_member.new_chat_member.status)
        for u in await updates(bot)
        if u.my_chat_member is not None
    ]
    assert statuses == [("left", "member"), ("member", "left"), ("left", "member"), ("member", "kicked")]
    with pytest.raises(ValueError, match="create_group"):
        await tg.user_sends_text(ALICE, "hi", chat_id=-1009999999999)


async def test_edits_channel_posts_inline_buttons_and_photos_arrive_as_telegram_sends_them(
    bot: Bot, tg: TelegramEmulator
) -> None:
    sent = await tg.user_sends_text(ALICE, "/generate a song")
    await tg.user_edits_message(ALICE, sent["message_id"], "/generate another song")
    await tg.channel_posts(-1005555555555, "news of the day")
    query_id = await tg.user_presses_inline_button(ALICE, "AgAAAInline", "lang:en")
    await tg.user_sends_photo(ALICE, caption="look")
    message, edited, post, pressed, photo = await updates(bot)

    assert message.message is not None and edited.message is None
    assert edited.edited_message is not None and edited.edited_message.edit_date is not None
    assert edited.edited_message.message_id == sent["message_id"]
    assert edited.edited_message.text == "/generate another song"
    assert post.channel_post is not None and post.channel_post.from_user is None
    assert post.channel_post.chat.type == ChatType.CHANNEL
    assert post.channel_post.sender_chat is not None and post.channel_post.sender_chat.id == -1005555555555
    query = pressed.callback_query
    assert query is not None and query.message is None and query.inline_message_id == "AgAAAInline"
    assert photo.message is not None and photo.message.caption == "look"
    assert [(p.width, p.height) for p in photo.message.photo] == [(90, 90), (320, 320)]

    assert await bot.answer_callback_query(query_id, text="ok")
    assert tg.answered_callbacks[-1].callback_query_id == query_id
    with pytest.raises(ValueError, match="to edit"):
        await tg.user_edits_message(BOB, sent["message_id"], "not mine")
