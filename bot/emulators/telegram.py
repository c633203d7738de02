"""A Telegram Bot API emulator: a real aiohttp server on loopback, as strict as the real server.

The bot under test talks to it through its production code paths, only with another base URL::

    async with TelegramEmulator() as tg:
        bot = telegram.Bot(tg.token, base_url=f"{tg.url}/bot", base_file_url=f"{tg.url}/file/bot")
        await tg.user_sends_text(42, "/start")
        await tg.wait_for(lambda: tg.bot_messages(42))

It validates every call against the Bot API spec shipped in ``bot/emulators/data`` (unknown methods,
unknown or missing fields, types), enforces the documented limits (4096/1024 characters, 64-byte
callback data, 50 MB uploads, 20 MB downloads, JPEG thumbnails), answers edits that change nothing with
"message is not modified", counts flood-limit violations, and can script faults (429 with retry_after,
403 from a person who blocked the bot, 5xx). Methods the emulator does not implement fail loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import mimetypes
import os
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import BodyPartReader, web

from bot.emulators.telegram_state import (
    BLOCKED,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_DOWNLOAD_BYTES,
    MAX_THUMBNAIL_BYTES,
    MAX_THUMBNAIL_SIDE,
    MAX_UPLOAD_BYTES,
    NOT_MODIFIED,
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
    MediaKind,
    MethodSpec,
    RecordedRequest,
    ScriptedFault,
    StoredFile,
    Violation,
    WebhookDelivery,
    WebhookInfo,
    bad_request,
    check_caption,
    check_markup,
    check_text,
    coerce_value,
    command_entities,
    format_text,
    jpeg_size,
    load_spec,
    mime_type_of,
    missing_field_error,
)

__all__ = [
    "AnsweredCallback",
    "ChatActionRecord",
    "ChatEvent",
    "ChatMessage",
    "RecordedRequest",
    "TelegramEmulator",
    "Violation",
    "WebhookDelivery",
    "WebhookInfo",
]

log = logging.getLogger(__name__)

_API_PATH = re.compile(r"/bot([^/]+)/([^/]*)")
_CHUNK = 256 * 1024
_KEEP_IN_MEMORY = 256 * 1024  # enough for any valid thumbnail, so its JPEG header can be inspected
_MAX_SMALL_BODY = 2 * 1024 * 1024  # urlencoded and JSON bodies; uploads are streamed instead
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_WEBHOOK_PORTS = (80, 88, 443, 8443)
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# The calls that put something into a chat count against the flood limits; typing indicators, callback
# answers and reads do not.
_FLOOD_COUNTED = frozenset(
    {
        "sendMessage",
        "sendAudio",
        "sendDocument",
        "sendVoice",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
    }
)
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
class Upload:
    """One multipart file part, spooled to disk (or only hashed) while it was read."""

    part_name: str
    filename: str | None
    content_type: str | None
    size: int
    sha256: str
    head: bytes
    data: bytes | None  # the whole content when it is small
    temp_path: Path | None  # None once adopted as a stored file, or when no files_dir was given

    def descriptor(self) -> dict[str, Any]:
        return {
            "upload": self.part_name,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass
class _Call:
    spec: MethodSpec
    record: RecordedRequest
    arrival: float
    params: dict[str, Any] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    chat: ChatInfo | None = None
    admitted: bool = False
    ok_description: str | None = None

    @property
    def method(self) -> str:
        return self.spec.name


@dataclass
class _Callback:
    chat_id: int
    message_id: int
    data: str
    answered: bool = False


class TelegramEmulator:
    """See the module docstring. Not thread-safe: use it from the event loop that started it."""

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

        self._spec: BotApiSpec = load_spec()
        self._flood = FloodMeter(per_chat_interval, global_per_second)
        self.store = ChatStore(self.bot_id, bot_username)
        self._callbacks: dict[str, _Callback] = {}
        self._next_callback_id = 4_000_000_000_000_000_001
        self._faults: list[ScriptedFault] = []
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

        self._handlers: dict[str, Callable[[_Call], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "getChat": self._get_chat,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action,
            "answerCallbackQuery": self._answer_callback_query,
            "sendAudio": self._send_audio,
            "sendDocument": self._send_document,
            "sendVoice": self._send_voice,
            "getFile": self._get_file,
        }

    # ----------------------------------------------------------------------------------------------
    # Lifecycle
    # ----------------------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        app = web.Application(client_max_size=_MAX_SMALL_BODY)
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
        self, user_id: int, text: str, *, first_name: str = "Alice", language_code: str = "en"
    ) -> dict[str, Any]:
        chat = self._ensure_chat(user_id, first_name, language_code)
        raw = self.store.user_message_raw(chat)
        raw["text"] = text
        entities = command_entities(text)
        if entities:
            raw["entities"] = entities
        message = self.store.add_message(chat, raw, from_bot=False, text=text, entities=entities)
        self._emit("user_message", chat.id, message, text)
        self._enqueue_update("message", raw)
        return raw

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
    ) -> dict[str, Any]:
        chat = self._ensure_chat(user_id, None, language_code)
        stored = await self._store_bytes(data, kind, file_name, mime_type)
        if duration is None and kind != "document":
            duration = await asyncio.to_thread(_probe_duration, data)
        stored.meta = {"duration": duration or 0, "title": title, "performer": performer}
        media = self.store.media_api_dict(kind, stored)
        raw = self.store.user_message_raw(chat)
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
        self, user_id: int, message_id: int, callback_data: str, *, require_button: bool = True
    ) -> str:
        chat = self.store.chats.get(user_id)
        message = self.store.message(user_id, message_id) if chat else None
        if chat is None or message is None:
            raise ValueError(f"chat {user_id} has no message {message_id} to press a button on")
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
                "from": chat.user_dict(),
                "message": message.raw,
                "chat_instance": str(-chat.id * 7919),
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
        return list(self.all_commands.get(_command_key(scope, language_code), []))

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
        if token != self.token or spec is None:
            # The token is checked first, as on the real server.
            rejection = ApiError(401, "Unauthorized") if token != self.token else ApiError(404, "Not Found")
            record.status, record.description = rejection.error_code, rejection.description
            self._changed()
            return _error_response(rejection)
        call = _Call(spec, record, arrival)
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
            await _discard_uploads(call.uploads.values())
            self._changed()
        return response

    async def _process(self, request: web.Request, call: _Call) -> Any:
        raw = await self._decode(request, call)
        call.record.params = {k: v.descriptor() if isinstance(v, Upload) else v for k, v in raw.items()}
        call.params = self._coerce(call.spec, raw, call.uploads)
        call.record.params = {
            k: v.descriptor() if isinstance(v, Upload) else v for k, v in call.params.items()
        }
        chat_id = call.params.get("chat_id")
        call.record.chat_id = chat_id
        handler = self._handlers.get(call.method)
        if handler is None:
            raise bad_request(
                f"the Telegram emulator does not implement {call.method}; add it to "
                "bot/emulators/telegram.py before the bot relies on it"
            )
        self._check_required(call)
        self._apply_fault(call.method, chat_id)
        if chat_id is not None:
            call.chat = self._resolve_chat(chat_id)
        result = await handler(call)
        if call.method in _FLOOD_COUNTED and call.chat is not None and not call.admitted:
            raise RuntimeError(f"{call.method} handler forgot to pass the flood-limit gate")
        return result

    async def _decode(self, request: web.Request, call: _Call) -> dict[str, Any]:
        raw: dict[str, Any] = dict(request.query)
        if request.method != "POST" or not request.body_exists:
            return raw
        content_type = request.content_type
        if content_type == "multipart/form-data":
            raw.update(await self._read_multipart(request, call))
            return raw
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            raise ApiError(413, "Request Entity Too Large") from None
        text = body.decode(request.charset or "utf-8", errors="replace")
        if content_type == "application/json":
            try:
                parsed = json.loads(text) if text.strip() else {}
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if not isinstance(parsed, dict):
                raise bad_request("JSON body must be an object")
            raw.update(parsed)
        elif content_type in ("application/x-www-form-urlencoded", "application/octet-stream", ""):
            raw.update(parse_qsl(text, keep_blank_values=True))
        else:
            raise bad_request(f"unsupported Content-Type {content_type!r}")
        return raw

    async def _read_multipart(self, request: web.Request, call: _Call) -> dict[str, str]:
        fields: dict[str, str] = {}
        try:
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise bad_request("nested multipart bodies are not supported")
                name = part.name or ""
                if part.filename is None:
                    fields[name] = await _read_text_part(part)
                else:
                    call.uploads[name] = await self._spool_part(part, name)
        except ApiError as err:
            if err.error_code == 413:
                # Read the rest so the client sees the 413 instead of a connection reset mid-upload.
                while await request.content.read(_CHUNK):
                    pass
            raise
        except ValueError as err:  # malformed multipart framing
            raise bad_request(f"can't parse multipart body: {err}") from None
        return fields

    async def _spool_part(self, part: BodyPartReader, name: str) -> Upload:
        digest = hashlib.sha256()
        size = 0
        kept: bytearray | None = bytearray()
        head = b""
        temp_path = None
        handle = None
        if self.files_dir is not None:
            temp_path = self.files_dir / f".upload-{secrets.token_hex(8)}"
            handle = await asyncio.to_thread(open, temp_path, "wb")
        try:
            while chunk := await part.read_chunk(_CHUNK):
                size += len(chunk)
                if size > self.max_upload_bytes:
                    raise ApiError(413, "Request Entity Too Large")
                digest.update(chunk)
                if kept is not None:
                    kept += chunk
                    if len(kept) > _KEEP_IN_MEMORY:
                        head, kept = bytes(kept[:4096]), None
                if handle is not None:
                    # Off the loop: the bot under test often shares it, and a 20 MB write would stall it.
                    await asyncio.to_thread(handle.write, chunk)
        except BaseException:
            if handle is not None:
                await asyncio.to_thread(handle.close)
                handle = None
                await _unlink(temp_path)
            raise
        finally:
            if handle is not None:
                await asyncio.to_thread(handle.close)
        data = bytes(kept) if kept is not None else None
        return Upload(
            part_name=name,
            filename=part.filename,
            content_type=part.headers.get(aiohttp.hdrs.CONTENT_TYPE),
            size=size,
            sha256=digest.hexdigest(),
            head=data[:4096] if data is not None else head,
            data=data,
            temp_path=temp_path,
        )

    def _coerce(self, spec: MethodSpec, raw: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
        params: dict[str, Any] = {}
        referenced: set[str] = set()
        for name, value in raw.items():
            field_spec = spec.fields.get(name)
            if field_spec is None:
                if self.reject_unknown_fields:
                    raise bad_request(
                        f'unexpected parameter "{name}" for {spec.name}: it is not in Bot API '
                        f"{self._spec.version} (the real server would silently ignore it)"
                    )
                continue
            # The real server reads an empty value as an absent one, except where "" means "remove".
            if value is None or (value == "" and (spec.name, name) != ("setWebhook", "url")):
                continue
            if field_spec.accepts_file and isinstance(value, str) and value.startswith("attach://"):
                part_name = value[len("attach://") :]
                if part_name not in uploads:
                    raise bad_request(f"{name}: file {value} was not found in the request")
                referenced.add(part_name)
                params[name] = uploads[part_name]
                continue
            params[name] = coerce_value(field_spec, value)
        for part_name, upload in uploads.items():
            if part_name in referenced or part_name in params:
                continue
            field_spec = spec.fields.get(part_name)
            if field_spec is None:
                if self.reject_unknown_fields:
                    raise bad_request(
                        f'unexpected file part "{part_name}" for {spec.name}: nothing refers to it'
                    )
                continue
            if not field_spec.accepts_file:
                raise bad_request(f'parameter "{part_name}" does not accept a file upload')
            params[part_name] = upload
        return params

    def _check_required(self, call: _Call) -> None:
        for field_spec in call.spec.fields.values():
            if field_spec.required and field_spec.name not in call.params:
                if (call.method, field_spec.name) == ("setWebhook", "url"):
                    continue  # an absent url removes the webhook, like ""
                raise missing_field_error(call.method, field_spec.name)

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
            raise ApiError(403, BLOCKED)
        return chat

    def _admit(self, call: _Call) -> None:
        """The flood-limit gate, passed by every chat-changing call after its own validation."""
        assert call.chat is not None
        found = self._flood.check(call.chat.id, call.arrival, call.method, refused=self.enforce_limits)
        self.violations.extend(found)
        if found and self.enforce_limits:
            retry_after = max(v.retry_after for v in found)
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        self._flood.record(call.chat.id, call.arrival)
        call.admitted = True

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
    # Methods: bot, chat, commands
    # ----------------------------------------------------------------------------------------------

    async def _get_me(self, call: _Call) -> Any:
        return {
            **self.store.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_chat(self, call: _Call) -> Any:
        assert call.chat is not None
        return {
            **call.chat.api_dict(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _set_my_commands(self, call: _Call) -> Any:
        commands = call.params["commands"]
        if len(commands) > 100:
            raise bad_request("too many commands")
        cleaned = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not _COMMAND_RE.fullmatch(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": name, "description": description})
        key = self._command_key(call)
        if cleaned:
            self.all_commands[key] = cleaned
        else:
            self.all_commands.pop(key, None)  # an empty list deletes, as deleteMyCommands does
        return True

    async def _get_my_commands(self, call: _Call) -> Any:
        return list(self.all_commands.get(self._command_key(call), []))

    async def _delete_my_commands(self, call: _Call) -> Any:
        self.all_commands.pop(self._command_key(call), None)
        return True

    def _command_key(self, call: _Call) -> tuple[str, str]:
        scope = call.params.get("scope")
        allowed = {
            "default",
            "all_private_chats",
            "all_group_chats",
            "all_chat_administrators",
            "chat",
            "chat_administrators",
            "chat_member",
        }
        if scope is not None and scope.get("type") not in allowed:
            raise bad_request("unsupported bot command scope type")
        language = call.params.get("language_code", "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code")
        return _command_key(scope, language)

    # ----------------------------------------------------------------------------------------------
    # Methods: updates and webhooks
    # ----------------------------------------------------------------------------------------------

    async def _get_updates(self, call: _Call) -> Any:
        if self._webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                "the webhook first",
            )
        params = call.params
        if "allowed_updates" in params:
            self._allowed_updates = params["allowed_updates"]
        offset = params.get("offset")
        if offset is not None and offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset is not None and offset < 0:
            self._pending = self._pending[offset:]
        limit = params.get("limit", 100)
        if not 1 <= limit <= 100:
            limit = 100
        timeout = max(0, params.get("timeout", 0))
        # A newer getUpdates ends an older long poll, as on the real server (two bot instances).
        self._poll_generation += 1
        generation = self._poll_generation
        self._changed()
        deadline = time.monotonic() + timeout
        while True:
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot "
                    "instance is running",
                )
            if self._pending:
                return [dict(update) for update in self._pending[:limit]]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            await self._wait_change(remaining)

    async def _set_webhook(self, call: _Call) -> Any:
        params = call.params
        url = params.get("url", "")
        if not url:
            return await self._delete_webhook(call)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("bad webhook: invalid webhook URL specified")
        if self.strict_webhook_url:
            if parts.scheme != "https":
                raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
            if (parts.port or 443) not in _WEBHOOK_PORTS:
                raise bad_request("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.get("secret_token")
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = params.get("max_connections", 40)
        if not 1 <= max_connections <= 100:
            raise bad_request("max_connections must be between 1 and 100")
        if "allowed_updates" in params:
            self._allowed_updates = params["allowed_updates"]
        if params.get("drop_pending_updates"):
            self._pending.clear()
        changed_url = url != self._webhook_url
        self._webhook_url = url
        self._webhook_secret = secret
        self._webhook_max_connections = max_connections
        self._webhook_ip = params.get("ip_address")
        if changed_url:
            self._last_error_date = self._last_error_message = None
        self._delivery_wake.set()
        call.ok_description = "Webhook was set" if changed_url else "Webhook is already set"
        return True

    async def _delete_webhook(self, call: _Call) -> Any:
        had_webhook = bool(self._webhook_url)
        self._webhook_url = ""
        self._webhook_secret = None
        self._last_error_date = self._last_error_message = None
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        self._delivery_wake.set()
        call.ok_description = "Webhook was deleted" if had_webhook else "Webhook is already deleted"
        return True

    async def _get_webhook_info(self, call: _Call) -> Any:
        info: dict[str, Any] = {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self._webhook_url:
            info["max_connections"] = self._webhook_max_connections
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_ip:
                info["ip_address"] = self._webhook_ip
            if self._last_error_message:
                info["last_error_date"] = self._last_error_date
                info["last_error_message"] = self._last_error_message
        return info

    def _enqueue_update(self, kind: str, payload: dict[str, Any]) -> None:
        allowed = self._allowed_updates
        if (kind not in allowed) if allowed else (kind in _DEFAULT_EXCLUDED_UPDATES):
            return  # the real server never stores updates the bot did not subscribe to
        self._pending.append({"update_id": self._next_update_id, kind: payload})
        self._next_update_id += 1
        self._delivery_wake.set()
        self._changed()

    async def _deliver_webhooks(self) -> None:
        """Posts pending updates one at a time, in order, retrying failures with a doubling backoff."""
        attempts = 0
        while not self._closing:
            self._delivery_wake.clear()
            url = self._webhook_url
            if not url or not self._pending:
                await self._delivery_wake.wait()
                continue
            update = self._pending[0]
            status, error = await self._post_update(url, update)
            self.webhook_deliveries.append(
                WebhookDelivery(update["update_id"], url, status, error, time.monotonic())
            )
            still_first = bool(self._pending) and self._pending[0] is update
            if error is None:
                attempts = 0
                self._delivered += 1
                if still_first:
                    self._pending.pop(0)
                self._changed()
                continue
            attempts += 1
            self._last_error_date = int(time.time())
            self._last_error_message = error
            if attempts >= self.webhook_max_attempts:
                log.warning(
                    "webhook gave up on update %s after %d attempts: %s", update["update_id"], attempts, error
                )
                if still_first:
                    self._pending.pop(0)
                attempts = 0
            self._changed()
            if attempts:
                await asyncio.sleep(min(0.2 * 2 ** (attempts - 1), 5.0))

    async def _post_update(self, url: str, update: dict[str, Any]) -> tuple[int | None, str | None]:
        assert self._client is not None
        headers = {aiohttp.hdrs.CONTENT_TYPE: "application/json"}
        if self._webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self._webhook_secret
        try:
            async with self._client.post(
                url,
                data=json.dumps(update).encode(),
                headers=headers,
                allow_redirects=False,  # Telegram does not follow webhook redirects
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return response.status, None
                return (
                    response.status,
                    f"Wrong response from the webhook: {response.status} {response.reason}",
                )
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return None, f"Connection failed: {type(exc).__name__}: {exc}"

    # ----------------------------------------------------------------------------------------------
    # Methods: messages
    # ----------------------------------------------------------------------------------------------

    async def _send_message(self, call: _Call) -> Any:
        params = call.params
        assert call.chat is not None
        text, entities = format_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
        check_text(text)
        markup = check_markup(params.get("reply_markup"), inline_only=False)
        reply_to = self._reply_target(call)
        self._admit(call)
        message = self.store.add_bot_message(
            call.chat, text=text, entities=entities, markup=markup, reply_to=reply_to
        )
        self._emit("bot_message", call.chat.id, message, text)
        return message.raw

    async def _edit_message_text(self, call: _Call) -> Any:
        params = call.params
        message = self._edit_target(call)
        if "rich_message" in params:
            raise bad_request("the Telegram emulator does not implement rich_message")
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        text, entities = format_text(params.get("text"), params.get("parse_mode"), params.get("entities"))
        check_text(text)
        markup = check_markup(params.get("reply_markup"), inline_only=True)
        if text == message.text and entities == message.entities and markup == message.inline_markup:
            raise ApiError(400, NOT_MODIFIED)
        self._admit(call)
        return self._apply_edit(message, text, entities, markup)

    async def _edit_message_caption(self, call: _Call) -> Any:
        params = call.params
        message = self._edit_target(call)
        if message.kind == "text":
            raise bad_request("there is no caption in the message to edit")
        caption, entities = format_text(
            params.get("caption"), params.get("parse_mode"), params.get("caption_entities")
        )
        check_caption(caption)
        markup = check_markup(params.get("reply_markup"), inline_only=True)
        if (
            (caption or None) == message.text
            and entities == message.entities
            and markup == message.inline_markup
        ):
            raise ApiError(400, NOT_MODIFIED)
        self._admit(call)
        return self._apply_edit(message, caption, entities, markup)

    async def _edit_message_reply_markup(self, call: _Call) -> Any:
        message = self._edit_target(call)
        markup = check_markup(call.params.get("reply_markup"), inline_only=True)
        if markup == message.inline_markup:
            raise ApiError(400, NOT_MODIFIED)
        self._admit(call)
        return self._apply_edit(message, message.text or "", message.entities, markup)

    async def _delete_message(self, call: _Call) -> Any:
        assert call.chat is not None
        message = self.store.message(call.chat.id, call.params["message_id"])
        if message is None:
            raise bad_request("message to delete not found")
        self._admit(call)
        message.deleted = True
        self._emit("bot_delete", call.chat.id, message, None)
        return True

    async def _send_chat_action(self, call: _Call) -> Any:
        assert call.chat is not None
        action = call.params["action"]
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.chat_actions.append(ChatActionRecord(call.chat.id, action, call.arrival))
        return True

    async def _answer_callback_query(self, call: _Call) -> Any:
        params = call.params
        query_id = params["callback_query_id"]
        pending = self._callbacks.get(query_id)
        if pending is None or pending.answered:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        call.record.chat_id = pending.chat_id
        text = params.get("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        pending.answered = True
        self.answered_callbacks.append(
            AnsweredCallback(
                callback_query_id=query_id,
                user_id=pending.chat_id,
                message_id=pending.message_id,
                data=pending.data,
                text=text,
                show_alert=bool(params.get("show_alert", False)),
                url=params.get("url"),
                cache_time=params.get("cache_time"),
                time=call.arrival,
            )
        )
        self._emit(
            "callback_answered",
            pending.chat_id,
            self.store.index.get((pending.chat_id, pending.message_id)),
            text,
        )
        return True

    def _edit_target(self, call: _Call) -> ChatMessage:
        params = call.params
        if "inline_message_id" in params:
            raise bad_request("the Telegram emulator does not implement inline messages (inline_message_id)")
        if call.chat is None:
            raise bad_request("chat_id is empty")
        if "message_id" not in params:
            raise bad_request("message identifier is not specified")
        message = self.store.message(call.chat.id, params["message_id"])
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return message

    def _reply_target(self, call: _Call) -> ChatMessage | None:
        reply = call.params.get("reply_parameters")
        if reply is None:
            return None
        assert call.chat is not None
        target = self.store.message(call.chat.id, reply.get("message_id", 0))
        if target is None:
            if reply.get("allow_sending_without_reply"):
                return None
            raise bad_request("message to be replied not found")
        return target

    def _apply_edit(
        self, message: ChatMessage, text: str, entities: list[dict[str, Any]], markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        raw = self.store.apply_edit(message, text, entities, markup)
        self._emit("bot_edit", message.chat_id, message, text)
        return raw

    # ----------------------------------------------------------------------------------------------
    # Methods: files
    # ----------------------------------------------------------------------------------------------

    async def _send_audio(self, call: _Call) -> Any:
        return await self._send_media(call, "audio")

    async def _send_document(self, call: _Call) -> Any:
        return await self._send_media(call, "document")

    async def _send_voice(self, call: _Call) -> Any:
        return await self._send_media(call, "voice")

    async def _send_media(self, call: _Call, kind: MediaKind) -> Any:
        params = call.params
        assert call.chat is not None
        caption, entities = format_text(
            params.get("caption"), params.get("parse_mode"), params.get("caption_entities")
        )
        check_caption(caption)
        markup = check_markup(params.get("reply_markup"), inline_only=False)
        reply_to = self._reply_target(call)
        source = params[kind]
        existing: StoredFile | None = None
        if isinstance(source, Upload):
            if source.size == 0:
                raise bad_request("file must be non-empty")
        elif source.startswith(("http://", "https://")):
            pass  # Telegram would fetch it (20 MB limit); offline the emulator only records the URL
        else:
            existing = self.store.files.get(source)
            if existing is None:
                raise bad_request("wrong file identifier/HTTP URL specified")
            if existing.kind != kind and not (kind == "document" and existing.kind != "thumbnail"):
                raise bad_request(f"can't use file of type {existing.kind.title()} as {kind.title()}")
        thumbnail = params.get("thumbnail")
        # Thumbnails can only be uploaded, never reused; a string is ignored as the real server does.
        thumb_upload = thumbnail if isinstance(thumbnail, Upload) and kind != "voice" else None
        if thumb_upload is not None:
            _check_thumbnail(thumb_upload)
        self._admit(call)

        if isinstance(source, Upload):
            stored = await self._adopt(source, kind)
        elif existing is not None:
            stored = existing
        else:
            stored = self.store.new_file(
                kind,
                size=None,
                sha256=None,
                file_name=Path(urlsplit(source).path).name or None,
                mime_type=mimetypes.guess_type(source)[0],
            )
            stored.source_url = source
        if existing is None or (
            kind == "audio" and any(k in params for k in ("duration", "title", "performer"))
        ):
            previous = stored.meta
            stored.meta = {
                "duration": params.get("duration", previous.get("duration", 0)),
                "title": params.get("title", previous.get("title")),
                "performer": params.get("performer", previous.get("performer")),
            }
        thumb = await self._adopt(thumb_upload, "thumbnail") if thumb_upload is not None else None
        media = self.store.media_api_dict(kind, stored, thumb)
        message = self.store.add_bot_message(
            call.chat,
            text=caption,
            entities=entities,
            markup=markup,
            reply_to=reply_to,
            media_kind=kind,
            media=media,
            stored=stored,
        )
        self._emit("bot_audio", call.chat.id, message, caption or None)
        return message.raw

    async def _get_file(self, call: _Call) -> Any:
        stored = self.store.files.get(call.params["file_id"])
        if stored is None:
            raise bad_request("invalid file_id")
        if stored.size is None:
            raise bad_request("the emulator did not fetch this file: it was sent by URL")
        if stored.size > self.max_download_bytes:
            raise bad_request("file is too big")
        stored.file_path_issued = True
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    async def _adopt(self, upload: Upload, kind: str) -> StoredFile:
        stored = self.store.new_file(
            kind,
            size=upload.size,
            sha256=upload.sha256,
            file_name=upload.filename,
            mime_type=mime_type_of(upload.content_type, upload.filename, upload.head),
        )
        if kind == "thumbnail" and upload.data is not None:
            stored.width, stored.height = jpeg_size(upload.data) or (None, None)
        if upload.temp_path is not None and self.files_dir is not None:
            final = self.files_dir / f"{stored.number:04d}-{_safe_name(upload.filename or kind)}"
            await asyncio.to_thread(os.replace, upload.temp_path, final)
            upload.temp_path = None
            stored.path = final
        return stored

    async def _store_bytes(self, data: bytes, kind: str, file_name: str, mime_type: str) -> StoredFile:
        stored = self.store.new_file(
            kind,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            file_name=file_name,
            mime_type=mime_type,
        )
        if self.files_dir is not None:
            stored.path = self.files_dir / f"{stored.number:04d}-{_safe_name(file_name)}"
            await asyncio.to_thread(stored.path.write_bytes, data)
        else:
            stored.data = data  # the test handed these bytes over in memory anyway
        return stored

    # ----------------------------------------------------------------------------------------------
    # Chat model
    # ----------------------------------------------------------------------------------------------

    def _ensure_chat(self, user_id: int, first_name: str | None, language_code: str | None) -> ChatInfo:
        if user_id <= 0:
            raise ValueError("the emulator models private chats only: user ids are positive")
        chat = self.store.chats.get(user_id)
        if chat is None:
            chat = ChatInfo(user_id, first_name or "Alice", language_code)
            self.store.chats[user_id] = chat
            self.store.messages[user_id] = []
            return chat
        if first_name:
            chat.first_name = first_name
        if language_code:
            chat.language_code = language_code
        if chat.blocked:
            # Writing to a bot one blocked means unblocking it first, which the bot hears about.
            self.unblock_bot(user_id)
        return chat

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


def _command_key(scope: dict[str, Any] | None, language_code: str) -> tuple[str, str]:
    scope = scope or {"type": "default"}
    return json.dumps(scope, sort_keys=True), language_code or ""


def _check_thumbnail(upload: Upload) -> None:
    if upload.size > MAX_THUMBNAIL_BYTES or upload.data is None:
        raise bad_request(f"wrong thumbnail: {upload.size} bytes, more than 200 kB")
    size = jpeg_size(upload.data)
    if size is None:
        raise bad_request("wrong thumbnail: not a JPEG image")
    width, height = size
    if width > MAX_THUMBNAIL_SIDE or height > MAX_THUMBNAIL_SIDE:
        raise bad_request(f"wrong thumbnail: {width}x{height} is larger than 320x320")


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[-80:] or "file"


def _probe_duration(data: bytes) -> int:
    """What a Telegram client would report for a person's audio: the length from the file's headers."""
    try:
        import mutagen

        parsed = mutagen.File(io.BytesIO(data))
        return round(parsed.info.length) if parsed is not None else 0
    except Exception:
        return 0


async def _read_text_part(part: BodyPartReader) -> str:
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data += chunk
        if len(data) > _MAX_SMALL_BODY:
            raise ApiError(413, "Request Entity Too Large")
    return data.decode(part.get_charset("utf-8"), errors="replace")


async def _unlink(path: Path | None) -> None:
    if path is not None:
        await asyncio.to_thread(path.unlink, missing_ok=True)


async def _discard_uploads(uploads: Any) -> None:
    for upload in uploads:
        if upload.temp_path is not None:
            await _unlink(upload.temp_path)
            upload.temp_path = None
