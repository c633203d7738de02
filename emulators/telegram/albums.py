"""sendMediaGroup: an album of 2-10 audios, documents, or photos and videos, as strict as the real server.

Each item is an InputMedia object checked against its type's fields (the Bot API's InputMediaAudio,
InputMediaDocument, InputMediaPhoto, InputMediaVideo); audios and documents group only with their own
kind. The files are resolved like a single send's (an `attach://` upload, a file_id or a URL), and every
check is made before anything is stored, so a refused album leaves the chat as it was.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from emulators.telegram.requests import ApiCall, Upload
from emulators.telegram.state import (
    FieldSpec,
    MediaKind,
    StoredFile,
    bad_request,
    check_caption,
    coerce_value,
    format_text,
)

if TYPE_CHECKING:
    from emulators.telegram.methods import BotApiMethods

    _Base = BotApiMethods
else:
    _Base = object

ALBUM_MIN, ALBUM_MAX = 2, 10

_COMMON = {"type": ("String",), "media": ("String",), "caption": ("String",), "parse_mode": ("String",)}
_COMMON["caption_entities"] = ("Array of MessageEntity",)
_SHOWN = {"show_caption_above_media": ("Boolean",), "has_spoiler": ("Boolean",)}
# The fields of each InputMedia type (Bot API 10.1); anything else in an item is refused.
ITEM_FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "audio": {
        **_COMMON,
        "thumbnail": ("String",),
        "duration": ("Integer",),
        "performer": ("String",),
        "title": ("String",),
    },
    "document": {**_COMMON, "thumbnail": ("String",), "disable_content_type_detection": ("Boolean",)},
    "photo": {**_COMMON, **_SHOWN},
    "video": {
        **_COMMON,
        **_SHOWN,
        "thumbnail": ("String",),
        "cover": ("String",),
        "start_timestamp": ("Integer",),
        "width": ("Integer",),
        "height": ("Integer",),
        "duration": ("Integer",),
        "supports_streaming": ("Boolean",),
    },
}
# Audios and documents make albums only of their own kind; photos and videos mix.
_GROUPS = {"audio": "audio", "document": "document", "photo": "visual", "video": "visual"}


class AlbumMethods(_Base):
    async def _send_media_group(self, call: ApiCall) -> Any:
        assert call.chat is not None
        items = call.params["media"]
        if not ALBUM_MIN <= len(items) <= ALBUM_MAX:
            raise bad_request("wrong number of media in the album: it must include 2-10 items")
        checked = [self._album_item(index, item) for index, item in enumerate(items)]
        groups = {_GROUPS[kind] for kind, *_ in checked}
        if len(groups) > 1:
            kinds = sorted({kind for kind, *_ in checked})
            raise bad_request(f"can't mix {' and '.join(kinds)} in one album: audios, documents group alone")
        reply_to = self._reply_target(call)
        resolved = []
        for kind, item, caption, entities, existing in checked:
            fetched = await self._fetch_source(call, item["media"], kind, existing)
            resolved.append((kind, item, caption, entities, existing, fetched))
        self._admit(call)
        group_id = str(10**17 + secrets.randbelow(10**17))
        sent = []
        for kind, item, caption, entities, existing, fetched in resolved:
            stored, sent_by = await self._store_file(item["media"], kind, existing, fetched, item)
            message = self.store.add_bot_message(
                call.chat,
                text=caption,
                entities=entities,
                markup=None,
                reply_to=reply_to,
                media_kind=kind,
                media=self.store.media_api_dict(kind, stored),
                stored=stored,
                sent_by=sent_by,
                media_group_id=group_id,
            )
            self._emit("bot_audio", call.chat.id, message, caption or None)
            sent.append(message.raw)
        return sent

    def _album_item(
        self, index: int, item: Any
    ) -> tuple[MediaKind, dict[str, Any], str, list[dict[str, Any]], StoredFile | None]:
        where = f"media #{index + 1}"
        if not isinstance(item, dict):
            raise bad_request(f"can't parse InputMedia: {where} is not an object")
        kind = item.get("type")
        if kind not in ITEM_FIELDS:
            raise bad_request(f"{where}: unsupported media type {kind!r}")
        fields = ITEM_FIELDS[kind]
        typed: dict[str, Any] = {}
        for name, value in item.items():
            if name not in fields:
                raise bad_request(f'{where}: unexpected field "{name}" for InputMedia{kind.title()}')
            if name in ("media", "thumbnail", "cover") and isinstance(value, Upload):
                typed[name] = value  # an attach:// part, resolved by the decoder
                continue
            typed[name] = coerce_value(FieldSpec(name, fields[name], False), value)
        if "media" not in typed:
            raise bad_request(f"{where}: the media field is required")
        caption, entities = format_text(
            typed.get("caption"), typed.get("parse_mode"), typed.get("caption_entities")
        )
        check_caption(caption)
        existing = self._existing_file(typed["media"], kind)
        return kind, typed, caption, entities, existing
