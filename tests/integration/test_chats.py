"""Chats of every type, edits, inline buttons and unknown input, with updates built as Telegram sends them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import TelegramEmulator
from emulators.telegram.state import ChatMessage
from storage.work import Kind

ALICE = 6001
BOB = 6002
GROUP = -1001234567890
CHANNEL = -1009876543210
BOT = "music_test_bot"


def said(telegram: TelegramEmulator, chat_id: int, fragment: str) -> bool:
    return any(fragment in (m.text or "") for m in telegram.bot_messages(chat_id))


def newest_bot_message(telegram: TelegramEmulator, chat_id: int, fragment: str) -> ChatMessage:
    return next(m for m in reversed(telegram.bot_messages(chat_id)) if fragment in (m.text or ""))


async def test_a_song_asked_in_a_group_goes_there_and_the_private_chat_stays_private(
    bot: RunningBot, telegram: TelegramEmulator
) -> None:
    await telegram.user_sends_text(ALICE, "/start")
    await telegram.wait_for(lambda: said(telegram, ALICE, "I make music"))
    telegram.create_group(GROUP, added_by=ALICE)
    await telegram.user_sends_text(ALICE, f"/generate@{BOT} a song for the whole group", chat_id=GROUP)
    await telegram.wait_for(lambda: len(telegram.audios(GROUP)) == 2, timeout=20)
    progress = [m for m in telegram.bot_messages(GROUP) if m.audio is None and "🎵" in (m.text or "")]
    assert progress and "Asked by Alice" in progress[0].text  # several people make songs there: whose?

    # Her next song asked in private comes to her private chat, not to the group she last wrote in.
    await telegram.user_sends_text(ALICE, "/generate a song just for me")
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
    await bot.services.tasks.idle()
    assert len(telegram.audios(GROUP)) == 2
    storage = bot.services.storage
    assert [(await storage.tasks.require(i)).chat_id for i in (1, 2)] == [GROUP, ALICE]
    person = await storage.people.get(ALICE)
    assert person is not None and person.chat_id == ALICE
    assert telegram.violations == []


async def test_talking_in_a_group_does_not_redirect_the_songs_missed_while_the_bot_was_blocked(
    bot: RunningBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
    wait_until: Callable[..., Awaitable[None]],
) -> None:
    storage = bot.services.storage
    provider.script(hold=True)
    await telegram.user_sends_text(ALICE, "/generate a song for later")
    await provider.wait_for(lambda: bool(provider.tasks) and provider.last_task.held, timeout=10)
    telegram.block_bot(ALICE)
    provider.release(provider.last_task.task_id)

    async def deliveries_given_up() -> bool:
        return len(await storage.work.items(kind=Kind.DELIVER, state="failed")) == 2

    await wait_until(deliveries_given_up, timeout=20)
    # Still blocked in private, she talks to the bot in a group...
    telegram.create_group(GROUP, added_by=ALICE)
    await telegram.user_sends_text(ALICE, f"/help@{BOT}", chat_id=GROUP)
    await telegram.wait_for(lambda: said(telegram, GROUP, "How to use me"))
    person = await storage.people.get(ALICE)
    assert person is not None and person.chat_id == ALICE and person.bot_blocked
    # ...then unblocks the bot (writing to it again does that): what she missed comes to her, not there.
    await telegram.user_sends_text(ALICE, "I'm back")
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
    assert telegram.audios(GROUP) == []


async def test_group_chatter_gets_no_answer_only_what_is_addressed_to_the_bot_does(
    bot: RunningBot, telegram: TelegramEmulator
) -> None:
    telegram.create_group(GROUP, added_by=BOB)
    await telegram.user_sends_text(BOB, "hello everyone, who is coming tonight?", chat_id=GROUP)
    chatter = await telegram.user_sends_text(ALICE, "me!", chat_id=GROUP)
    await telegram.user_sends_text(BOB, "great", chat_id=GROUP, reply_to=chatter["message_id"])
    await telegram.user_sends_text(BOB, "/generate@other_bot a song for them", chat_id=GROUP)
    await telegram.user_sends_text(BOB, "/weather", chat_id=GROUP)  # another bot's bare command
    await telegram.user_sends_text(BOB, "a song via the bot", chat_id=GROUP, via_bot=True)
    # Then Bob addresses the bot: by name, and by mentioning it. His updates are handled in order.
    await telegram.user_sends_text(BOB, f"/help@{BOT}", chat_id=GROUP)
    await telegram.user_sends_text(BOB, f"@{BOT} what can you do?", chat_id=GROUP)
    await telegram.wait_for(lambda: said(telegram, GROUP, "I make songs"))
    answers = [m.text or "" for m in telegram.bot_messages(GROUP)]
    assert len(answers) == 2 and answers[0].startswith("How to use me"), answers
    assert await bot.services.storage.tasks.get(1) is None
    # Alice only chatted: nothing about her was stored.
    assert await bot.services.storage.people.get(ALICE) is None


async def test_a_question_in_a_group_is_answered_by_replying_to_it(
    bot: RunningBot, telegram: TelegramEmulator
) -> None:
    telegram.create_group(-4242, added_by=BOB, kind="group", title="Band")
    await telegram.user_sends_text(BOB, f"/generate@{BOT}", chat_id=-4242)
    await telegram.wait_for(lambda: said(telegram, -4242, "Describe the song"))
    question = newest_bot_message(telegram, -4242, "Describe the song")
    assert "replying to this message" in (question.text or "")
    await telegram.user_sends_text(BOB, "not for the bot", chat_id=-4242)  # mid-question chatter
    await telegram.user_sends_text(BOB, "a song about our band", chat_id=-4242, reply_to=question.message_id)
    await telegram.wait_for(lambda: len(telegram.audios(-4242)) == 2, timeout=20)
    task = await bot.services.storage.tasks.require(1)
    assert task.chat_id == -4242 and task.params["prompt"] == "a song about our band"
    person = await bot.services.storage.people.get(BOB)
    assert person is not None and person.chat_id is None  # he never wrote to the bot in private


async def test_an_answer_in_another_chat_does_not_continue_a_question_asked_elsewhere(
    bot: RunningBot, telegram: TelegramEmulator
) -> None:
    await telegram.user_sends_text(ALICE, "/custom")
    await telegram.wait_for(lambda: said(telegram, ALICE, "What is the title?"))
    telegram.create_group(GROUP, added_by=ALICE)
    await telegram.user_sends_text(ALICE, f"/generate@{BOT}", chat_id=GROUP)
    await telegram.wait_for(lambda: said(telegram, GROUP, "Describe the song"))
    # Answering the private question would otherwise finish the group's description question.
    await telegram.user_sends_text(ALICE, "Rainy days")
    await telegram.wait_for(lambda: said(telegram, ALICE, "The question you were answering here is closed"))
    assert await bot.services.storage.tasks.get(1) is None


async def test_removal_from_a_group_and_coming_back_are_recorded(
    bot: RunningBot, telegram: TelegramEmulator, wait_until: Callable[..., Awaitable[None]]
) -> None:
    chats = bot.services.storage.chats

    def removed_is(expected: bool) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await chats.removed(GROUP) is expected

        return check

    telegram.create_group(GROUP, added_by=ALICE)
    await wait_until(removed_is(False))
    telegram.remove_bot(GROUP, by=ALICE)
    await wait_until(removed_is(True))
    telegram.add_bot(GROUP, by=BOB)
    await wait_until(removed_is(False))
    telegram.remove_bot(GROUP, by=BOB, ban=True)
    await wait_until(removed_is(True))
    assert telegram.bot_messages(GROUP) == []  # none of it was answered


async def test_channel_posts_are_ignored(bot: RunningBot, telegram: TelegramEmulator) -> None:
    await telegram.channel_posts(CHANNEL, f"/generate@{BOT} a song for the channel")
    await telegram.user_sends_text(ALICE, "/help")
    await telegram.wait_for(lambda: said(telegram, ALICE, "How to use me"))
    await telegram.wait_for(lambda: not telegram.pending_updates)
    assert telegram.bot_messages(CHANNEL) == []
    assert await bot.services.storage.tasks.get(1) is None


async def test_an_edited_generate_starts_no_second_song_and_edits_get_no_answer(
    bot: RunningBot, telegram: TelegramEmulator
) -> None:
    sent = await telegram.user_sends_text(ALICE, "/generate a song about the sea")
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
    await bot.services.tasks.idle()
    before = len(telegram.bot_messages(ALICE))
    await telegram.user_edits_message(ALICE, sent["message_id"], "/generate a song about the mountains")
    hello = await telegram.user_sends_text(ALICE, "hello")
    await telegram.user_edits_message(ALICE, hello["message_id"], "hello there")
    await telegram.user_sends_text(ALICE, "/status")  # her updates are handled in order: edits first
    await telegram.wait_for(lambda: said(telegram, ALICE, "Your recent songs"))
    await bot.services.tasks.idle()
    assert await bot.services.storage.tasks.get(2) is None
    later = [m.text or "" for m in telegram.bot_messages(ALICE)[before:]]
    assert len(later) == 2 and "I make songs" in later[0] and "Your recent songs" in later[1], later


async def test_every_button_is_answered_inline_unknown_and_closed_ones_too(
    bot: RunningBot, telegram: TelegramEmulator
) -> None:
    inline = await telegram.user_presses_inline_button(ALICE, "AAQAAAAAAAAA1234", "lang:en")
    await telegram.wait_for(lambda: any(a.callback_query_id == inline for a in telegram.answered_callbacks))

    await telegram.user_sends_text(ALICE, "/custom")
    await telegram.wait_for(lambda: said(telegram, ALICE, "What is the title?"))
    question = newest_bot_message(telegram, ALICE, "What is the title?")
    await telegram.user_sends_text(ALICE, "/cancel")
    await telegram.wait_for(lambda: said(telegram, ALICE, "Cancelled"))
    # A button from an older version of the bot, and one of a question that has closed.
    old = await telegram.user_presses_button(ALICE, question.message_id, "retired:7", require_button=False)
    closed = await telegram.user_presses_button(ALICE, question.message_id, "ans:0:0", require_button=False)
    await telegram.wait_for(
        lambda: {old, closed} <= {a.callback_query_id for a in telegram.answered_callbacks}
    )
    answered = {a.callback_query_id: a for a in telegram.answered_callbacks}
    assert "doesn't work any more" in (answered[old].text or "")
    assert "This question is closed" in (answered[closed].text or "")


async def test_a_photo_a_text_file_or_an_unknown_command_get_a_short_answer(
    bot: RunningBot, telegram: TelegramEmulator
) -> None:
    await telegram.user_sends_photo(ALICE)
    await telegram.wait_for(lambda: said(telegram, ALICE, "I can only work with audio"))
    await telegram.user_sends_audio(
        ALICE, b"just some notes\n" * 20, kind="document", mime_type="text/plain", file_name="notes.txt"
    )
    await telegram.wait_for(
        lambda: sum("I can only work with audio" in (m.text or "") for m in telegram.bot_messages(ALICE)) == 2
    )
    await telegram.user_sends_text(ALICE, "/dance")
    await telegram.wait_for(lambda: said(telegram, ALICE, "I don't know that command"))
    await telegram.user_sends_text(ALICE, "hi")
    await telegram.wait_for(lambda: said(telegram, ALICE, "I make songs"))
    texts = " ".join(m.text or "" for m in telegram.bot_messages(ALICE))
    assert "expired" not in texts and "restarted" not in texts and "wasn't expecting" not in texts
