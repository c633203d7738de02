"""The Bot API methods the emulator implements, each as strict as the real server.

``BotApiMethods`` is mixed into ``TelegramEmulator``: every method receives a decoded, spec-checked
``ApiCall`` and works on the emulator's state (its ``ChatStore``, update queue and webhook settings),
announcing changes through ``_emit`` and ``_changed``. Chat-changing methods pass ``_admit``, the
flood-limit gate, after their own validation.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from emulators.telegram.requests import ApiCall, Upload
from emulators.telegram.state import (
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_THUMBNAIL_BYTES,
    MAX_THUMBNAIL_SIDE,
    NOT_MODIFIED,
    AnsweredCallback,
    ApiError,
    ChatActionRecord,
    ChatMessage,
    MediaKind,
    StoredFile,
    bad_request,
    check_caption,
    check_markup,
    check_text,
    format_text,
    jpeg_size,
    mime_type_of,
)
from emulators.telegram.url_fetch import MAX_URL_BYTES, URL_FETCH_TIMEOUT, fetch_url

_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_WEBHOOK_PORTS = (80, 88, 443, 8443)
# The Bot API's bounds for the bot's profile texts: setMyDescription 0-512, setMyShortDescription 0-120.
MAX_DESCRIPTION_LENGTH = 512
MAX_SHORT_DESCRIPTION_LENGTH = 120
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
FLOOD_COUNTED = frozenset(
    {
        "sendMessage",
        "sendAudio",
        "sendDocument",
        "sendVoice",
        "sendVideo",
        "sendPhoto",
        "sendMediaGroup",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
    }
)


class BotApiMethods:
    """The method implementations of ``TelegramEmulator``; see the module docstring."""

    # Files sent by URL: Telegram's limit, and how long it waits for the host. Tests may lower both.
    max_url_bytes: int = MAX_URL_BYTES
    url_fetch_timeout: float = URL_FETCH_TIMEOUT
    inline_mode: bool = False  # @BotFather /setinline; inline queries: emulators/telegram/inline.py

    def _method_handlers(self) -> dict[str, Callable[[ApiCall], Awaitable[Any]]]:
        """Every method the emulator implements; a call to any other is refused loudly."""
        return {
            "getMe": self._get_me,
            "getChat": self._get_chat,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._set_my_description,
            "getMyDescription": self._get_my_description,
            "setMyShortDescription": self._set_my_short_description,
            "getMyShortDescription": self._get_my_short_description,
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
            "sendVideo": self._send_video,
            "sendPhoto": self._send_photo,
            "sendMediaGroup": self._send_media_group,  # type: ignore[attr-defined]
            "getFile": self._get_file,
            "answerInlineQuery": self._answer_inline_query,  # type: ignore[attr-defined]
        }

    def _admit(self, call: ApiCall) -> None:
        """The flood-limit gate, passed by every chat-changing call after its own validation."""
        assert call.chat is not None
        found = self._flood.check(call.chat.id, call.arrival, call.method, refused=self.enforce_limits)
        self.violations.extend(found)
        if found and self.enforce_limits:
            retry_after = max(v.retry_after for v in found)
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)
        self._flood.record(call.chat.id, call.arrival)
        call.admitted = True

    # ----------------------------------------------------------------------------------------------
    # Methods: bot, chat, commands
    # ----------------------------------------------------------------------------------------------

    async def _get_me(self, call: ApiCall) -> Any:
        return {
            **self.store.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": self.inline_mode,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_chat(self, call: ApiCall) -> Any:
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

    async def _set_my_commands(self, call: ApiCall) -> Any:
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

    async def _get_my_commands(self, call: ApiCall) -> Any:
        return list(self.all_commands.get(self._command_key(call), []))

    async def _delete_my_commands(self, call: ApiCall) -> Any:
        self.all_commands.pop(self._command_key(call), None)
        return True

    # The profile texts: one per language ("" for everyone without a dedicated one). An empty text removes
    # the language's own; reading a language gives what its speakers see, so its own or the default.

    async def _set_my_description(self, call: ApiCall) -> Any:
        self._set_profile_text(call, "description", self.descriptions, MAX_DESCRIPTION_LENGTH)
        return True

    async def _get_my_description(self, call: ApiCall) -> Any:
        return {"description": self._profile_text(call, self.descriptions)}

    async def _set_my_short_description(self, call: ApiCall) -> Any:
        self._set_profile_text(
            call, "short_description", self.short_descriptions, MAX_SHORT_DESCRIPTION_LENGTH
        )
        return True

    async def _get_my_short_description(self, call: ApiCall) -> Any:
        return {"short_description": self._profile_text(call, self.short_descriptions)}

    def _set_profile_text(self, call: ApiCall, field: str, texts: dict[str, str], limit: int) -> None:
        language = self._language(call)
        text = call.params.get(field, "")
        if not isinstance(text, str):
            raise bad_request(f"{field} must be a string")
        if len(text) > limit:
            raise bad_request(f"{field} is too long: {len(text)} characters, at most {limit}")
        if text:
            texts[language] = text
        else:
            texts.pop(language, None)

    def _profile_text(self, call: ApiCall, texts: dict[str, str]) -> str:
        language = self._language(call)
        return texts.get(language, texts.get("", ""))

    def _language(self, call: ApiCall) -> str:
        language = call.params.get("language_code", "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code")
        return str(language)

    def _command_key(self, call: ApiCall) -> tuple[str, str]:
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
        return command_key(scope, language)

    # ----------------------------------------------------------------------------------------------
    # Methods: updates and webhooks
    # ----------------------------------------------------------------------------------------------

    async def _get_updates(self, call: ApiCall) -> Any:
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

    async def _set_webhook(self, call: ApiCall) -> Any:
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

    async def _delete_webhook(self, call: ApiCall) -> Any:
        had_webhook = bool(self._webhook_url)
        self._webhook_url = ""
        self._webhook_secret = None
        self._last_error_date = self._last_error_message = None
        if call.params.get("drop_pending_updates"):
            self._pending.clear()
        self._delivery_wake.set()
        call.ok_description = "Webhook was deleted" if had_webhook else "Webhook is already deleted"
        return True

    async def _get_webhook_info(self, call: ApiCall) -> Any:
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

    # ----------------------------------------------------------------------------------------------
    # Methods: messages
    # ----------------------------------------------------------------------------------------------

    async def _send_message(self, call: ApiCall) -> Any:
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

    async def _edit_message_text(self, call: ApiCall) -> Any:
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

    async def _edit_message_caption(self, call: ApiCall) -> Any:
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

    async def _edit_message_reply_markup(self, call: ApiCall) -> Any:
        message = self._edit_target(call)
        markup = check_markup(call.params.get("reply_markup"), inline_only=True)
        if markup == message.inline_markup:
            raise ApiError(400, NOT_MODIFIED)
        self._admit(call)
        return self._apply_edit(message, message.text or "", message.entities, markup)

    async def _delete_message(self, call: ApiCall) -> Any:
        assert call.chat is not None
        message = self.store.message(call.chat.id, call.params["message_id"])
        if message is None:
            raise bad_request("message to delete not found")
        self._admit(call)
        message.deleted = True
        self._emit("bot_delete", call.chat.id, message, None)
        return True

    async def _send_chat_action(self, call: ApiCall) -> Any:
        assert call.chat is not None
        action = call.params["action"]
        if action not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.chat_actions.append(ChatActionRecord(call.chat.id, action, call.arrival))
        return True

    async def _answer_callback_query(self, call: ApiCall) -> Any:
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

    def _edit_target(self, call: ApiCall) -> ChatMessage:
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

    def _reply_target(self, call: ApiCall) -> ChatMessage | None:
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

    async def _send_audio(self, call: ApiCall) -> Any:
        return await self._send_media(call, "audio")

    async def _send_document(self, call: ApiCall) -> Any:
        return await self._send_media(call, "document")

    async def _send_voice(self, call: ApiCall) -> Any:
        return await self._send_media(call, "voice")

    async def _send_video(self, call: ApiCall) -> Any:
        return await self._send_media(call, "video")

    async def _send_photo(self, call: ApiCall) -> Any:
        return await self._send_media(call, "photo")

    async def _send_media(self, call: ApiCall, kind: MediaKind) -> Any:
        params = call.params
        assert call.chat is not None
        caption, entities = format_text(
            params.get("caption"), params.get("parse_mode"), params.get("caption_entities")
        )
        check_caption(caption)
        markup = check_markup(params.get("reply_markup"), inline_only=False)
        reply_to = self._reply_target(call)
        source = params[kind]
        existing = self._existing_file(source, kind)
        thumbnail = params.get("thumbnail")
        # Thumbnails can only be uploaded, never reused; a string is ignored as the real server does. A
        # file sent again by its file_id keeps what it has: a thumbnail comes only with a new upload.
        thumb_upload = (
            thumbnail
            if isinstance(thumbnail, Upload) and kind not in ("voice", "photo") and existing is None
            else None
        )
        if thumb_upload is not None:
            _check_thumbnail(thumb_upload)
        fetched = await self._fetch_source(call, source, kind, existing)
        self._admit(call)
        stored, sent_by = await self._store_file(source, kind, existing, fetched, params)
        thumb = await self._adopt(thumb_upload, "thumbnail") if thumb_upload is not None else None
        if thumb is not None:
            stored.meta["thumbnail"] = thumb.file_id
        elif existing is not None:  # sent again by file_id: the thumbnail it was uploaded with
            thumb = self.store.files.get(str(existing.meta.get("thumbnail") or ""))
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
            sent_by=sent_by,
        )
        self._emit("bot_audio", call.chat.id, message, caption or None)
        return message.raw

    def _existing_file(self, source: Any, kind: MediaKind) -> StoredFile | None:
        """The stored file a file_id names (None for an upload or a URL); 400 for an unknown or wrong one."""
        if isinstance(source, Upload):
            if source.size == 0:
                raise bad_request("file must be non-empty")
            check_upload_for(kind, source)
            return None
        if source.startswith(("http://", "https://")):
            return None  # fetched once the rest of the call is known to be valid
        existing = self.store.files.get(source)
        if existing is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if existing.kind != kind and not (kind == "document" and existing.kind != "thumbnail"):
            raise bad_request(f"can't use file of type {existing.kind.title()} as {kind.title()}")
        return existing

    async def _fetch_source(
        self, call: ApiCall, source: Any, kind: MediaKind, existing: StoredFile | None
    ) -> Upload | None:
        if isinstance(source, Upload) or existing is not None:
            return None
        # A refused URL is a 400 like any invalid field, before the call counts against the limits.
        assert self._client is not None, "the emulator fetches URLs only once started"
        fetched = await fetch_url(
            self._client,
            source,
            kind,
            files_dir=self.files_dir,
            max_bytes=self.max_url_bytes,
            timeout=self.url_fetch_timeout,
        )
        call.uploads[f"url:{source}"] = fetched  # so the dispatcher discards it if the call fails
        check_upload_for(kind, fetched)
        return fetched

    async def _store_file(
        self,
        source: Any,
        kind: MediaKind,
        existing: StoredFile | None,
        fetched: Upload | None,
        params: dict[str, Any],
    ) -> tuple[StoredFile, str]:
        """The file a message carries, adopted (and its metadata read) once the call is admitted."""
        new_file = source if isinstance(source, Upload) else fetched
        if new_file is not None:
            stored = await self._adopt(new_file, kind)
            stored.source_url = None if isinstance(source, Upload) else source
            if kind == "photo":
                stored.width, stored.height = image_size(new_file.data or new_file.head) or (0, 0)
        else:
            assert existing is not None
            stored = existing
        if existing is None or (
            kind == "audio" and any(k in params for k in ("duration", "title", "performer"))
        ):
            previous = stored.meta
            duration = params.get("duration", previous.get("duration"))
            if duration is None and kind not in ("document", "photo") and new_file is not None:
                # Telegram reads the length from the file when the sender does not give one.
                duration = await asyncio.to_thread(probe_duration, stored.path or new_file.data or b"")
            stored.meta = {
                "duration": duration or 0,
                "title": params.get("title", previous.get("title")),
                "performer": params.get("performer", previous.get("performer")),
                "width": params.get("width", previous.get("width")),
                "height": params.get("height", previous.get("height")),
                "thumbnail": previous.get("thumbnail"),
            }
        sent_by = "upload" if isinstance(source, Upload) else "url" if fetched else "file_id"
        return stored, sent_by

    async def _get_file(self, call: ApiCall) -> Any:
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


def probe_duration(source: bytes | Path) -> int:
    """An audio file's length in seconds from its headers, as Telegram reads it; 0 when unreadable."""
    try:
        import mutagen

        parsed = mutagen.File(io.BytesIO(source) if isinstance(source, bytes) else source)
        return round(parsed.info.length) if parsed is not None else 0
    except Exception:
        return 0


def command_key(scope: dict[str, Any] | None, language_code: str) -> tuple[str, str]:
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


# Telegram's limits for the kinds it treats specially: a photo is re-encoded, so it must be an image of
# at most 10 MB whose sides add up to at most 10000 and differ at most 20 times.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_SIDES = 10000
MAX_PHOTO_RATIO = 20


def check_upload_for(kind: str, upload: Upload) -> None:
    """A new file's checks for its kind, as the real server makes them (400 with its words)."""
    if kind != "photo":
        return
    if upload.size > MAX_PHOTO_BYTES:
        raise bad_request("PHOTO_SAVE_FILE_INVALID")
    size = image_size(upload.data or upload.head)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height = size
    if width + height > MAX_PHOTO_SIDES or max(width, height) > MAX_PHOTO_RATIO * max(1, min(width, height)):
        raise bad_request("PHOTO_INVALID_DIMENSIONS")


def image_size(data: bytes) -> tuple[int, int] | None:
    """A PNG's or JPEG's width and height from its header; None for anything else."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return jpeg_size(data)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)[-80:] or "file"
