"""The Telegram emulator's inline mode holds answerInlineQuery to the Bot API's rules."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from emulators.telegram.server import TelegramEmulator

ALICE = 1001


async def call(telegram: TelegramEmulator, method: str, body: dict[str, Any]) -> dict[str, Any]:
    url = f"{telegram.url}/bot{telegram.token}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return dict(await response.json())


async def audio_file_id(telegram: TelegramEmulator) -> str:
    await telegram.user_sends_audio(ALICE, b"ID3" + b"\x00" * 400, duration=3)
    return str(telegram.messages(ALICE)[-1].audio["file_id"])  # type: ignore[index]


def cached_audio(result_id: str, file_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": "audio", "id": result_id, "audio_file_id": file_id, **extra}


async def test_inline_queries_need_inline_mode_and_get_me_says_so(telegram: TelegramEmulator) -> None:
    assert (await call(telegram, "getMe", {}))["result"]["supports_inline_queries"] is False
    with pytest.raises(ValueError):
        await telegram.user_types_inline(ALICE, "rain")
    telegram.inline_mode = True
    assert (await call(telegram, "getMe", {}))["result"]["supports_inline_queries"] is True
    await telegram.user_types_inline(ALICE, "rain")
    [update] = telegram.pending_updates
    query = update["inline_query"]
    assert query["query"] == "rain" and query["offset"] == "" and query["from"]["id"] == ALICE


@pytest.mark.parametrize(
    ("results", "extra", "error"),
    [
        ([{"type": "song", "id": "1", "audio_file_id": "F"}], {}, "RESULT_TYPE_INVALID"),
        ([{"type": "audio", "id": "1"}], {}, "fit no"),  # neither audio_url nor audio_file_id
        ([cached_audio("1", "F", performer="x")], {}, "fit no"),  # performer is InlineQueryResultAudio's
        ([cached_audio("x" * 65, "F")], {}, "RESULT_ID_INVALID"),
        ([cached_audio("1", "F"), cached_audio("1", "F")], {}, "RESULT_ID_DUPLICATE"),
        ([cached_audio(str(n), "F") for n in range(51)], {}, "RESULTS_TOO_MUCH"),
        ([cached_audio("1", "F", caption="c" * 1025)], {}, "MEDIA_CAPTION_TOO_LONG"),
        ([cached_audio("1", "unknown")], {}, "wrong file identifier"),
        ([cached_audio("1", "F")], {"next_offset": "9" * 65}, "NEXT_OFFSET_INVALID"),
        (
            [cached_audio("1", "F", reply_markup={"inline_keyboard": [[{"text": "x"}]]})],
            {},
            "keyboard button",
        ),
    ],
)
async def test_answers_telegram_would_refuse_are_refused(
    telegram: TelegramEmulator, results: list[dict[str, Any]], extra: dict[str, Any], error: str
) -> None:
    telegram.inline_mode = True
    file_id = await audio_file_id(telegram)
    for result in results:
        if result.get("audio_file_id") == "F":
            result["audio_file_id"] = file_id
    query_id = await telegram.user_types_inline(ALICE, "")
    answer = await call(
        telegram, "answerInlineQuery", {"inline_query_id": query_id, "results": results, **extra}
    )
    assert answer["ok"] is False and error in answer["description"], answer
    assert telegram.inline_answer(query_id) is None


async def test_a_query_is_answered_once(telegram: TelegramEmulator) -> None:
    telegram.inline_mode = True
    file_id = await audio_file_id(telegram)
    query_id = await telegram.user_types_inline(ALICE, "")
    body = {"inline_query_id": query_id, "results": [cached_audio("1", file_id)], "is_personal": True}
    assert (await call(telegram, "answerInlineQuery", body))["ok"] is True
    answer = telegram.inline_answer(query_id)
    assert answer is not None and answer.is_personal and answer.result_ids() == ["1"]
    again = await call(telegram, "answerInlineQuery", body)
    assert again["ok"] is False and "query ID is invalid" in again["description"]
    unknown = await call(telegram, "answerInlineQuery", {**body, "inline_query_id": "42"})
    assert unknown["ok"] is False
