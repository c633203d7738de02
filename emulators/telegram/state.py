"""Pure, in-memory pieces of the Telegram Bot API emulator.

Nothing here does network or file IO (the spec JSON is read from the package once), so each piece can
be reasoned about and unit tested on its own: the recorded data classes that tests inspect, the Bot API
spec and the coercion of wire values, the formatted-text parsers that decide what "4096 characters"
means, the reply-markup rules, the JPEG size probe for thumbnails, the flood-limit bookkeeping and the
chat model (chats, messages with their edit history, issued files).
"""

from __future__ import annotations

import bisect
import html
import json
import math
import mimetypes
import re
import secrets
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

# Limits of the real server. Byte limits are binary megabytes, as tdlib's telegram-bot-api counts them.
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_THUMBNAIL_BYTES = 200 * 1024
MAX_THUMBNAIL_SIDE = 320
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"

MediaKind = Literal["audio", "voice", "document", "video", "photo"]
EventKind = Literal[
    "user_message", "user_callback", "bot_message", "bot_audio", "bot_edit", "bot_delete", "callback_answered"
]


class ApiError(Exception):
    """An error answer of the Bot API; HTTP status always equals error_code, as on the real server."""

    def __init__(self, error_code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


# --------------------------------------------------------------------------------------------------
# What tests observe
# --------------------------------------------------------------------------------------------------


@dataclass
class ChatMessage:
    """One message in a private chat, in either direction, with its edit history."""

    message_id: int
    chat_id: int
    from_bot: bool
    text: str | None  # the text, or the caption of a media message
    reply_markup: dict[str, Any] | None
    audio: dict[str, Any] | None
    date: int
    raw: dict[str, Any]  # the Message object exactly as the API returned or delivered it, kept current
    edits: list[str] = field(default_factory=list)  # every text/caption it had, the current one last
    markups: list[dict[str, Any] | None] = field(default_factory=list)  # same for the reply markup
    voice: dict[str, Any] | None = None
    document: dict[str, Any] | None = None
    video: dict[str, Any] | None = None
    photo: dict[str, Any] | None = None  # the largest size; the message itself carries them all
    entities: list[dict[str, Any]] = field(default_factory=list)
    deleted: bool = False

    @property
    def kind(self) -> str:
        for name in ("audio", "voice", "document", "video", "photo"):
            if getattr(self, name) is not None:
                return name
        return "text"

    @property
    def media(self) -> dict[str, Any] | None:
        return self.audio or self.voice or self.document or self.video or self.photo

    @property
    def media_group_id(self) -> str | None:
        """The album it was sent in (sendMediaGroup), if any."""
        return self.raw.get("media_group_id")

    @property
    def inline_markup(self) -> dict[str, Any] | None:
        """Only inline keyboards belong to a message; reply keyboards belong to the chat input field."""
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            return self.reply_markup
        return None

    def button_data(self) -> list[str]:
        markup = self.inline_markup or {}
        return [
            button["callback_data"]
            for row in markup.get("inline_keyboard", [])
            for button in row
            if "callback_data" in button
        ]


@dataclass(frozen=True)
class ChatEvent:
    kind: EventKind
    chat_id: int
    message: ChatMessage | None = None
    text: str | None = None  # the new text for edits, the answer text for callbacks, the data for presses
    time: float = 0.0


@dataclass
class RecordedRequest:
    method: str  # canonical spelling from the spec, whatever case the client used
    params: dict[str, Any]  # decoded and coerced; uploads replaced by descriptor dicts
    time: float  # time.monotonic() of arrival
    chat_id: int | str | None = None
    status: int | None = None  # None while the call is still being processed (e.g. a long poll); 0: no answer
    description: str | None = None  # the error description when status != 200
    http_method: str = "POST"
    content_type: str = ""
    # Set when a scripted outage answered instead of the API: "outage:502", or "outage:reset" with
    # status 0 (no HTTP answer at all). Such a call was never applied.
    fault: str | None = None


@dataclass(frozen=True)
class Violation:
    kind: Literal["per_chat", "global"]
    chat_id: int
    time: float
    method: str
    detail: str
    retry_after: int
    refused: bool  # True when enforce_limits answered 429 instead of executing the call


@dataclass(frozen=True)
class AnsweredCallback:
    callback_query_id: str
    user_id: int
    message_id: int
    data: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    time: float


@dataclass(frozen=True)
class ChatActionRecord:
    chat_id: int
    action: str
    time: float


@dataclass(frozen=True)
class WebhookInfo:
    url: str
    secret_token: str | None
    allowed_updates: list[str] | None
    max_connections: int
    pending_update_count: int
    last_error_date: int | None
    last_error_message: str | None
    ip_address: str | None
    delivered: int  # updates the webhook answered with 2xx


@dataclass(frozen=True)
class WebhookDelivery:
    update_id: int
    url: str
    status: int | None  # None when the connection failed
    error: str | None
    time: float


@dataclass
class ScriptedFault:
    method: str  # lower-case method name, or "*" for any method
    error_code: int
    description: str
    retry_after: int | None
    chat_id: int | None
    remaining: int

    def matches(self, method: str, chat_id: int | str | None) -> bool:
        if self.method not in ("*", method.lower()):
            return False
        return self.chat_id is None or self.chat_id == chat_id


@dataclass
class StoredFile:
    """A file the emulator issued a file_id for. Bytes live at path, in data, or nowhere (hash only)."""

    number: int
    file_id: str
    file_unique_id: str
    kind: str  # audio, voice, document, thumbnail, photo
    size: int | None
    sha256: str | None
    path: Path | None = None
    data: bytes | None = None
    file_name: str | None = None
    mime_type: str | None = None
    source_url: str | None = None  # the URL the emulator fetched it from, when the bot sent it by URL
    width: int | None = None
    height: int | None = None
    file_path_issued: bool = False  # getFile was called, so the download URL is valid
    meta: dict[str, Any] = field(default_factory=dict)  # duration/title/performer as the sender defined them

    @property
    def file_path(self) -> str:
        folder, default_ext = {
            "audio": ("music", ".mp3"),
            "voice": ("voice", ".oga"),
            "document": ("documents", ""),
            "thumbnail": ("thumbnails", ".jpg"),
            "photo": ("photos", ".jpg"),
            "video": ("videos", ".mp4"),
        }[self.kind]
        ext = Path(self.file_name or "").suffix.lower() or default_ext
        return f"{folder}/file_{self.number}{ext}"


ChatType = Literal["private", "group", "supergroup", "channel"]


@dataclass
class ChatInfo:
    """A chat. A private chat's id is its person's user id, and it also stands for that person (their
    name and language); a group's, supergroup's or channel's id is negative and it has a title."""

    id: int
    first_name: str
    language_code: str | None
    # For a private chat, the person blocked the bot; for the others, the bot is not in it (any more).
    blocked: bool = False
    next_message_id: int = 1
    type: ChatType = "private"
    title: str | None = None
    bot_status: str = "member"  # a group's view of the bot: member, left or kicked

    def api_dict(self) -> dict[str, Any]:
        if self.type == "private":
            return {"id": self.id, "type": "private", "first_name": self.first_name}
        return {"id": self.id, "type": self.type, "title": self.title or ""}

    def user_dict(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            user["language_code"] = self.language_code
        return user


# --------------------------------------------------------------------------------------------------
# The Bot API spec and wire-value coercion
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    types: tuple[str, ...]
    required: bool

    @property
    def accepts_file(self) -> bool:
        return "InputFile" in self.types


@dataclass(frozen=True)
class MethodSpec:
    name: str
    fields: dict[str, FieldSpec]


@dataclass(frozen=True)
class BotApiSpec:
    version: str
    methods: dict[str, MethodSpec]  # keyed by lower-case name: the real server ignores method case

    def lookup(self, name: str) -> MethodSpec | None:
        return self.methods.get(name.lower())


@cache
def load_spec() -> BotApiSpec:
    # Read from the installed package so the emulator works from a wheel and never needs the repo layout.
    text = (
        resources.files("emulators.telegram")
        .joinpath("data/telegram-bot-api-methods.json")
        .read_text("utf-8")
    )
    raw = json.loads(text)
    methods = {
        name.lower(): MethodSpec(
            name,
            {f["name"]: FieldSpec(f["name"], tuple(f["types"]), bool(f["required"])) for f in spec["fields"]},
        )
        for name, spec in raw["methods"].items()
    }
    return BotApiSpec(raw["version"], methods)


_INT_RE = re.compile(r"[+-]?\d+")


def coerce_value(spec: FieldSpec, value: Any) -> Any:
    """Turns a decoded wire value into the spec type. Strings come from urlencoded and multipart bodies,
    native values from JSON bodies; objects and arrays arrive as JSON strings in the former."""
    types = spec.types
    if spec.accepts_file and not isinstance(value, str):
        return value  # an upload descriptor the decoder built
    if types == ("Integer",):
        return _as_int(spec.name, value)
    if types == ("Float",):
        if isinstance(value, bool):
            raise bad_request(f'field "{spec.name}" must be a Float')
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f'field "{spec.name}" must be a Float') from None
    if types in (("Boolean",), ("True",)):
        return _as_bool(spec.name, value)
    if types == ("Integer", "String"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
            return int(value)
        return _as_str(spec.name, value)
    if types == ("String",) or spec.accepts_file:
        return _as_str(spec.name, value)
    if all(t.startswith("Array of ") for t in types):
        parsed = _as_json(spec.name, value)
        if not isinstance(parsed, list):
            raise bad_request(f"can't parse {spec.name} JSON array")
        if types == ("Array of Integer",):
            return [_as_int(spec.name, item) for item in parsed]
        if types == ("Array of String",):
            return [_as_str(spec.name, item) for item in parsed]
        return parsed
    parsed = _as_json(spec.name, value)
    if not isinstance(parsed, dict):
        raise bad_request(f"can't parse {spec.name} JSON object")
    return parsed


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INT_RE.fullmatch(value.strip()):
        return int(value)
    raise bad_request(f'field "{name}" must be an Integer')


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise bad_request(f'field "{name}" must be a Boolean')


def _as_str(name: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # the real server reads JSON numbers for string fields as their text
    raise bad_request(f'field "{name}" must be a String')


def _as_json(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        raise bad_request(f"can't parse {name} JSON object") from None


def missing_field_error(method: str, name: str) -> ApiError:
    """The wording of the real server for the fields a bot most often forgets."""
    if name == "text":
        return bad_request("message text is empty")
    if name in ("audio", "voice", "document", "photo", "video", "animation", "sticker"):
        return bad_request(f"there is no {name} in the request")
    return bad_request(f"{name} is empty")


# --------------------------------------------------------------------------------------------------
# Formatted text: what the server sees after parse_mode, and so what the length limits count
# --------------------------------------------------------------------------------------------------


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class _TextBuilder:
    """Accumulates plain text and entities with UTF-16 offsets, the unit the Bot API uses."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.offset = 0
        self.entities: list[dict[str, Any]] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.offset += utf16_len(text)

    def entity(self, start: int, kind: str, **extra: Any) -> None:
        if self.offset > start:  # Telegram drops empty entities rather than failing
            self.entities.append({"type": kind, "offset": start, "length": self.offset - start, **extra})

    def text(self) -> str:
        return "".join(self.parts)


def _entity_error(reason: str) -> ApiError:
    return bad_request(f"can't parse entities: {reason}")


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY_RE = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot);")
_HTML_ATTR_RE = re.compile(r"""\s+([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML subset, as strict as tdlib: unknown or unbalanced tags fail the whole request,
    which is what catches a bot that forgot to escape user input ("<3", "a < b")."""
    out = _TextBuilder()
    stack: list[tuple[str, str, int, dict[str, Any]]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "&":
            match = _HTML_ENTITY_RE.match(text, i)
            if match:
                out.add(html.unescape(match.group(0)))
                i = match.end()
                continue
            out.add(char)  # tdlib keeps an '&' that starts no known entity as a literal
            i += 1
            continue
        if char != "<":
            out.add(char)
            i += 1
            continue
        at = _byte_offset(text, i)
        if text.startswith("</", i):
            close = text.find(">", i)
            if close < 0:
                raise _entity_error(f"Unclosed end tag at byte offset {at}")
            name = text[i + 2 : close].strip().lower()
            if not stack:
                raise _entity_error(f"Unexpected end tag at byte offset {at}")
            tag, kind, start, entity_extra = stack.pop()
            if name and name != tag:
                raise _entity_error(
                    f'Unmatched end tag at byte offset {at}, expected "</{tag}>", found "</{name}>"'
                )
            out.entity(start, kind, **entity_extra)
            i = close + 1
            continue
        # Like tdlib: read the tag name first, so "I <3 you" reports the unsupported tag "3".
        name_match = re.compile(r"[^\s>]*").match(text, i + 1)
        name = name_match.group(0).lower() if name_match else ""
        if not name:
            raise _entity_error(f"Empty tag name at byte offset {at}")
        if name not in _HTML_TAGS:
            raise _entity_error(f'Unsupported start tag "{name}" at byte offset {at}')
        close = text.find(">", i)
        if close < 0:
            raise _entity_error(f"Unclosed start tag at byte offset {at}")
        attrs = {
            m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or ""
            for m in _HTML_ATTR_RE.finditer(text[i + 1 + len(name) : close])
        }
        extra: dict[str, Any] = {}
        if name == "a":
            extra["url"] = attrs.get("href", "")
        elif name == "span" and attrs.get("class") != "tg-spoiler":
            raise _entity_error(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        elif name == "tg-emoji":
            extra["custom_emoji_id"] = attrs.get("emoji-id", "")
        stack.append((name, _HTML_TAGS[name], out.offset, extra))
        i = close + 1
    if stack:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.text(), sorted(out.entities, key=lambda e: e["offset"])


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_MARKERS = {
    "*": ("bold", "Bold"),
    "_": ("italic", "Italic"),
    "__": ("underline", "Underline"),
    "~": ("strikethrough", "Strikethrough"),
    "||": ("spoiler", "Spoiler"),
}


def parse_markdown_v2(text: str) -> tuple[str, list[dict[str, Any]]]:
    """MarkdownV2: every reserved character outside markup must be escaped, the rule bots break most."""
    out = _TextBuilder()
    stack: list[tuple[str, int, int]] = []  # marker, utf16 start, byte offset of the opening marker
    link_starts: list[tuple[int, int]] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        at = _byte_offset(text, i)
        if char == "\\":
            if i + 1 >= n:
                raise _entity_error("Character '\\' is reserved and must be escaped with the preceding '\\'")
            out.add(text[i + 1])
            i += 2
            continue
        if char == "`":
            fence = "```" if text.startswith("```", i) else "`"
            end = _find_unescaped(text, fence, i + len(fence))
            if end < 0:
                raise _entity_error(
                    f"Can't find end of {'Pre' if len(fence) == 3 else 'Code'} entity at byte offset {at}"
                )
            inner = text[i + len(fence) : end]
            language = None
            if fence == "```" and "\n" in inner:
                first, rest = inner.split("\n", 1)
                if first and " " not in first:
                    language, inner = first, rest
            start = out.offset
            out.add(re.sub(r"\\([`\\])", r"\1", inner))
            out.entity(
                start, "pre" if fence == "```" else "code", **({"language": language} if language else {})
            )
            i = end + len(fence)
            continue
        marker = text[i : i + 2] if text[i : i + 2] in ("__", "||") else char
        if marker in _MDV2_MARKERS:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                out.entity(start, _MDV2_MARKERS[marker][0])
            else:
                stack.append((marker, out.offset, at))
            i += len(marker)
            continue
        if char == "[":
            link_starts.append((out.offset, at))
            i += 1
            continue
        if char == "]" and link_starts:
            start, _ = link_starts.pop()
            if not text.startswith("(", i + 1):
                raise _entity_error("Character ']' is reserved and must be escaped with the preceding '\\'")
            end = text.find(")", i + 2)
            if end < 0:
                raise _entity_error(f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}")
            out.entity(start, "text_link", url=text[i + 2 : end].replace("\\)", ")"))
            i = end + 1
            continue
        if char == ">" and (i == 0 or text[i - 1] == "\n"):
            i += 1  # a block quote marker; the quote itself does not change the length checks
            continue
        if char in _MDV2_RESERVED:
            raise _entity_error(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
        out.add(char)
        i += 1
    if stack:
        marker, _, at = stack[-1]
        raise _entity_error(f"Can't find end of {_MDV2_MARKERS[marker][1]} entity at byte offset {at}")
    if link_starts:
        raise _entity_error(f"Can't find end of TextUrl entity at byte offset {link_starts[-1][1]}")
    return out.text(), sorted(out.entities, key=lambda e: e["offset"])


def _find_unescaped(text: str, needle: str, start: int) -> int:
    i = start
    while True:
        i = text.find(needle, i)
        if i < 0 or text[i - 1] != "\\":
            return i
        i += 1


def parse_markdown(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Legacy Markdown: fewer rules, but an unclosed marker still fails the request."""
    out = _TextBuilder()
    markers = {"*": "bold", "_": "italic"}
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        at = _byte_offset(text, i)
        if char == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.add(text[i + 1])
            i += 2
        elif char in markers or char == "`":
            fence = "```" if text.startswith("```", i) else char
            end = text.find(fence, i + len(fence))
            if end < 0:
                raise _entity_error(f"Can't find end of the entity starting at byte offset {at}")
            start = out.offset
            out.add(text[i + len(fence) : end])
            kind = markers.get(char) or ("pre" if fence == "```" else "code")
            out.entity(start, kind)
            i = end + len(fence)
        elif char == "[":
            match = re.compile(r"\[([^\]]*)\]\(([^)]*)\)").match(text, i)
            if not match:
                raise _entity_error(f"Can't find end of the entity starting at byte offset {at}")
            start = out.offset
            out.add(match.group(1))
            out.entity(start, "text_link", url=match.group(2))
            i = match.end()
        else:
            out.add(char)
            i += 1
    return out.text(), out.entities


def format_text(
    text: str | None,
    parse_mode: str | None,
    entities: list[Any] | None,
) -> tuple[str, list[dict[str, Any]]]:
    """Returns the plain text and entities the server would store, trimmed like tdlib trims them."""
    if not text:
        return "", []
    if entities is not None:
        plain, parsed = text, _check_entities(text, entities)
    elif parse_mode is None or parse_mode == "":
        plain, parsed = text, []
    else:
        mode = parse_mode.lower()
        if mode == "html":
            plain, parsed = parse_html(text)
        elif mode == "markdownv2":
            plain, parsed = parse_markdown_v2(text)
        elif mode == "markdown":
            plain, parsed = parse_markdown(text)
        else:
            raise bad_request(f"unsupported parse_mode {parse_mode!r}")
    return _trim(plain, parsed)


def _check_entities(text: str, entities: list[Any]) -> list[dict[str, Any]]:
    total = utf16_len(text)
    for entity in entities:
        if not (
            isinstance(entity, dict)
            and isinstance(entity.get("type"), str)
            and isinstance(entity.get("offset"), int)
            and isinstance(entity.get("length"), int)
        ):
            raise bad_request("can't parse entities JSON object")
        if entity["offset"] < 0 or entity["length"] < 0 or entity["offset"] + entity["length"] > total:
            raise _entity_error(f"entity beyond the end of the text: {entity}")
    return [dict(e) for e in entities]


def _trim(plain: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    # The server strips surrounding whitespace, so "   " is an empty message and entities shift left.
    stripped = plain.strip()
    if stripped == plain:
        return plain, entities
    lead = utf16_len(plain[: len(plain) - len(plain.lstrip())])
    total = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def command_entities(text: str) -> list[dict[str, Any]]:
    """Telegram marks /commands (`/start@jobs_bot` too) and @username mentions in what a person sends;
    PTB's CommandHandler relies on the former. In order of offset, as the server sends them."""
    entities = []
    for kind, pattern in (
        ("bot_command", r"(?:^|(?<=\s))/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?"),
        ("mention", r"(?:^|(?<=[\s(]))@[A-Za-z0-9_]{5,32}\b"),
    ):
        for match in re.finditer(pattern, text):
            entities.append(
                {
                    "type": kind,
                    "offset": utf16_len(text[: match.start()]),
                    "length": utf16_len(match.group(0)),
                }
            )
    return sorted(entities, key=lambda entity: entity["offset"])


def check_text(text: str) -> None:
    if not text:
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")


def check_caption(caption: str) -> None:
    if len(caption) > MAX_CAPTION_LENGTH:
        raise bad_request("message caption is too long")


def check_markup(markup: dict[str, Any] | None, *, inline_only: bool) -> dict[str, Any] | None:
    if markup is None:
        return None
    if "inline_keyboard" not in markup:
        if inline_only:
            raise bad_request("inline keyboard expected")
        if not any(key in markup for key in ("keyboard", "remove_keyboard", "force_reply")):
            raise bad_request("can't parse reply keyboard markup JSON object")
        return markup
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'can\'t parse inline keyboard button: field "inline_keyboard" must be an Array of Array'
        )
    if sum(len(row) for row in rows) > 100:
        raise bad_request("reply markup is too long")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
            actions = [key for key in _BUTTON_ACTIONS if key in button]
            if not actions:
                raise bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                )
            if len(actions) > 1:
                raise bad_request(
                    "can't parse inline keyboard button: only one of the optional fields must be used"
                )
            data = button.get("callback_data")
            if "callback_data" in button and (
                not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
            ):
                raise bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if "url" in button and not (isinstance(url, str) and re.match(r"(https?|tg)://\S+", url)):
                raise bad_request("BUTTON_URL_INVALID")
    return markup


def mime_type_of(content_type: str | None, filename: str | None, head: bytes) -> str | None:
    if content_type and content_type.split(";")[0].strip() != "application/octet-stream":
        return content_type.split(";")[0].strip()
    guessed = mimetypes.guess_type(filename)[0] if filename else None
    return guessed or sniff_mime(head) or content_type


# --------------------------------------------------------------------------------------------------
# Thumbnails and media sniffing
# --------------------------------------------------------------------------------------------------

_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the first SOF segment, or None when data is not a well-formed JPEG."""
    if data[:3] != b"\xff\xd8\xff":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length field
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in _SOF_MARKERS:
            if i + 9 > len(data):
                return None
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            return width, height
        if marker in (0xDA, 0xD9) or length < 2:  # image data or end before any frame header
            return None
        i += 2 + length
    return None


def sniff_mime(head: bytes) -> str | None:
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "audio/x-wav"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    return None


# --------------------------------------------------------------------------------------------------
# Flood limits
# --------------------------------------------------------------------------------------------------


class FloodMeter:
    """Arrival bookkeeping for the ~1 message/s per chat and ~30 messages/s overall limits."""

    def __init__(self, per_chat_interval: float, global_per_second: int) -> None:
        self.per_chat_interval = per_chat_interval
        self.global_per_second = global_per_second
        self._last_by_chat: dict[int, float] = {}
        self._arrivals: list[float] = []  # sorted, so calls checked out of arrival order still count

    def check(self, chat_id: int, at: float, method: str, *, refused: bool) -> list[Violation]:
        found = []
        last = self._last_by_chat.get(chat_id)
        if last is not None and abs(at - last) < self.per_chat_interval:
            gap = abs(at - last)
            found.append(
                Violation(
                    "per_chat",
                    chat_id,
                    at,
                    method,
                    f"{method} {gap:.3f}s after the previous call to chat {chat_id} "
                    f"(limit: one per {self.per_chat_interval:g}s)",
                    max(1, math.ceil(self.per_chat_interval - gap)),
                    refused,
                )
            )
        lo = bisect.bisect_right(self._arrivals, at - 1.0)
        hi = bisect.bisect_right(self._arrivals, at)
        in_window = hi - lo + 1
        if in_window > self.global_per_second:
            oldest = self._arrivals[lo]
            found.append(
                Violation(
                    "global",
                    chat_id,
                    at,
                    method,
                    f"{in_window} chat calls within one second (limit: {self.global_per_second}/s)",
                    max(1, math.ceil(oldest + 1.0 - at)),
                    refused,
                )
            )
        return found

    def record(self, chat_id: int, at: float) -> None:
        self._last_by_chat[chat_id] = max(at, self._last_by_chat.get(chat_id, at))
        bisect.insort(self._arrivals, at)
        # Keep a margin beyond the window: requests are checked after their bodies were read.
        horizon = bisect.bisect_left(self._arrivals, self._arrivals[-1] - 10.0)
        del self._arrivals[:horizon]


# --------------------------------------------------------------------------------------------------
# The chat model
# --------------------------------------------------------------------------------------------------


class ChatStore:
    """Private chats, their messages in both directions, and the files the emulator issued ids for.

    It builds the Message objects exactly as the API returns them, so the server only decides *whether*
    a call may change the chat, and this class *how* the chat changes."""

    def __init__(self, bot_id: int, bot_username: str) -> None:
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.chats: dict[int, ChatInfo] = {}
        self.messages: dict[int, list[ChatMessage]] = {}
        self.index: dict[tuple[int, int], ChatMessage] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.file_counter = 0
        # Every person the emulator knows, by user id: the ChatInfo of their private chat, which is in
        # `chats` only once they opened it (a person may write in a group without ever doing so).
        self.people: dict[int, ChatInfo] = {}

    def message(self, chat_id: int, message_id: int) -> ChatMessage | None:
        """A message still in the chat (not deleted)."""
        found = self.index.get((chat_id, message_id))
        return found if found is not None and not found.deleted else None

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Music Test Bot",
            "username": self.bot_username,
        }

    def new_file(
        self, kind: str, *, size: int | None, sha256: str | None, file_name: str | None, mime_type: str | None
    ) -> StoredFile:
        self.file_counter += 1
        number = self.file_counter
        # Opaque, URL-safe and distinct per bot, like real identifiers; the prefix helps humans reading logs.
        stored = StoredFile(
            number=number,
            file_id=f"{kind[:2].upper()}{number:04d}{secrets.token_urlsafe(18)}",
            file_unique_id=f"U{number:04d}{secrets.token_urlsafe(6)}",
            kind=kind,
            size=size,
            sha256=sha256,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        self.files_by_path[stored.file_path] = stored
        return stored

    def media_api_dict(self, kind: str, stored: StoredFile, thumb: StoredFile | None = None) -> Any:
        """The Message field for the file: an object, or for a photo the list of its sizes (PhotoSize)."""
        media: dict[str, Any] = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if kind == "photo":
            size = {"width": stored.width or 0, "height": stored.height or 0, "file_size": stored.size}
            return [{**media, **size}]
        if kind in ("audio", "voice", "video"):
            media["duration"] = stored.meta.get("duration") or 0
        if kind == "video":
            media["width"], media["height"] = stored.meta.get("width") or 0, stored.meta.get("height") or 0
        if kind == "audio":
            for key in ("performer", "title"):
                if stored.meta.get(key):
                    media[key] = stored.meta[key]
        if kind != "voice" and stored.file_name:
            media["file_name"] = stored.file_name
        if stored.mime_type:
            media["mime_type"] = stored.mime_type
        if stored.size is not None:
            media["file_size"] = stored.size
        if thumb is not None:
            media["thumbnail"] = {
                "file_id": thumb.file_id,
                "file_unique_id": thumb.file_unique_id,
                "width": thumb.width,
                "height": thumb.height,
                "file_size": thumb.size,
            }
        return media

    @staticmethod
    def observed_media(
        media: dict[str, Any], stored: StoredFile, sent_by: str | None = None
    ) -> dict[str, Any]:
        return {
            **media,
            "sha256": stored.sha256,
            "path": str(stored.path) if stored.path else None,
            "source_url": stored.source_url,
            "sent_by": sent_by,  # how the bot sent it: "upload", "url" or "file_id"; None for a person's
        }

    def member_change(
        self, chat: ChatInfo, old: str, new: str, *, actor: ChatInfo | None = None
    ) -> dict[str, Any]:
        """A my_chat_member update; `actor`: who made the change in a group (in a private chat, its
        person)."""
        new_member: dict[str, Any] = {"user": self.bot_user(), "status": new}
        if new == "kicked":
            new_member["until_date"] = 0
        old_member: dict[str, Any] = {"user": self.bot_user(), "status": old}
        if old == "kicked":
            old_member["until_date"] = 0
        return {
            "chat": chat.api_dict(),
            "from": (actor or chat).user_dict(),
            "date": int(time.time()),
            "old_chat_member": old_member,
            "new_chat_member": new_member,
        }

    def user_message_raw(self, chat: ChatInfo, sender: ChatInfo | None = None) -> dict[str, Any]:
        """A person's new message in `chat`; `sender`: who wrote it in a group (a private chat's is its
        person)."""
        return {
            "message_id": chat.next_message_id,
            "from": (sender or chat).user_dict(),
            "chat": chat.api_dict(),
            "date": int(time.time()),
        }

    def add_bot_message(
        self,
        chat: ChatInfo,
        *,
        text: str,
        entities: list[dict[str, Any]],
        markup: dict[str, Any] | None,
        reply_to: ChatMessage | None,
        media_kind: MediaKind | None = None,
        media: Any = None,
        stored: StoredFile | None = None,
        sent_by: str | None = None,
        media_group_id: str | None = None,
    ) -> ChatMessage:
        raw: dict[str, Any] = {
            "message_id": chat.next_message_id,
            "from": self.bot_user(),
            "chat": chat.api_dict(),
            "date": int(time.time()),
        }
        if reply_to is not None:
            raw["reply_to_message"] = {k: v for k, v in reply_to.raw.items() if k != "reply_to_message"}
        text_key, entities_key = (
            ("text", "entities") if media_kind is None else ("caption", "caption_entities")
        )
        if media_kind is not None and media is not None:
            raw[media_kind] = media
        if media_group_id is not None:
            raw["media_group_id"] = media_group_id
        if isinstance(media, list):  # a photo's sizes: tests look at the largest
            media = media[-1]
        if text:
            raw[text_key] = text
        if entities:
            raw[entities_key] = entities
        if markup is not None and "inline_keyboard" in markup:
            raw["reply_markup"] = markup  # only inline keyboards are part of a message
        observed = (
            self.observed_media(media, stored, sent_by) if media is not None and stored is not None else None
        )
        return self.add_message(
            chat,
            raw,
            from_bot=True,
            text=text or None,
            entities=entities,
            markup=markup,
            media_kind=media_kind,
            media=observed,
        )

    def add_message(
        self,
        chat: ChatInfo,
        raw: dict[str, Any],
        *,
        from_bot: bool,
        text: str | None,
        entities: list[dict[str, Any]] | None = None,
        markup: dict[str, Any] | None = None,
        media_kind: MediaKind | None = None,
        media: dict[str, Any] | None = None,
    ) -> ChatMessage:
        message = ChatMessage(
            message_id=raw["message_id"],
            chat_id=chat.id,
            from_bot=from_bot,
            text=text,
            reply_markup=markup,
            audio=media if media_kind == "audio" else None,
            voice=media if media_kind == "voice" else None,
            document=media if media_kind == "document" else None,
            video=media if media_kind == "video" else None,
            photo=media if media_kind == "photo" else None,
            date=raw["date"],
            raw=raw,
            edits=[text or ""],
            markups=[markup],
            entities=list(entities or []),
        )
        chat.next_message_id += 1
        self.messages[chat.id].append(message)
        self.index[(chat.id, message.message_id)] = message
        return message

    def apply_edit(
        self, message: ChatMessage, text: str, entities: list[dict[str, Any]], markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        text_key, entities_key = (
            ("text", "entities") if message.kind == "text" else ("caption", "caption_entities")
        )
        new_text = text or None
        if new_text != message.text:
            message.edits.append(text)
        if markup != message.reply_markup:
            message.markups.append(markup)
        message.text, message.entities, message.reply_markup = new_text, entities, markup
        raw = message.raw
        for key, value in ((text_key, new_text), (entities_key, entities or None), ("reply_markup", markup)):
            if value is None:
                raw.pop(key, None)
            else:
                raw[key] = value
        raw["edit_date"] = int(time.time())
        return raw
