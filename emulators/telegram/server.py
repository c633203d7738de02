"""A Telegram Bot API emulator: a real aiohttp server on loopback, as strict as the real server.

The bot under test talks to it through its production code paths, only with another base URL::

    async with TelegramEmulator() as tg:
        bot = telegram.Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot")
        await tg.user_sends_text(42, "/start")
        await tg.wait_for(lambda: tg.bot_messages(42))

It validates every call against the Bot API spec shipped in ``emulators/telegram/data`` (unknown methods,
unknown or missing fields, types), enforces the documented limits (4096/1024 characters, 64-byte
callback data, 50 MB uploads, 20 MB downloads, JPEG thumbnails), answers edits that change nothing with
"message is not modified", counts flood-limit violations, and can script faults (429 with retry_after,
403 from a person who blocked the bot, 5xx, and outages of the front proxy: see the class docstring).
Methods the emulator does not implement fail loudly.

This module holds the public face: lifecycle, acting as a person, observing, scripted faults and the HTTP
dispatch. Decoding and checking a call lives in ``telegram_requests``, the method implementations in
``telegram_methods``, webhook delivery in ``telegram_webhook``, the chat model in ``telegram_state`` and
the front-proxy outages in ``telegram_outage``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qs, urlsplit

import aiohttp
from aiohttp import web

from emulators.connection import NO_ANSWER, reset_connection
from emulators.telegram.albums import AlbumMethods
from emulators.telegram.groups import GroupActions, removed_from
from emulators.telegram.inline import InlineActions
from emulators.telegram.methods import FLOOD_COUNTED, BotApiMethods, command_key, probe_duration
from emulators.telegram.outage import Outage, OutageMode, bad_gateway
from emulators.telegram.payments import PaymentActions
from emulators.telegram.requests import (
    MAX_SMALL_BODY,
    ApiCall,
    Upload,
    check_required,
    coerce_params,
    decode_request,
    discard_uploads,
    recorded,
)
from emulators.telegram.state import (
    BLOCKED,
    MAX_DOWNLOAD_BYTES,
    MAX_UPLOAD_BYTES,
    AnsweredCallback,
    ApiError,
    BotApiSpec,
    ChatActionRecord,
    ChatEvent,
    ChatInfo,
    ChatMessage,
    ChatStore,
    EventKind,
    FloodMeter,
    MethodSpec,
    RecordedRequest,
    ScriptedFault,
    Violation,
    WebhookDelivery,
    WebhookInfo,
    bad_request,
    command_entities,
    load_spec,
)
from emulators.telegram.webhook import WebhookSender

# What a t.me deep link's ?start= may carry (Bot API, "Deep linking"); anything else is not passed on.
_START_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")

__all__ = [
    "AnsweredCallback",
    "ChatActionRecord",
    "ChatEvent",
    "ChatMessage",
    "Outage",
    "RecordedRequest",
    "TelegramEmulator",
    "Violation",
    "WebhookDelivery",
    "WebhookInfo",
]

log = logging.getLogger(__name__)

_API_PATH = re.compile(r"/bot([^/]+)/([^/]*)")
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_FAULT_DESCRIPTIONS = {
    400: "Bad Request: scripted failure",
    401: "Unauthorized",
    403: BLOCKED,
    404: "Not Found",
    409: "Conflict: scripted failure",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class _Callback:
    chat_id: int
    message_id: int
    data: str
    answered: bool = False


class TelegramEmulator(
    BotApiMethods, AlbumMethods, WebhookSender, GroupActions, InlineActions, PaymentActions
):
    """See the module docstring. Not thread-safe: use it from the event loop that started it.

    Scripted faults, each answered the way the real service answers it:

    - ``fail_next(method, error_code=..., retry_after=..., chat_id=..., times=...)``: the next matching
      calls get Telegram's JSON error envelope (429 with ``parameters.retry_after``, 403, 5xx...), after
      the call was checked, so an invalid call still gets its 400 first. Nothing is applied.
    - ``enforce_limits=True``: calls over the flood limits get the 429 the real server sends.
    - ``block_bot(user_id)``: the person blocked the bot; calls to that chat get 403.
    - ``outage(seconds, mode=..., methods=...)``: Telegram's front proxy (nginx) answers for an API
      behind it that is down, before the token, the method or the fields are looked at. Mode ``"502"``
      sends nginx's HTML "502 Bad Gateway" page, not the JSON envelope; PTB 22 cannot parse it and raises
      ``telegram.error.NetworkError("Bad Gateway (502). Parsing the server response ... failed")``
      (chained from ``TelegramError("Invalid server response")``, and PTB logs the unparsable body), so
      the bot sees a network failure, never ``BadRequest``. Mode ``"reset"`` reads the request and then
      resets the connection (TCP RST) without any answer: aiohttp clients get ``ClientOSError``
      ("Connection reset by peer"; ``ServerDisconnectedError`` when the reset races the read), PTB's
      default httpx request raises ``NetworkError("httpx.ReadError: ")``, and any aiohttp-based PTB
      request that maps ``aiohttp.ClientError`` raises ``NetworkError`` too (aiohttp itself retries a
      GET once when a reused connection resets, so a GET may be refused and counted twice; PTB only
      POSTs). Either way the call is recorded in ``requests`` with ``fault`` set ("outage:502" /
      "outage:reset"), status 502 or 0, and the fields that could be read; it is not applied (no
      message is created, nothing is edited), and ``outage_refused`` counts it. Calls already being
      processed when an outage starts (a long poll) finish normally, webhook deliveries to the bot go
      on, and file downloads (``/file/bot...``) are not affected.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",
        *,
        files_dir: Path | None = None,
        per_chat_interval: float = 1.0,
        global_per_second: int = 30,
        enforce_limits: bool = False,
        strict_webhook_url: bool = False,
        bot_username: str = "music_test_bot",
        reject_unknown_fields: bool = True,
        webhook_max_attempts: int = 10,
        webhook_timeout: float = 10.0,
        max_upload_bytes: int = MAX_UPLOAD_BYTES,
        max_download_bytes: int = MAX_DOWNLOAD_BYTES,
    ) -> None:
        self.token = token
        self.url = ""
        self.files_dir = files_dir
        if files_dir is not None:
            files_dir.mkdir(parents=True, exist_ok=True)
        self.enforce_limits = enforce_limits
        self.strict_webhook_url = strict_webhook_url
        self.bot_username = bot_username
        self.reject_unknown_fields = reject_unknown_fields
        self.webhook_max_attempts = webhook_max_attempts
        self.webhook_timeout = webhook_timeout
        self.max_upload_bytes = max_upload_bytes
        self.max_download_bytes = max_download_bytes
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 123456

        # What tests observe.
        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.answered_callbacks: list[AnsweredCallback] = []
        self.chat_actions: list[ChatActionRecord] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self.all_commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        # The bot's profile texts by language code ("" is everyone else's): setMyDescription and co.
        self.descriptions: dict[str, str] = {}
        self.short_descriptions: dict[str, str] = {}

        self._spec: BotApiSpec = load_spec()
        self._flood = FloodMeter(per_chat_interval, global_per_second)
        self.store = ChatStore(self.bot_id, bot_username)
        self._callbacks: dict[str, _Callback] = {}
        self._next_callback_id = 4_000_000_000_000_000_001
        self._faults: list[ScriptedFault] = []
        self._slow: list[list[Any]] = []  # [method, seconds, times left]
        self._slowed = 0
        self._outages: list[Outage] = []  # ended ones are kept: outage_refused counts over all of them
        self._subscribers: list[Callable[[ChatEvent], None]] = []

        self._pending: list[dict[str, Any]] = []
        self._next_update_id = 100_000_001
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._webhook_url = ""
        self._webhook_secret: str | None = None
        self._webhook_max_connections = 40
        self._webhook_ip: str | None = None
        self._last_error_date: int | None = None
        self._last_error_message: str | None = None
        self._delivered = 0

        # An Event replaced on every change works like Condition.notify_all but can be fired from
        # synchronous code (subscribers, block_bot) without taking a lock.
        self._change_event = asyncio.Event()
        self._delivery_wake = asyncio.Event()
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._delivery_task: asyncio.Task[None] | None = None

        self._payments_init()
        self._handlers = {**self._method_handlers(), **self._payment_methods()}

    # ----------------------------------------------------------------------------------------------
    # Lifecycle
    # ----------------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=MAX_SMALL_BODY)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # A short shutdown timeout: close() already wakes long polls, nothing else should linger.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1]
        self.url = f"http://{host}:{bound_port}"
        self._client = aiohttp.ClientSession()
        self._delivery_task = asyncio.create_task(self._deliver_webhooks(), name="telegram-emulator-webhook")
        return self.url

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._changed()
        self._delivery_wake.set()
        if self._delivery_task is not None:
            self._delivery_task.cancel()
            await asyncio.gather(self._delivery_task, return_exceptions=True)
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ----------------------------------------------------------------------------------------------
    # Acting as a person
    # ----------------------------------------------------------------------------------------------

    async def user_sends_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str = "Alice",
        language_code: str = "en",
        chat_id: int | None = None,
        reply_to: int | None = None,
        via_bot: bool = False,
    ) -> dict[str, Any]:
        """The person sends `text` in their private chat, or in the group `chat_id`; `reply_to`: the id of
        the message it replies to; `via_bot`: it is a result the person picked from the bot's inline mode."""
        chat, sender = self._chat_and_sender(user_id, first_name, language_code, chat_id)
        raw = self.store.user_message_raw(chat, sender)
        self._reply_to(raw, chat, reply_to)
        if via_bot:
            raw["via_bot"] = self.store.bot_user()
        raw["text"] = text
        entities = command_entities(text)
        if entities:
            raw["entities"] = entities
        message = self.store.add_message(chat, raw, from_bot=False, text=text, entities=entities)
        self._emit("user_message", chat.id, message, text)
        self._enqueue_update("message", raw)
        return raw

    async def user_opens_link(
        self, user_id: int, url: str, *, first_name: str = "Alice", language_code: str = "en"
    ) -> dict[str, Any]:
        """The person opens a deep link `https://t.me/<bot username>?start=<payload>`: Telegram opens
        their chat with the bot and sends `/start <payload>` for them. A link to another username, or a
        payload Telegram would not carry (over 64 characters, or any but A-Z a-z 0-9 _ -), is a bot
        bug here: ValueError."""
        parts = urlsplit(url)
        username = parts.path.strip("/")
        if (
            parts.scheme != "https"
            or parts.netloc != "t.me"
            or username.lower() != self.store.bot_username.lower()
        ):
            raise ValueError(f"{url!r} is not a link to @{self.store.bot_username}")
        payload = parse_qs(parts.query).get("start", [""])[0]
        if payload and not _START_PAYLOAD.fullmatch(payload):
            raise ValueError(f"Telegram does not carry the start payload {payload!r}")
        text = f"/start {payload}" if payload else "/start"
        return await self.user_sends_text(user_id, text, first_name=first_name, language_code=language_code)

    async def user_sends_audio(
        self,
        user_id: int,
        data: bytes,
        *,
        kind: Literal["audio", "voice", "document"] = "audio",
        mime_type: str = "audio/mpeg",
        file_name: str = "song.mp3",
        duration: int | None = None,
        title: str | None = None,
        performer: str | None = None,
        caption: str | None = None,
        language_code: str = "en",
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        chat, sender = self._chat_and_sender(user_id, None, language_code, chat_id)
        stored = await self._store_bytes(data, kind, file_name, mime_type)
        if duration is None and kind != "document":
            duration = await asyncio.to_thread(probe_duration, data)
        stored.meta = {"duration": duration or 0, "title": title, "performer": performer}
        media = self.store.media_api_dict(kind, stored)
        raw = self.store.user_message_raw(chat, sender)
        self._reply_to(raw, chat, reply_to)
        raw[kind] = media
        if caption:
            raw["caption"] = caption
        message = self.store.add_message(
            chat,
            raw,
            from_bot=False,
            text=caption,
            media_kind=kind,
            media=self.store.observed_media(media, stored),
        )
        self._emit("user_message", chat.id, message, caption)
        self._enqueue_update("message", raw)
        return raw

    async def user_presses_button(
        self,
        user_id: int,
        message_id: int,
        callback_data: str,
        *,
        require_button: bool = True,
        chat_id: int | None = None,
    ) -> str:
        """The person presses a button under a bot message in their private chat, or in group `chat_id`
        (anyone in a group can press any button there)."""
        where = user_id if chat_id is None else chat_id
        chat = self.store.chats.get(where)
        person = self.store.people.get(user_id)
        message = self.store.message(where, message_id) if chat else None
        if chat is None or message is None or person is None:
            raise ValueError(f"chat {where} has no message {message_id} for user {user_id} to press")
        if require_button and callback_data not in message.button_data():
            # A person can only press buttons the bot currently shows; a missing one is a bot bug.
            raise ValueError(
                f"message {message_id} in chat {user_id} has no button with callback_data "
                f"{callback_data!r}; it shows {message.button_data()!r}"
            )
        query_id = str(self._next_callback_id)
        self._next_callback_id += 1
        self._callbacks[query_id] = _Callback(chat.id, message_id, callback_data)
        self._emit("user_callback", chat.id, message, callback_data)
        self._enqueue_update(
            "callback_query",
            {
                "id": query_id,
                "from": person.user_dict(),
                "message": message.raw,
                "chat_instance": str(-chat.id * 7919),
                "data": callback_data,
            },
        )
        return query_id

    async def user_presses_inline_button(
        self, user_id: int, inline_message_id: str, callback_data: str
    ) -> str:
        """The person presses a button on a message sent in inline mode (in any chat): the query carries
        `inline_message_id` and no `message`, as on the real server."""
        person = self._ensure_person(user_id, None, None)
        query_id = str(self._next_callback_id)
        self._next_callback_id += 1
        self._callbacks[query_id] = _Callback(user_id, 0, callback_data)
        self._emit("user_callback", user_id, None, callback_data)
        self._enqueue_update(
            "callback_query",
            {
                "id": query_id,
                "from": person.user_dict(),
                "inline_message_id": inline_message_id,
                "chat_instance": str(hash(inline_message_id) % 10**18),
                "data": callback_data,
            },
        )
        return query_id

    def block_bot(self, user_id: int) -> None:
        chat = self._ensure_chat(user_id, None, None)
        if not chat.blocked:
            chat.blocked = True
            self._enqueue_update("my_chat_member", self.store.member_change(chat, "member", "kicked"))

    def unblock_bot(self, user_id: int) -> None:
        chat = self.store.chats.get(user_id)
        if chat is not None and chat.blocked:
            chat.blocked = False
            self._enqueue_update("my_chat_member", self.store.member_change(chat, "kicked", "member"))

    # ----------------------------------------------------------------------------------------------
    # Observing
    # ----------------------------------------------------------------------------------------------

    def messages(self, chat_id: int, *, include_deleted: bool = False) -> list[ChatMessage]:
        return [m for m in self.store.messages.get(chat_id, []) if include_deleted or not m.deleted]

    def bot_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[ChatMessage]:
        return [m for m in self.messages(chat_id, include_deleted=include_deleted) if m.from_bot]

    def audios(self, chat_id: int) -> list[ChatMessage]:
        return [m for m in self.bot_messages(chat_id) if m.audio is not None]

    def calls(self, method: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method.lower() == method.lower()]

    @property
    def webhook(self) -> WebhookInfo:
        return WebhookInfo(
            url=self._webhook_url,
            secret_token=self._webhook_secret,
            allowed_updates=self._allowed_updates,
            max_connections=self._webhook_max_connections,
            pending_update_count=len(self._pending),
            last_error_date=self._last_error_date,
            last_error_message=self._last_error_message,
            ip_address=self._webhook_ip,
            delivered=self._delivered,
        )

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return list(self._pending)

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The commands for the default scope and no language, the menu most people see."""
        return self.commands_for()

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, Any]]:
        return list(self.all_commands.get(command_key(scope, language_code), []))

    def subscribe(self, callback: Callable[[ChatEvent], None]) -> None:
        self._subscribers.append(callback)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:  # noqa: ASYNC109
        # `timeout` is part of the public API the tests use; asyncio.timeout() would add nothing here.
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(self._describe_timeout(predicate, timeout))
            await self._wait_change(remaining)

    # ----------------------------------------------------------------------------------------------
    # Scripted faults
    # ----------------------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        if method != "*" and self._spec.lookup(method) is None:
            raise ValueError(
                f"{method!r} is not a Bot API method; a typo here would make the fault never fire"
            )
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if description is None:
            if error_code == 429:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _FAULT_DESCRIPTIONS.get(error_code, f"Scripted failure {error_code}")
        self._faults.append(
            ScriptedFault(method.lower(), error_code, description, retry_after, chat_id, times)
        )

    def outage(self, seconds: float, *, mode: OutageMode = "502", methods: set[str] | None = None) -> Outage:
        """Start an outage of the front proxy now, for ``seconds`` (``math.inf``: until ended).

        Covers every method, or only ``methods`` (any case). The returned ``Outage`` ends early with
        ``end()`` or as a context manager (``with`` / ``async with tg.outage(math.inf): ...``); its
        ``refused`` counts the calls it answered. See the class docstring for what the bot sees.
        """
        if not seconds > 0:
            raise ValueError(f"an outage lasts a positive number of seconds, not {seconds!r}")
        if mode not in ("502", "reset"):
            raise ValueError(f"outage mode must be '502' or 'reset', not {mode!r}")
        names: frozenset[str] | None = None
        if methods is not None:
            unknown = sorted(m for m in methods if self._spec.lookup(m) is None)
            if unknown or not methods:
                raise ValueError(
                    f"not Bot API methods: {unknown!r}; a typo here would make the outage never fire"
                    if unknown
                    else "methods=set() would cover nothing; pass None for every method"
                )
            names = frozenset(m.lower() for m in methods)
        outage = Outage(mode, names, time.monotonic() + seconds)
        self._outages.append(outage)
        return outage

    def slow_next(self, method: str, seconds: float, *, times: int = 1) -> None:
        """The next `times` calls of `method` are read whole, then wait `seconds` before Telegram handles
        and answers them: an upload still in flight, for tests that stop the bot in the middle of one.
        ``slowed`` counts the calls that began to wait."""
        if self._spec.lookup(method) is None:
            raise ValueError(f"{method!r} is not a Bot API method; a typo here would make it never fire")
        self._slow.append([method.lower(), seconds, times])

    @property
    def slowed(self) -> int:
        return self._slowed

    def end_outages(self) -> None:
        for outage in self._outages:
            outage.end()

    @property
    def outage_refused(self) -> int:
        """How many calls outages answered instead of the API, over every outage so far."""
        return sum(outage.refused for outage in self._outages)

    # ----------------------------------------------------------------------------------------------
    # HTTP layer
    # ----------------------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        arrival = time.monotonic()
        path = request.path
        if path.startswith("/file/bot"):
            return await self._serve_file(path[len("/file/bot") :])
        match = _API_PATH.fullmatch(path)
        if match is None or request.method not in ("GET", "POST"):
            return _error_response(ApiError(404, "Not Found"))
        token, name = match.groups()
        spec = self._spec.lookup(name)
        record = RecordedRequest(
            spec.name if spec else name,
            {},
            arrival,
            http_method=request.method,
            content_type=request.content_type,
        )
        self.requests.append(record)  # rejected calls too: "the bot called a typo" should be visible
        outage = next((o for o in self._outages if o.covers(name)), None)
        if outage is not None:
            return await self._answer_for_outage(request, record, spec, outage)
        if token != self.token or spec is None:
            # The token is checked first, as on the real server.
            rejection = ApiError(401, "Unauthorized") if token != self.token else ApiError(404, "Not Found")
            record.status, record.description = rejection.error_code, rejection.description
            self._changed()
            return _error_response(rejection)
        call = ApiCall(spec, record, arrival)
        try:
            try:
                result = await self._process(request, call)
            except ApiError:
                raise
            except Exception as exc:
                # Loud on purpose: an emulator bug must not look like a bot bug or a success.
                log.exception("Telegram emulator failed on %s", spec.name)
                raise ApiError(
                    500, f"Internal Server Error: emulator failure in {spec.name}: {exc!r}"
                ) from exc
        except ApiError as err:
            record.status = err.error_code
            record.description = err.description
            response = _error_response(err)
        else:
            record.status = 200
            body: dict[str, Any] = {"ok": True, "result": result}
            if call.ok_description:
                body["description"] = call.ok_description
            response = web.json_response(body)
        finally:
            await discard_uploads(call.uploads.values())
            self._changed()
        return response

    async def _process(self, request: web.Request, call: ApiCall) -> Any:
        raw = await decode_request(
            request, call, files_dir=self.files_dir, max_upload_bytes=self.max_upload_bytes
        )
        call.record.params = {k: v.descriptor() if isinstance(v, Upload) else v for k, v in raw.items()}
        call.params = coerce_params(
            call.spec,
            raw,
            call.uploads,
            reject_unknown_fields=self.reject_unknown_fields,
            api_version=self._spec.version,
        )
        call.record.params = {k: recorded(v) for k, v in call.params.items()}
        chat_id = call.params.get("chat_id")
        call.record.chat_id = chat_id
        handler = self._handlers.get(call.method)
        if handler is None:
            raise bad_request(
                f"the Telegram emulator does not implement {call.method}; add it to "
                "emulators/telegram/methods.py before the bot relies on it"
            )
        check_required(call)
        await self._maybe_slow(call.method)
        self._apply_fault(call.method, chat_id)
        if chat_id is not None:
            call.chat = self._resolve_chat(chat_id)
        result = await handler(call)
        if call.method in FLOOD_COUNTED and call.chat is not None and not call.admitted:
            raise RuntimeError(f"{call.method} handler forgot to pass the flood-limit gate")
        return result

    async def _maybe_slow(self, method: str) -> None:
        for slow in self._slow:
            if slow[0] == method.lower():
                slow[2] -= 1
                if slow[2] <= 0:
                    self._slow.remove(slow)
                self._slowed += 1
                self._changed()
                await asyncio.sleep(slow[1])
                return

    async def _answer_for_outage(
        self, request: web.Request, record: RecordedRequest, spec: MethodSpec | None, outage: Outage
    ) -> web.StreamResponse:
        outage.refused += 1
        record.fault = f"outage:{outage.mode}"
        if spec is not None:
            await self._record_fields(request, record, spec)
        if outage.mode == "502":
            record.status, record.description = 502, "Bad Gateway (scripted outage of the front proxy)"
            response = bad_gateway()
        else:
            record.status, record.description = NO_ANSWER, "connection reset (scripted outage)"
            response = reset_connection(request)
        self._changed()
        return response

    async def _record_fields(self, request: web.Request, record: RecordedRequest, spec: MethodSpec) -> None:
        """What a refused call carried, unchecked, so a test can tell which send the outage swallowed."""
        call = ApiCall(spec, record, record.time)
        try:
            raw = await decode_request(request, call, files_dir=None, max_upload_bytes=self.max_upload_bytes)
        except ApiError:
            return  # the proxy refuses a malformed call all the same
        finally:
            await discard_uploads(call.uploads.values())
        record.params = {**raw, **{name: upload.descriptor() for name, upload in call.uploads.items()}}
        chat_id = raw.get("chat_id")
        if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit():
            chat_id = int(chat_id)
        record.chat_id = chat_id if isinstance(chat_id, int | str) else None

    def _apply_fault(self, method: str, chat_id: int | str | None) -> None:
        for fault in self._faults:
            if fault.matches(method, chat_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                raise ApiError(fault.error_code, fault.description, retry_after=fault.retry_after)

    def _resolve_chat(self, chat_id: int | str) -> ChatInfo:
        chat = self.store.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:  # a chat exists once the person wrote to the bot; @usernames are never private
            raise bad_request("chat not found")
        if chat.blocked:
            raise ApiError(403, BLOCKED if chat.type == "private" else removed_from(chat))
        return chat

    async def _serve_file(self, rest: str) -> web.StreamResponse:
        token, _, file_path = rest.partition("/")
        if token != self.token:
            return _error_response(ApiError(401, "Unauthorized"))
        stored = self.store.files_by_path.get(file_path)
        if stored is None or not stored.file_path_issued:
            return _error_response(ApiError(404, "Not Found"))
        headers = {aiohttp.hdrs.CONTENT_TYPE: "application/octet-stream"}
        if stored.path is not None:
            return web.FileResponse(stored.path, headers=headers)
        if stored.data is not None:
            return web.Response(body=stored.data, headers=headers)
        return _error_response(
            ApiError(
                404,
                "Not Found: the emulator kept no bytes for this file (give it a files_dir to keep uploads)",
            )
        )

    # ----------------------------------------------------------------------------------------------
    # Chat model and update queue
    # ----------------------------------------------------------------------------------------------

    def _ensure_person(self, user_id: int, first_name: str | None, language_code: str | None) -> ChatInfo:
        """The person, known from now on, without opening a private chat with the bot."""
        if user_id <= 0:
            raise ValueError("user ids are positive (negative ids are groups and channels)")
        person = self.store.people.get(user_id)
        if person is None:
            person = self.store.people[user_id] = ChatInfo(user_id, first_name or "Alice", language_code)
            return person
        if first_name:
            person.first_name = first_name
        if language_code:
            person.language_code = language_code
        return person

    def _ensure_chat(self, user_id: int, first_name: str | None, language_code: str | None) -> ChatInfo:
        chat = self._ensure_person(user_id, first_name, language_code)
        if user_id not in self.store.chats:
            self.store.chats[user_id] = chat
            self.store.messages[user_id] = []
            return chat
        if chat.blocked:
            # Writing to a bot one blocked means unblocking it first, which the bot hears about.
            self.unblock_bot(user_id)
        return chat

    def _chat_and_sender(
        self, user_id: int, first_name: str | None, language_code: str | None, chat_id: int | None
    ) -> tuple[ChatInfo, ChatInfo | None]:
        """Where a person's message goes and, in a group, who sent it."""
        if chat_id is None or chat_id == user_id:
            return self._ensure_chat(user_id, first_name, language_code), None
        group = self.store.chats.get(chat_id)
        if group is None or group.type not in ("group", "supergroup"):
            raise ValueError(f"no group {chat_id}: create it with create_group() first")
        return group, self._ensure_person(user_id, first_name, language_code)

    def _reply_to(self, raw: dict[str, Any], chat: ChatInfo, message_id: int | None) -> None:
        if message_id is None:
            return
        target = self.store.message(chat.id, message_id)
        if target is None:
            raise ValueError(f"chat {chat.id} has no message {message_id} to reply to")
        # The replied-to message is included without its own reply_to_message, as the server does.
        raw["reply_to_message"] = {k: v for k, v in target.raw.items() if k != "reply_to_message"}

    def _enqueue_update(self, kind: str, payload: dict[str, Any]) -> None:
        allowed = self._allowed_updates
        if (kind not in allowed) if allowed else (kind in _DEFAULT_EXCLUDED_UPDATES):
            return  # the real server never stores updates the bot did not subscribe to
        self._pending.append({"update_id": self._next_update_id, kind: payload})
        self._next_update_id += 1
        self._delivery_wake.set()
        self._changed()

    # ----------------------------------------------------------------------------------------------
    # Change notification
    # ----------------------------------------------------------------------------------------------

    def _emit(self, kind: EventKind, chat_id: int, message: ChatMessage | None, text: str | None) -> None:
        event = ChatEvent(kind, chat_id, message, text, time.monotonic())
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                # A broken printer in the demo must not turn into an API error for the bot.
                log.exception("Telegram emulator subscriber failed on %s", kind)
        self._changed()

    def _changed(self) -> None:
        self._change_event.set()
        self._change_event = asyncio.Event()

    async def _wait_change(self, timeout: float) -> None:  # noqa: ASYNC109
        event = self._change_event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def _describe_timeout(self, predicate: Callable[[], bool], timeout: float) -> str:
        name = getattr(predicate, "__qualname__", repr(predicate))
        lines = [f"wait_for({name}) still false after {timeout:g}s."]
        recent = self.requests[-8:]
        if recent:
            lines.append("Last API calls:")
            lines += [
                f"  {r.method} chat={r.chat_id} -> {r.status}"
                + (f" {r.description}" if r.description else "")
                for r in recent
            ]
        else:
            lines.append("The bot made no API calls at all (is it pointed at this emulator's url?).")
        for chat_id, messages in self.store.messages.items():
            lines.append(f"Chat {chat_id}:")
            for message in messages[-6:]:
                who = "bot" if message.from_bot else "user"
                label = message.kind if message.kind != "text" else ""
                lines.append(
                    f"  #{message.message_id} {who} {label} {message.text!r}"
                    + (f" (edits: {len(message.edits) - 1})" if len(message.edits) > 1 else "")
                    + (" [deleted]" if message.deleted else "")
                )
        if self._pending:
            lines.append(f"{len(self._pending)} update(s) pending, not yet taken by the bot.")
        if self.webhook.last_error_message:
            lines.append(f"Last webhook error: {self.webhook.last_error_message}")
        return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------------


def _error_response(error: ApiError) -> web.Response:
    return web.json_response(error.body(), status=error.error_code)
