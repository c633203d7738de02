"""Inline mode in the Telegram emulator: people typing `@bot words`, the bot's answers, the result posted.

``InlineActions`` is mixed into ``TelegramEmulator``. It follows the Bot API as telegram-bot-api.json
describes it; the emulator's copy of the result types is ``data/telegram-bot-api-inline.json``:

- an ``inline_query`` update (``InlineQuery``: id, from, query of up to 256 characters, offset,
  chat_type) reaches the bot only when inline mode is on (@BotFather /setinline: ``inline_mode``, which
  getMe reports as ``supports_inline_queries``);
- ``answerInlineQuery`` is refused unless it answers a known, unanswered query; it allows no more than
  50 results, each one of the 20 InlineQueryResult types with exactly its fields (required ones present,
  no others), ids of 1-64 bytes unique in the answer, captions of up to 1024 characters, file ids the
  emulator issued (of the right kind), valid inline keyboards, and a next_offset of at most 64 bytes;
- choosing a result posts it in the chosen chat as the person's message ``via_bot``; when it has an
  inline keyboard the message gets an ``inline_message_id``; with inline feedback on (@BotFather
  /setinlinefeedback: ``inline_feedback``) a ``chosen_inline_result`` update follows.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from emulators.telegram.state import ChatMessage, ChatStore, bad_request, check_markup

MAX_RESULTS = 50
MAX_QUERY_CHARS = 256
MAX_OFFSET_BYTES = 64
MAX_RESULT_ID_BYTES = 64
MAX_CAPTION_CHARS = 1024
_TYPE_VALUE = re.compile(r"must be (\w+)")
# Which StoredFile kind a cached result's file id must be.
_CACHED_FILE_FIELDS = {"audio_file_id": "audio", "voice_file_id": "voice", "document_file_id": "document"}


@dataclass(frozen=True)
class ResultSpec:
    name: str
    type_value: str
    fields: frozenset[str]
    required: frozenset[str]


@cache
def result_specs() -> dict[str, list[ResultSpec]]:
    """The InlineQueryResult types by their `type` value (audio is both Audio and CachedAudio)."""
    raw = json.loads(
        resources.files("emulators.telegram").joinpath("data/telegram-bot-api-inline.json").read_text("utf-8")
    )
    found: dict[str, list[ResultSpec]] = {}
    for name, spec in raw["types"].items():
        if not name.startswith("InlineQueryResult") or name == "InlineQueryResultsButton":
            continue
        type_field = next(f for f in spec["fields"] if f["name"] == "type")
        match = _TYPE_VALUE.search(type_field["description"])
        assert match, name
        found.setdefault(match.group(1), []).append(
            ResultSpec(
                name,
                match.group(1),
                frozenset(f["name"] for f in spec["fields"]),
                frozenset(f["name"] for f in spec["fields"] if f["required"]),
            )
        )
    return found


@dataclass
class InlineQuery:
    id: str
    user_id: int
    query: str
    offset: str
    chat_type: str
    answered: bool = False


@dataclass
class InlineAnswer:
    query: InlineQuery
    results: list[dict[str, Any]]
    cache_time: int | None
    is_personal: bool
    next_offset: str
    button: dict[str, Any] | None = None

    def result_ids(self) -> list[str]:
        return [r["id"] for r in self.results]


@dataclass
class _InlineState:
    queries: dict[str, InlineQuery] = field(default_factory=dict)
    answers: dict[str, InlineAnswer] = field(default_factory=dict)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))


class InlineActions:
    """Mixed into TelegramEmulator; see the module docstring."""

    store: ChatStore
    inline_mode: bool = False  # @BotFather /setinline
    inline_feedback: bool = False  # @BotFather /setinlinefeedback

    @property
    def _inline(self) -> _InlineState:
        state = self.__dict__.get("_inline_state")
        if state is None:
            state = self.__dict__["_inline_state"] = _InlineState()
        return state

    # ---- acting as a person ----------------------------------------------------------------------

    async def user_types_inline(
        self,
        user_id: int,
        query: str,
        *,
        offset: str = "",
        chat_type: str = "sender",
        language_code: str = "en",
    ) -> str:
        """The person types `@bot <query>` in some chat (`offset`: scrolling to the next page); the id of
        the inline query the bot must answer."""
        if not self.inline_mode:
            raise ValueError("inline mode is off (@BotFather /setinline): Telegram sends no inline queries")
        if len(query) > MAX_QUERY_CHARS:
            raise ValueError(f"Telegram cuts inline queries at {MAX_QUERY_CHARS} characters")
        person = self._ensure_person(user_id, None, language_code)  # type: ignore[attr-defined]
        query_id = str(next(self._inline.ids) * 1_000_003)
        self._inline.queries[query_id] = InlineQuery(query_id, user_id, query, offset, chat_type)
        self._enqueue_update(  # type: ignore[attr-defined]
            "inline_query",
            {
                "id": query_id,
                "from": person.user_dict(),
                "query": query,
                "offset": offset,
                "chat_type": chat_type,
            },
        )
        return query_id

    def inline_answer(self, query_id: str) -> InlineAnswer | None:
        return self._inline.answers.get(query_id)

    async def user_chooses_inline_result(
        self, user_id: int, query_id: str, result_id: str, chat_id: int
    ) -> ChatMessage:
        """The person picks a result: it is posted in chat `chat_id` as their message via the bot."""
        answer = self._inline.answers.get(query_id)
        if answer is None or answer.query.user_id != user_id:
            raise ValueError(f"user {user_id} has no answered inline query {query_id}")
        result = next((r for r in answer.results if r["id"] == result_id), None)
        if result is None:
            raise ValueError(f"inline query {query_id} offered no result {result_id!r}")
        chat, sender = self._chat_and_sender(  # type: ignore[attr-defined]
            user_id, None, None, None if chat_id == user_id else chat_id
        )
        raw = self.store.user_message_raw(chat, sender)
        raw["via_bot"] = self.store.bot_user()
        media_kind = None
        media = None
        text = result.get("caption")
        for field_name, kind in _CACHED_FILE_FIELDS.items():
            if field_name in result:
                media_kind = kind
                media = raw[kind] = self.store.media_api_dict(kind, self.store.files[result[field_name]])
        if text is not None:
            raw["caption"] = text
        markup = result.get("reply_markup")
        inline_message_id = None
        if markup is not None:
            raw["reply_markup"] = markup
            inline_message_id = f"inline-{query_id}-{result_id}"
        message = self.store.add_message(
            chat,
            raw,
            from_bot=False,
            text=text,
            markup=markup,
            media_kind=media_kind,
            media=media,  # type: ignore[arg-type]
        )
        self._emit("user_message", chat.id, message, text)  # type: ignore[attr-defined]
        if self.inline_feedback:
            person = self.store.people[user_id]
            chosen: dict[str, Any] = {
                "result_id": result_id,
                "from": person.user_dict(),
                "query": answer.query.query,
            }
            if inline_message_id is not None:
                chosen["inline_message_id"] = inline_message_id
            self._enqueue_update("chosen_inline_result", chosen)  # type: ignore[attr-defined]
        return message

    # ---- the method ------------------------------------------------------------------------------

    async def _answer_inline_query(self, call: Any) -> Any:
        params = call.params
        query = self._inline.queries.get(params["inline_query_id"])
        if query is None or query.answered:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        results = params["results"]
        if isinstance(results, str):
            results = json.loads(results)
        if not isinstance(results, list):
            raise bad_request("can't parse inline query results JSON object")
        if len(results) > MAX_RESULTS:
            raise bad_request("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            self._check_result(result, seen)
        next_offset = params.get("next_offset") or ""
        if len(str(next_offset).encode()) > MAX_OFFSET_BYTES:
            raise bad_request("NEXT_OFFSET_INVALID")
        query.answered = True
        self._inline.answers[query.id] = InlineAnswer(
            query,
            results,
            params.get("cache_time"),
            bool(params.get("is_personal", False)),
            str(next_offset),
            params.get("button"),
        )
        self._changed()  # type: ignore[attr-defined]
        return True

    def _check_result(self, result: Any, seen: set[str]) -> None:
        if not isinstance(result, dict):
            raise bad_request("can't parse inline query result")
        specs = result_specs().get(str(result.get("type")))
        if not specs:
            raise bad_request("RESULT_TYPE_INVALID")
        given = frozenset(result)
        if not any(spec.required <= given <= spec.fields for spec in specs):
            names = " or ".join(s.name for s in specs)
            raise bad_request(f"can't parse inline query result: fields {sorted(given)} fit no {names}")
        result_id = result.get("id")
        if not isinstance(result_id, str) or not 1 <= len(result_id.encode()) <= MAX_RESULT_ID_BYTES:
            raise bad_request("RESULT_ID_INVALID")
        if result_id in seen:
            raise bad_request("RESULT_ID_DUPLICATE")
        seen.add(result_id)
        caption = result.get("caption")
        if caption is not None and (not isinstance(caption, str) or len(caption) > MAX_CAPTION_CHARS):
            raise bad_request("MEDIA_CAPTION_TOO_LONG")
        for field_name, kind in _CACHED_FILE_FIELDS.items():
            if field_name in result:
                stored = self.store.files.get(result[field_name])
                if stored is None or stored.kind != kind:
                    raise bad_request("wrong file identifier specified")
        if "reply_markup" in result:
            check_markup(result["reply_markup"], inline_only=True)
