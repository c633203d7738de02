"""Tracks go by URL where Telegram can fetch them itself, and are uploaded where it cannot.

The Telegram emulator really fetches a URL it is given (from the provider emulator's media host), so
"by URL" means the audio never passed through the bot; what did pass is counted in
`bot_delivery_bytes_total{how=...}`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from prometheus_client.parser import text_string_to_metric_families

from bot.settings import Settings
from emulators.harness import RunningBot
from emulators.provider.server import ProviderEmulator
from emulators.telegram.server import ChatMessage, TelegramEmulator
from emulators.telegram.url_fetch import USER_AGENT

ALICE = 1001
StartBot = Callable[[Settings], AbstractAsyncContextManager[RunningBot]]


async def deliver_two_tracks(bot: RunningBot, telegram: TelegramEmulator) -> list[ChatMessage]:
    await telegram.user_sends_text(ALICE, "/generate a calm lo-fi song about rain")
    await telegram.wait_for(lambda: len(telegram.audios(ALICE)) == 2, timeout=20)
    await bot.services.tasks.idle()
    return telegram.audios(ALICE)


def delivery_bytes(bot: RunningBot) -> dict[str, float]:
    """bot_delivery_bytes_total by `how`, as /metrics shows it."""
    text = bot.services.metrics.render().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "bot_delivery_bytes_total":
                values[sample.labels["how"]] = sample.value
    return values


def bot_media_gets(provider: ProviderEmulator, kind: str) -> int:
    """GETs of the provider's media the bot made (Telegram's fetcher introduces itself)."""
    return sum(
        1
        for r in provider.requests
        if r.method == "GET"
        and r.path.startswith(f"/media/{kind}/")
        and r.headers.get("User-Agent") != USER_AGENT
    )


def thumbnail_bytes(message: ChatMessage) -> int:
    assert message.audio is not None and message.audio.get("thumbnail"), "every track has its cover"
    return int(message.audio["thumbnail"]["file_size"])


async def test_tracks_go_by_url_and_only_the_cover_passes_through_the_bot(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    audios = await deliver_two_tracks(bot, telegram)
    tracks = provider.last_task.tracks
    assert [m.audio["sent_by"] for m in audios] == ["url", "url"]  # type: ignore[index]
    assert {m.audio["source_url"] for m in audios} == {  # type: ignore[index]
        f"{provider.url}/media/audio/{t.id}.mp3" for t in tracks
    }
    assert all(isinstance(c.params["audio"], str) for c in telegram.calls("sendAudio"))
    # Telegram fetched the very bytes the provider made; the bot fetched only the covers.
    assert {m.audio["sha256"] for m in audios} == {t.sha256 for t in tracks}  # type: ignore[index]
    assert bot_media_gets(provider, "audio") == 0 and bot_media_gets(provider, "image") == 2
    stored = await bot.services.storage.tasks.tracks(1)
    assert {t.telegram_file_id for t in stored} == {m.audio["file_id"] for m in audios}  # type: ignore[index]
    assert all(m.reply_markup and "Extend" in str(m.reply_markup) for m in audios)

    covers = sum(len(t.image) for t in tracks) + sum(thumbnail_bytes(m) for m in audios)
    assert delivery_bytes(bot) == {"url": covers}


async def test_a_refused_url_falls_back_to_an_upload_of_the_same_message(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    telegram.fail_next(
        "sendAudio", error_code=400, description="Bad Request: failed to get HTTP URL content", times=1
    )
    audios = await deliver_two_tracks(bot, telegram)
    calls = telegram.calls("sendAudio")
    assert [(c.status, isinstance(c.params["audio"], str)) for c in calls] == [
        (400, True),  # the first track's URL, refused
        (200, False),  # the same track uploaded at once
        (200, True),  # the second track by URL again
    ]
    assert len(audios) == 2 and [m.audio["sent_by"] for m in audios] == ["upload", "url"]  # type: ignore[index]
    uploaded, by_url = audios
    assert uploaded.text == by_url.text and uploaded.text  # the same caption either way
    # The same buttons, for its own track.
    assert [d.split(":")[0] for d in uploaded.button_data()] == ["extend", "share", "more"]
    assert [d.split(":")[0] for d in by_url.button_data()] == ["extend", "share", "more"]
    by_sha = {t.sha256: t for t in provider.last_task.tracks}
    first, second = by_sha[uploaded.audio["sha256"]], by_sha[by_url.audio["sha256"]]  # type: ignore[index]
    assert uploaded.audio["title"] == by_url.audio["title"]  # type: ignore[index]
    assert (await bot.services.storage.tasks.tracks(1))[0].telegram_file_id == uploaded.audio["file_id"]  # type: ignore[index]

    # The refused call carried the thumbnail too; the upload moved the track down and up again.
    assert delivery_bytes(bot) == {
        "upload": len(first.image) + 2 * thumbnail_bytes(uploaded) + 2 * len(first.audio),
        "url": len(second.image) + thumbnail_bytes(by_url),
    }


async def test_urls_telegram_itself_cannot_fetch_are_uploaded(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    telegram.max_url_bytes = 1000  # Telegram's fetch gives up on every track, whatever the bot expected
    audios = await deliver_two_tracks(bot, telegram)
    statuses = [(c.status, isinstance(c.params["audio"], str)) for c in telegram.calls("sendAudio")]
    assert statuses == [(400, True), (200, False)] * 2
    assert [m.audio["sent_by"] for m in audios] == ["upload", "upload"]  # type: ignore[index]
    assert {m.audio["sha256"] for m in audios} == {t.sha256 for t in provider.last_task.tracks}  # type: ignore[index]


async def test_a_track_known_too_big_for_telegram_to_fetch_is_uploaded(
    bot: RunningBot, telegram: TelegramEmulator, provider: ProviderEmulator
) -> None:
    provider.track_bytes = 21 * 1024 * 1024  # over the 20 MB Telegram fetches by URL, under 50 MB uploads
    audios = await deliver_two_tracks(bot, telegram)
    assert all(isinstance(c.params["audio"], dict) for c in telegram.calls("sendAudio"))  # no URL tried
    assert [m.audio["sent_by"] for m in audios] == ["upload", "upload"]  # type: ignore[index]
    assert {m.audio["sha256"] for m in audios} == {t.sha256 for t in provider.last_task.tracks}  # type: ignore[index]
    heads = [r for r in provider.requests if r.method == "HEAD" and r.path.startswith("/media/audio/")]
    assert len(heads) == 2  # the size came from a HEAD: nothing was downloaded to learn it
    assert set(delivery_bytes(bot)) == {"upload"}


async def test_http_urls_are_uploaded_with_the_default_https_only_setting(
    make_settings: Callable[..., Settings],
    start_bot: StartBot,
    telegram: TelegramEmulator,
    provider: ProviderEmulator,
) -> None:
    default = Settings.model_fields["delivery_url_schemes"].default
    assert default == ("https",)
    async with start_bot(make_settings(DELIVERY_URL_SCHEMES=default)) as bot:
        audios = await deliver_two_tracks(bot, telegram)
    assert all(isinstance(c.params["audio"], dict) for c in telegram.calls("sendAudio"))
    assert [m.audio["sent_by"] for m in audios] == ["upload", "upload"]  # type: ignore[index]
    assert not [r for r in provider.requests if r.method == "HEAD"]  # the scheme alone decided
    tracks = provider.last_task.tracks
    covers = sum(len(t.image) for t in tracks) + sum(thumbnail_bytes(m) for m in audios)
    assert delivery_bytes(bot) == {"upload": covers + 2 * sum(len(t.audio) for t in tracks)}
